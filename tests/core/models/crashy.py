"""The blobs classifier, whose forward pass has a bug that only batches of 16 hit."""

from blobs import datasets  # noqa: F401 - the model file's neighbours are importable
from torch import nn

epochs = 2


class Buggy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        if x.shape[0] == 16:
            raise ValueError("a batch of 16 reached the buggy branch")
        return self.net(x)


def build_model():
    return Buggy()
