"""Diabetes progression (scikit-learn's diabetes regression set, 442 patients, shipped with the package).

A small MLP regressor on standardized features; autoopt minimizes validation MSE.
"""

import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import TensorDataset

epochs = 30
metric_name = "mse"


def datasets():
    x, y = load_diabetes(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, valid = order[:340], order[340:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 1))
