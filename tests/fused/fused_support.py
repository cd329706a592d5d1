"""Shared pieces of the fused-trials suite: a tiny task, its data, and training a member alone.

A module of its own (not conftest): with several test folders, `from conftest import` is ambiguous."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from autoopt.training.data import Data, load_data
from autoopt.optimizers import build
from autoopt.training.runner import TrialJob, default_loss
from autoopt.trial_config import TrialConfig
from autoopt.training.task import Task


def make_task(build_model=None, **fields) -> Task:
    build_model = build_model or (lambda: nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)))
    defaults = {"datasets": None, "loss_fn": None, "metric": None, "direction": "minimize", "epochs": None, "train": None}
    return Task(path=Path("tiny.py"), build_model=build_model, **{**defaults, **fields})


def make_data(n: int = 96) -> Data:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return load_data((TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])), Path("tiny.py"))


def job(number: int, optimizer: str, kwargs: dict, *, lookahead: dict | None = None, batch_size: int = 16,
        seed: int | None = None, epochs: int = 2) -> TrialJob:  # fmt: skip
    return TrialJob(number, TrialConfig(optimizer, kwargs, lookahead, batch_size), 100 + number if seed is None else seed, epochs)


def train_alone(task: Task, data: Data, trial: TrialJob, *, epochs: int) -> torch.Tensor:
    """The member's configuration trained by itself with torch.optim (or Lion / Lookahead), its
    weights and batch order drawn from its own seed as an unfused trial draws them."""
    torch.manual_seed(trial.seed)
    model = task.build_model()
    optimizer = build(model.parameters(), trial.config.optimizer, trial.config.optimizer_kwargs,
                      lookahead=trial.config.lookahead)  # fmt: skip
    order = torch.Generator().manual_seed(trial.seed)
    for _ in range(epochs):
        for inputs, targets in data.train.batches(trial.config.batch_size, generator=order):
            optimizer.zero_grad()
            default_loss(model(inputs), targets).backward()
            optimizer.step()
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()
