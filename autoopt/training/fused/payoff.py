"""Does fusing pay for this model on this machine, and at which group sizes? Measured, not assumed.

A fused step of K members costs a fixed part (``torch.func``'s dispatch: on the small models
of our suite on CPU, a group of one costs 1.5 to 3 plain steps) plus each member's share of
the arithmetic, which vmap batches well up to some K and then no better than a loop (wide
layers fall out of cache: on one suite task 4 members cost 2.8 plain steps, 8 members 8.1).
So ``--fuse auto`` times a few steps of one trial alone and of groups of 2, 4, 8 and 16
(half a second to a second on the suite's tasks; not at all where the screen would train
for less than ``WORTH_MEASURING_S`` alone: fusing cannot save enough there) and takes: groups of the
size that trains a member cheapest, and none smaller than the least size that beats one at a
time by ``GAIN`` (fewer members than that train one at a time). On a GPU the fixed part is
the launch overhead and every size pays.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from autoopt.training.data import Data
from autoopt.training.fused.group import FusedGroup, GroupKey
from autoopt.optimizers import build
from autoopt.training.runner import TrialJob, build_seeded, default_loss
from autoopt.training.task import Task
from autoopt.trial_config import TrialConfig

GAIN = 1.25  # a group must train its members at least this much faster than one at a time
MIN_STEPS, MIN_SECONDS = 4, 0.02  # one timing: at least this many steps and seconds (after one untimed step)
REPEATS = 5  # timings per size; their median counts
# Groups are not measured (nor used) for a screen that takes less than this alone. On the
# search-quality suite (benchmarks/regret.py, CPU, screens of 1 to 5 s alone) fusing saved at
# most a few tenths of a second a search while measuring cost 0.5 to 1 s: the first search of
# a process came out up to 2x slower fused. Larger screens, and any GPU, are where it pays.
WORTH_MEASURING_S = 10.0


def _median_step_s(run: Callable[[], None], device: torch.device) -> float:
    """Seconds per call of ``run``: the median of ``REPEATS`` runs of at least ``MIN_STEPS`` calls
    and ``MIN_SECONDS`` each (a busy two-core machine jitters by milliseconds)."""
    run()  # untimed: first-call costs (vmap tracing, allocations)
    times = []
    for _ in range(REPEATS):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, steps = time.perf_counter(), 0
        while steps < MIN_STEPS or time.perf_counter() - start < MIN_SECONDS:
            run()
            steps += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def _plain_step(task: Task, data: Data, config: TrialConfig, device: torch.device) -> Callable[[], None]:
    """One step of ``runner._train``'s loop: zero the gradients, forward, backward, step."""
    model = build_seeded(task, 0, device)
    optimizer = build(model.parameters(), config.optimizer, config.optimizer_kwargs)
    loss_fn = task.loss_fn or default_loss
    inputs, targets = next(data.train.batches(config.batch_size, generator=torch.Generator().manual_seed(0)))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.item()  # the runner reads each step's loss
        loss.backward()
        optimizer.step()

    return step


def _fused_step(task: Task, data: Data, config: TrialConfig, size: int, device: torch.device) -> Callable[[], None]:
    """One step of a group of ``size`` members, as ``FusedGroup.train_epoch`` takes it."""
    group = FusedGroup(task, data, device, GroupKey(config.optimizer, config.batch_size, False))
    for number in range(size):
        group.add(TrialJob(number, config, number, 1))
    inputs, targets, _ = next(data.train.member_batches(config.batch_size, group.orders))
    return lambda: group.step(inputs, targets)


@dataclass(frozen=True)
class Payoff:
    """Group sizes that pay: at least ``least`` members, at most ``size``."""

    least: int
    size: int


SIZES = (2, 4, 8, 16, 32, 64)


_MEASURED: dict[tuple[str, str, int, int, int], Payoff | None] = {}


def members_that_pay(task: Task, data: Data, device: torch.device, batch_size: int, most: int,
                     epochs_together: int) -> Payoff | None:  # fmt: skip
    """The group sizes (up to ``most``) whose members train at least ``GAIN`` times faster than
    one at a time; None when no size does, or when the ``epochs_together`` that groups would
    train (the screen's) take too little time alone for any saving to repay the measuring
    (``WORTH_MEASURING_S``). Measured once per model file, device and batch size in a process,
    so that searches with one seed in one process train alike."""
    key = (str(task.path), str(device), batch_size, most, epochs_together)
    if key not in _MEASURED:
        _MEASURED[key] = _measure(task, data, device, batch_size, most, epochs_together)
    return _MEASURED[key]


def _measure(task: Task, data: Data, device: torch.device, batch_size: int, most: int,
             epochs_together: int) -> Payoff | None:  # fmt: skip
    config = TrialConfig("adam", {"lr": 1e-3}, None, batch_size)
    one = _median_step_s(_plain_step(task, data, config, device), device)
    if one * epochs_together * math.ceil(len(data.train) / batch_size) < WORTH_MEASURING_S:
        return None
    per_member = {k: _median_step_s(_fused_step(task, data, config, k, device), device) / k for k in SIZES if k <= most}
    return choose(one, per_member)


def choose(one: float, per_member: dict[int, float]) -> Payoff | None:
    """From a step's time alone and a member's share of a group's step at each size: groups of
    the size that trains a member cheapest, at least the least size that beats alone by ``GAIN``.

    >>> choose(1.0, {2: 1.4, 4: 0.7, 8: 0.5, 16: 0.9})
    Payoff(least=4, size=8)
    >>> choose(1.0, {2: 1.1, 4: 0.9}) is None
    True
    """
    paying = [k for k, cost in per_member.items() if cost * GAIN <= one]
    if not paying:
        return None
    return Payoff(least=min(paying), size=min(paying, key=lambda k: (per_member[k], k)))
