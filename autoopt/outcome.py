"""How a trial ended: its state, and why, as a value the search decides by.

This sits below both the search and the training (it imports only ``autoopt.record``):
the runner and the executors say what happened where they know it, the search's failure
policy reads ``Cause``. Reasons are one readable line for people; nothing parses them,
except ``stored_cause`` for trials that studies stored before the cause had its own
user attr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from autoopt.storage import record

COMPLETE, PRUNED, FAIL = "complete", "pruned", "fail"


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


# How reasons began before the cause was stored (read only to classify those old trials).
_LEGACY_PREFIXES = (
    ("worker process died", Cause.INFRASTRUCTURE),
    ("stale:", Cause.INFRASTRUCTURE),
    ("ray node/actor died", Cause.INFRASTRUCTURE),
    ("out of memory", Cause.OUT_OF_MEMORY),
    (record.DIVERGED, Cause.DIVERGED),
    (record.INTERRUPTED, Cause.INTERRUPTED),
    ("timeout:", Cause.TIMEOUT),
)


def stored_cause(user_attrs: Mapping[str, Any]) -> Cause | None:
    """The cause a stored trial ended with: its ``cause`` attr, else (older studies) what its
    reason began with; None for a trial with neither (complete, or still running)."""
    value = user_attrs.get(record.CAUSE)
    if value is not None:
        try:
            return Cause(value)
        except ValueError:
            pass  # written by a newer autoopt: judge it by its reason
    reason = user_attrs.get(record.FAIL_REASON) or user_attrs.get(record.PRUNE_REASON)
    if reason is None:
        return None
    text = str(reason)
    for prefix, cause in _LEGACY_PREFIXES:
        if text.startswith(prefix):
            return cause
    return Cause.USER_ERROR if record.FAIL_REASON in user_attrs else Cause.PRUNED
