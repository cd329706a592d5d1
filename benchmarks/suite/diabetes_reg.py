"""Diabetes progression (scikit-learn's diabetes data, 442 patients, 10 features): regression.

Features and target standardized with the training split's statistics; an MLP predicts
disease progression one year on. Objective: validation mean squared error (in target variances).
"""

import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import TensorDataset

epochs = 40


def datasets():
    x, y = load_diabetes(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, valid = order[:300], order[300:]
    x = (x - x[train].mean(0)) / x[train].std(0)
    y = (y - y[train].mean()) / y[train].std()
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
