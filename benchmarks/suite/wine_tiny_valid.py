"""Wine cultivars (scikit-learn's wine data, 178 wines, 13 chemical measurements) with a tiny validation set.

Only 30 wines are held out, so the validation loss is noisy: a configuration's value moves
with the seed as much as with its settings. One label in eight is reassigned at random (as
in hand-labelled data), so the loss has a floor well above zero and a model that fits the
training set too hard pays for it. An MLP on standardized features.
Objective: validation cross-entropy.
"""

import torch
from sklearn.datasets import load_wine
from torch import nn
from torch.utils.data import TensorDataset

epochs = 25


def datasets():
    x, y = load_wine(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    noisy = torch.rand(len(y), generator=g) < 0.125
    y = torch.where(noisy, torch.randint(0, 3, (len(y),), generator=g), y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, valid = order[:148], order[148:]
    x = (x - x[train].mean(0)) / x[train].std(0)
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 3))
