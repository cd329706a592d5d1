"""One fused group's training as the executors drive it: a member's failure is a reason, never an exception.

``GroupTrainer`` trains a ``FusedGroup`` in this process; the fused executor calls it from a
thread of the search, the Ray fused executor from an actor on the cluster, with the same
calls and the same results (``Epoch``), so both report the same reasons for the same faults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from autoopt.training.data import Data
from autoopt.training.fused.group import FusedGroup, GroupKey
from autoopt.outcome import Failure
from autoopt.training.runner import TrialJob, environment, user_code_failure
from autoopt.training.task import Task


@dataclass(frozen=True)
class Epoch:
    """One epoch of a group: each member's mean training loss and validation value, in member order."""

    losses: list[float]
    values: list[float]
    failure: Failure | None = None  # set when the whole epoch failed: every member fails with it

    @classmethod
    def failed(cls, members: int, failure: Failure) -> Epoch:
        return cls([math.nan] * members, [math.nan] * members, failure)


class Trainer(Protocol):
    """What the fused executors drive: a ``GroupTrainer`` here, or its twin on a Ray actor."""

    env: dict[str, str]  # where the members train, for their records

    def add(self, job: TrialJob) -> Failure | None: ...

    def step(self) -> Epoch: ...

    def keep(self, numbers: list[int]) -> None: ...


class GroupTrainer:
    """A group trained here: members join with ``add``, train with ``step``, leave with ``keep``."""

    def __init__(self, task: Task, data: Data, device: torch.device, key: GroupKey) -> None:
        self.group = FusedGroup(task, data, device, key)
        self.env = environment(device)

    def add(self, job: TrialJob) -> Failure | None:
        """Add ``job`` as a member; why it could not join (its ``build_model`` raised), or None."""
        try:
            self.group.add(job)
        except Exception as exc:  # noqa: BLE001 - the user's build_model, reported on its trial
            return user_code_failure(exc, job.config.batch_size)
        return None

    def step(self) -> Epoch:
        """Train every member one epoch and evaluate it; an error fails the epoch of all, classed as
        ``run_trial`` classes it for one trial (out of memory, or a user error with where it was raised)."""
        try:
            losses = self.group.train_epoch()
            return Epoch(losses, self.group.evaluate())
        except Exception as exc:  # noqa: BLE001 - a failing group fails its members, not the search
            return Epoch.failed(len(self.group), user_code_failure(exc, self.group.key.batch_size))

    def keep(self, numbers: list[int]) -> None:
        """Keep training only the members whose trial numbers are in ``numbers``."""
        self.group.keep([i for i, job in enumerate(self.group.jobs) if job.number in numbers])
