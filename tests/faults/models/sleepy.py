"""A bring-your-own-loop trial that takes ~0.4 s an epoch and leaves its process id behind,
so a fault test can kill the very process that runs a given trial."""

import os
import time
from pathlib import Path

epochs = 4


def train(trial):
    marks = os.environ.get("AUTOOPT_FAULT_MARKS")
    if marks:
        Path(marks, f"{trial.number}.pid").write_text(str(os.getpid()))
    value = 1.0 + abs(float(trial.config.optimizer_kwargs.get("lr", 0.01)) - 0.01)
    for epoch in range(1, trial.epochs + 1):
        time.sleep(float(os.environ.get("AUTOOPT_FAULT_EPOCH_S", "0.4")))
        trial.report(value / epoch)
    return value / trial.epochs
