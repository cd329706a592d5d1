"""The blobs classifier, whose batch size chooses how its trials end, so that one model file
gives every ending under every executor. Each branch reads only the batch's shape and the
module's own step count, which vmap leaves as they are, so fused groups qualify too (the
fusion check trains one step at batch size 8, which none of these hit).

- 16: the forward pass raises ValueError (a bug in user code)
- 24: the output, hence the loss, is NaN (the trial diverges)
- 12: each step takes 100 ms, 1.6 s an epoch (over a short --trial-timeout, with room for
  a loaded machine to finish the other trials inside it)
- 64: runs out of memory in its second epoch (torch.OutOfMemoryError, as CUDA raises it)
- any other size trains normally
"""

import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 2
TRAIN = 192  # every batch size above divides it: no short last batch takes another branch


def datasets():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=g) * 2
    y = torch.randint(0, 3, (TRAIN + 48,), generator=g)
    x = centres[y] + torch.randn(TRAIN + 48, 8, generator=g)
    return TensorDataset(x[:TRAIN], y[:TRAIN]), TensorDataset(x[TRAIN:], y[TRAIN:])


class Fated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        self.steps = 0  # training forward passes of this module (a fused group's: of its shared template)

    def forward(self, x):
        if self.training:
            self.steps += 1
            size = x.shape[0]
            if size == 16:
                raise ValueError("a batch of 16 reached the buggy branch")
            if size == 24:
                return self.net(x) * float("nan")
            if size == 12:
                time.sleep(0.1)
            if size == 64 and self.steps > TRAIN // 64 + 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def build_model():
    return Fated()
