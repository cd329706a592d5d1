"""What a search did: the counts ``autoopt search`` prints and ``autoopt.search`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchResult:
    study_name: str
    storage: str
    complete: int = 0
    pruned: int = 0  # diverged trials included
    diverged: int = 0
    failed: int = 0
    retried: int = 0
    epochs_trained: float = 0.0  # learning-rate range test included
    timed_out: bool = False
    failures: list[str] = field(default_factory=list)
