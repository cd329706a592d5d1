"""Every trial's loss is NaN, as with a bug in the loss function."""

import math

epochs = 2


def train(trial):
    trial.report(math.nan)
