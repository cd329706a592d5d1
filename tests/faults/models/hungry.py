"""A regressor whose forward pass runs out of memory (MemoryError) above 32 items a batch,
as a GPU would above some batch size."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 2
MEMORY_LIMIT = 32


class Hungry(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)

    def forward(self, x):
        if self.training and x.shape[0] > MEMORY_LIMIT:
            raise MemoryError(f"cannot allocate activations for {x.shape[0]} items")
        return self.net(x)


def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return TensorDataset(x[:128], y[:128]), TensorDataset(x[128:], y[128:])


def build_model():
    return Hungry()
