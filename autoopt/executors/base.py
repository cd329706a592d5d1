"""Where trials run. The engine submits jobs and reads events; it never knows where they run.

A running trial sends a ``Report`` after each epoch and waits for ``answer(number, stop)``,
so pruning decisions are taken in one place (the engine, which alone writes to storage).
``autoopt.executors.build`` picks and builds the executor a spec asks for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autoopt.training.runner import TrialJob, TrialOutcome

if TYPE_CHECKING:
    from autoopt.training.fused.group import GroupKey


@dataclass(frozen=True)
class Report:
    number: int
    epoch: int
    value: float
    train_loss: float


@dataclass(frozen=True)
class Finished:
    number: int
    outcome: TrialOutcome


Event = Report | Finished


class Executor(ABC):
    """Runs up to ``slots`` trials at once."""

    slots: int

    @property
    def workers(self) -> int:
        """How many trials train side by side each at its own pace: ``slots``, unless several
        slots share one fused group (a search that waits for each result starts this many)."""
        return self.slots

    @abstractmethod
    def submit(self, job: TrialJob) -> None:
        """Start ``job`` in a free slot."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first."""

    @abstractmethod
    def answer(self, number: int, stop: bool) -> None:
        """Reply to trial ``number``'s last report: go on, or stop now."""

    @abstractmethod
    def close(self) -> None:
        """Stop every worker; running trials are abandoned."""

    def wanted_key(self, *, refill: bool = True) -> GroupKey | None:
        """The family and batch size the next trial should have to fill a free slot (a fused
        group's), or None: any trial will do. ``refill=False``: only slots not yet training."""
        return None

    def member_attrs(self, number: int) -> dict[str, int]:
        """What trial ``number``'s record should say of how it was trained besides its
        configuration (a fused group's id, size and batch order); {} where there is nothing."""
        return {}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
