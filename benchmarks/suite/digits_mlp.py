"""Handwritten digits (scikit-learn's 8x8 digits, 1,797 images) with an MLP.

A two-hidden-layer MLP on the flattened, scaled pixels. Objective: validation cross-entropy.
"""

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import TensorDataset

epochs = 20


def datasets():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    train, valid = order[:400], order[400:900]
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
