"""How a trial ended: its state, and why, as a value the search decides by.

This sits below both the search and the training and imports nothing of autoopt: the
runner and the executors say what happened where they know it, the search's failure
policy reads ``Cause``. Reasons are one readable line for people; nothing parses them,
except ``autoopt.storage.record.stored_cause`` for trials that studies stored before the
cause had its own user attr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

COMPLETE, PRUNED, FAIL = "complete", "pruned", "fail"
DIVERGED_REASON = "diverged"  # how the reason of a trial whose loss or value became NaN or inf begins
INTERRUPTED_REASON = "interrupted"  # how the reason of a trial the search stopped (timeout, Ctrl-C) begins


class Cause(str, Enum):
    """Why a trial ended; stored as its value in the trial's ``cause`` user attr."""

    COMPLETED = "completed"
    PRUNED = "pruned"  # stopped early by the pruner
    DIVERGED = "diverged"  # its loss or value became NaN or inf: a verdict on the configuration
    OUT_OF_MEMORY = "out_of_memory"
    USER_ERROR = "user_error"  # the model file raised
    INFRASTRUCTURE = "infrastructure"  # its process, heartbeat or Ray node was lost: retried
    TIMEOUT = "timeout"  # over the per-trial limit
    INTERRUPTED = "interrupted"  # the search stopped it (its --timeout, Ctrl-C): no verdict


@dataclass(frozen=True)
class Failure:
    """Why a fused member could not go on: what its ``TrialOutcome`` will say."""

    cause: Cause
    reason: str


# What a trial without a cause of its own ended as, by state alone.
_BY_STATE = {COMPLETE: Cause.COMPLETED, PRUNED: Cause.PRUNED, FAIL: Cause.USER_ERROR}


@dataclass
class TrialOutcome:
    state: str
    value: float | None = None
    curve: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    reason: str | None = None  # for people
    wall_time_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    cause: Cause | None = None  # None: what ``state`` alone says (a fail is the model file's)

    def __post_init__(self) -> None:
        if self.cause is None:
            self.cause = _BY_STATE[self.state]
