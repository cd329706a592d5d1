"""Each trial fails its own way, chosen by its optimizer: NaN loss (sgd), an exception in
user code (adagrad), a parameter gone to inf (rmsprop); adam trials complete."""

import math

epochs = 2


def train(trial):
    name = trial.config.optimizer
    if name == "sgd":
        trial.report(math.nan)
    if name == "adagrad":
        raise KeyError("a bug in the user's training loop")
    if name == "rmsprop":
        return math.inf
    trial.report(0.5)
    return 0.5
