"""Lookahead (Zhang et al. 2019). Placeholder version; see issue #3 for the full one."""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class Lookahead(Optimizer):
    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5):
        self.optimizer = optimizer
        self.k, self.alpha = k, alpha
        self.param_groups = optimizer.param_groups
        self.defaults = optimizer.defaults
        self.state = optimizer.state
        self._steps = 0
        self._slow = [p.detach().clone() for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            for p, slow in zip((p for g in self.param_groups for p in g["params"]), self._slow):
                slow.add_(p - slow, alpha=self.alpha)
                p.copy_(slow)
        return loss
