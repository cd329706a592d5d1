"""Handwritten digits (scikit-learn's 8x8 digits, 1,797 images, shipped with the package).

A small MLP classifier; autoopt maximizes validation accuracy.
"""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import TensorDataset

epochs = 12
direction = "maximize"
metric_name = "accuracy"


def datasets():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, valid = order[:1300], order[1300:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def metric(output, target):
    """Accuracy."""
    return (output.argmax(dim=1) == target).float().mean()
