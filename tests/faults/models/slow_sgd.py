"""A bring-your-own-loop trial: SGD's epochs take 0.4 s, every other optimizer's no time,
so a per-trial time limit stops exactly the SGD trials."""

import time

epochs = 3


def train(trial):
    for epoch in range(1, trial.epochs + 1):
        if trial.config.optimizer == "sgd":
            time.sleep(0.4)
        trial.report(1.0 / epoch)
    return 1.0 / trial.epochs
