"""Handwritten digits (scikit-learn's 8x8 digits) as 1x8x8 images, with a small CNN.

Two 3x3 convolutions and a max-pool, then a linear classifier. Objective: validation cross-entropy.
"""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import TensorDataset

epochs = 15


def datasets():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(2))
    train, valid = order[:400], order[400:900]
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip
