"""What a study holds, counted one way for every screen: ``autoopt studies`` (table and JSON), the report, the dashboard.

A search trial (screens included) that finished with a value is *complete*; a confirmation
run that did is a *confirmation*, counted apart because it re-trains a configuration on a
fresh seed rather than trying a new one. *Queued* trials are retries the search put in
the queue and had not started when it stopped; the next search on the study runs them.
The *leading optimizer* is the recommendation's (``autoopt.engine.recommend``), never a best
single trial.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autoopt.errors import UserError
from autoopt.engine.recommend import Recommendation, recommendation_of
from autoopt.storage import record


@dataclass(frozen=True)
class TrialCounts:
    complete: int = 0  # search trials with a value
    confirmations: int = 0  # confirmation runs with a value
    pruned: int = 0
    failed: int = 0
    running: int = 0
    queued: int = 0  # WAITING: queued retries not started yet

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def shown(self) -> list[tuple[str, int]]:
        """The non-zero counts in reading order, e.g. ``[("complete", 3), ("confirmations", 6)]``."""
        return [(name, n) for name, n in asdict(self).items() if n]

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def count_trials(trials: Iterable[FrozenTrial]) -> TrialCounts:
    """Trials by what they are: complete search trials, confirmations, pruned, failed, running, queued."""
    counts = dict.fromkeys(("complete", "confirmations", "pruned", "failed", "running", "queued"), 0)
    for t in trials:
        if t.state == TrialState.COMPLETE:
            confirm = t.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_CONFIRM
            counts["confirmations" if confirm else "complete"] += 1
        elif t.state == TrialState.PRUNED:
            counts["pruned"] += 1
        elif t.state == TrialState.FAIL:
            counts["failed"] += 1
        elif t.state == TrialState.RUNNING:
            counts["running"] += 1
        elif t.state == TrialState.WAITING:
            counts["queued"] += 1
    return TrialCounts(**counts)


@dataclass(frozen=True)
class StudySummary:
    """One study as every list of studies shows it."""

    name: str
    direction: str  # "maximize", "minimize", or "2 objectives"
    counts: TrialCounts
    recommendation: Recommendation | None  # None: no finished trial, several objectives, or a foreign study
    no_recommendation: str = ""  # why there is none

    @property
    def leader(self) -> str | None:
        """The leading optimizer: the recommendation's."""
        return self.recommendation.optimizer if self.recommendation else None

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return {"study": self.name, "direction": self.direction, **self.counts.to_dict(), "leader": self.leader,
                "leader_value": rec.value if rec else None}  # fmt: skip


def study_recommendation(name: str, trials: Sequence[FrozenTrial], *, maximize: bool,
                         attrs: Mapping[str, Any]) -> tuple[Recommendation | None, str]:  # fmt: skip
    """``autoopt recommend``'s answer from trials read already, or None and why there is none."""
    try:
        return recommendation_of(name, trials, maximize=maximize, study_attrs=attrs), ""
    except UserError as error:
        return None, str(error)
    except KeyError as error:  # a study another program wrote, without autoopt's attributes
        return None, f"Its best trial lacks autoopt's attribute {error}: was the study written by `autoopt search`?"


def summarize_study(name: str, trials: Sequence[FrozenTrial], directions: Sequence[str],
                    attrs: Mapping[str, Any]) -> StudySummary:  # fmt: skip
    """The counts and the leading optimizer of one study; ``directions`` as lower-case names."""
    counts = count_trials(trials)
    if len(directions) != 1:
        return StudySummary(name, f"{len(directions)} objectives", counts, None, "several objectives")
    rec, why = study_recommendation(name, trials, maximize=directions[0] == "maximize", attrs=attrs)
    return StudySummary(name, directions[0], counts, rec, why)
