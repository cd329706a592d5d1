"""A learning-rate range test before the first trial, so warm starts begin at a sensible scale.

Published default learning rates are tuned for long runs on typical problems; for a given
model, data and epoch count the best rate is often several times higher or lower, and
every optimizer tends to be off by about the same factor (their defaults are calibrated
against one another). So one short test, with the first warm-start optimizer, measures
that factor, and every warm-start trial starts at its optimizer's default times it.

The test is Smith's (2017, "Cyclical Learning Rates", section 3.3), as in fastai's and
PyTorch Lightning's ``lr_find``: train a fresh model for one epoch's worth of steps (30 to
100) while the rate grows exponentially from 1/1000 to 1000 times the default; the
suggestion is a tenth of the rate where the smoothed training loss was lowest. It stops
early once the loss has clearly diverged. Its cost, in epochs, counts toward the
search's ``--epoch-budget`` and is stored on the study (``lr_range_test``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from autoopt.training.data import Data
from autoopt.optimizers import build
from autoopt.training.runner import build_seeded, default_loss
from autoopt.training.task import Task

MIN_STEPS, MAX_STEPS = 30, 100
SPAN = 1e3  # the test sweeps default / SPAN .. default * SPAN
SMOOTHING = 0.8  # exponential moving average of the loss, bias-corrected
DIVERGED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum
FACTOR_LIMITS = (0.1, 10.0)  # how far a warm start may move from the published default


@dataclass
class RangeTest:
    """What the test saw and suggests; ``factor`` scales every warm start's default learning rate."""

    optimizer: str
    batch_size: int
    default_lr: float
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # smoothed
    suggested_lr: float | None = None
    factor: float = 1.0
    epochs: float = 0.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def steps_for(train_size: int, batch_size: int) -> int:
    """One epoch of steps, at least MIN_STEPS (a usable curve), at most MAX_STEPS (cheap)."""
    return max(MIN_STEPS, min(MAX_STEPS, math.ceil(train_size / batch_size)))


def lr_range_test(task: Task, data: Data, device: torch.device, optimizer: str, kwargs: dict[str, object],
                  batch_size: int, seed: int) -> RangeTest:  # fmt: skip
    """Run the test with ``optimizer`` built from ``kwargs`` (its defaults, ``lr`` among them)."""
    default_lr = float(kwargs["lr"])  # type: ignore[arg-type]
    test = RangeTest(optimizer, batch_size, default_lr)
    steps = steps_for(len(data.train), batch_size)
    model = build_seeded(task, seed, device)
    opt = build(model.parameters(), optimizer, {**kwargs, "lr": default_lr / SPAN})
    loss_fn = task.loss_fn or default_loss
    order = torch.Generator().manual_seed(seed)
    batches = iter(())
    average, lowest = 0.0, math.inf
    model.train()
    for step in range(steps):
        try:
            inputs, targets = next(batches)
        except StopIteration:
            batches = data.train.batches(batch_size, generator=order)
            inputs, targets = next(batches)
        lr = default_lr / SPAN * (SPAN * SPAN) ** (step / (steps - 1))
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        value = loss.item()
        test.epochs += len(targets) / len(data.train)
        if not math.isfinite(value):
            break
        loss.backward()
        opt.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        smoothed = average / (1 - SMOOTHING ** (step + 1))
        test.lrs.append(lr)
        test.losses.append(smoothed)
        if smoothed > DIVERGED * lowest:
            break
        lowest = min(lowest, smoothed)
    if len(test.losses) >= 3:
        at_lowest = test.lrs[min(range(len(test.losses)), key=test.losses.__getitem__)]
        test.suggested_lr = at_lowest / 10
        low, high = FACTOR_LIMITS
        test.factor = min(max(test.suggested_lr / default_lr, low), high)
    return test


__all__ = ["RangeTest", "lr_range_test", "steps_for"]
