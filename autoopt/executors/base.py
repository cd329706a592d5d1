"""Where trials run. The engine submits jobs and reads events; it never knows where they run.

A running trial sends a ``Report`` after each epoch and waits for ``answer(number, stop)``,
so pruning decisions are taken in one place (the engine, which alone writes to storage).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from autoopt.runner import TrialJob, TrialOutcome


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

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
