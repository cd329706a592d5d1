"""Breast cancer diagnosis (scikit-learn's Wisconsin data, 569 tumours, 30 features).

A wide MLP trained on a small split (120 tumours), judged on the rest: it overfits within a
few epochs at common learning rates, so the validation loss at the last epoch rewards
configurations that do not run past the bottom. Objective: validation cross-entropy.
"""

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn
from torch.utils.data import TensorDataset

epochs = 30


def datasets():
    x, y = load_breast_cancer(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, valid = order[:120], order[120:]
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / std
    return TensorDataset(x[train], y[train]), TensorDataset(x[valid], y[valid])


def build_model():
    return nn.Sequential(nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
