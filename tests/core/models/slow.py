"""The blobs classifier, slowed down so that a test can kill the search in the middle of a trial."""

import time

from blobs import build_model as fast_model
from blobs import datasets  # noqa: F401
from torch import nn

epochs = 20


class Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = fast_model()

    def forward(self, x):
        time.sleep(0.02)
        return self.net(x)


def build_model():
    return Slow()
