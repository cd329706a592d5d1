"""A noisy line: a regressor whose MSE explodes to inf/nan under a huge learning rate."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 3


def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(240, 1, generator=g)
    return TensorDataset(x[:200], y[:200]), TensorDataset(x[200:], y[200:])


def build_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
