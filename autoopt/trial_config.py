"""What one trial trains with. Like ``autoopt.outcome`` (how it ended), this sits below both
the search, which chooses it, and the training, which runs it, and imports nothing of autoopt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialConfig:
    """What one trial trains with: the recommendation's shape."""

    optimizer: str
    optimizer_kwargs: dict[str, Any]
    lookahead: dict[str, Any] | None
    batch_size: int
