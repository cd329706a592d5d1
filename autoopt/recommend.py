"""What to use: the configuration most likely to be best when trained again.

A search's single best trial is partly luck (a good seed, a noisy validation set). The
engine re-trains the best few configurations on fresh seeds; the recommendation is the
configuration with the best *mean* over its original run and those confirmations, and its
value is that mean. Studies without confirmations fall back to the best trial, and say so.
"""

from __future__ import annotations

import inspect
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from autoopt import record
from autoopt.errors import UserError
from autoopt.optimizers import registry
from autoopt.storage import open_storage, require_study


@dataclass(frozen=True)
class OptimizerSummary:
    optimizer: str
    lookahead: bool
    trials: int
    best: float | None
    median: float | None
    diverged: int = 0  # trials whose loss or value became NaN or inf


@dataclass(frozen=True)
class Recommendation:
    study: str
    optimizer: str
    optimizer_kwargs: dict[str, Any]
    lookahead: dict[str, Any] | None
    batch_size: int
    value: float
    direction: str
    n_trials: int
    trial_number: int
    confirmed_values: list[float] = field(default_factory=list)
    leaderboard: list[OptimizerSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` shape, exactly."""
        keys = ("study", "optimizer", "optimizer_kwargs", "lookahead", "batch_size", "value", "direction", "n_trials")
        return {key: getattr(self, key) for key in keys}

    def pytorch_line(self) -> str:
        """A line to paste, e.g. ``torch.optim.AdamW(model.parameters(), lr=0.003)``."""
        info = registry.get(self.optimizer)
        signature = inspect.signature(info.factory)
        args = ["model.parameters()"]
        for key, value in self.optimizer_kwargs.items():
            value = tuple(value) if isinstance(value, list) else value
            parameter = signature.parameters.get(key)
            if parameter is not None and parameter.default is not inspect.Parameter.empty and parameter.default == value:
                continue
            args.append(f"{key}={_literal(value)}")
        line = f"{_qualified_name(info.factory)}({', '.join(args)})"
        if self.lookahead:
            line = f"autoopt.optimizers.Lookahead({line}, k={self.lookahead['k']}, alpha={_literal(self.lookahead['alpha'])})"
        return line


def _literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    return repr(value)


def _qualified_name(factory: Any) -> str:
    name = factory.__name__
    if getattr(torch.optim, name, None) is factory:
        return f"torch.optim.{name}"
    if factory.__module__.startswith("autoopt.optimizers"):
        return f"autoopt.optimizers.{name}"
    return f"{factory.__module__}.{name}"


def _role(trial: FrozenTrial) -> str:
    return trial.user_attrs.get(record.ROLE, record.ROLE_SEARCH)


def _diverged(trial: FrozenTrial) -> bool:
    # Stored pruned (a verdict on the configuration); studies from before that change stored it failed.
    reason = trial.user_attrs.get(record.PRUNE_REASON) or trial.user_attrs.get(record.FAIL_REASON) or ""
    return record.diverged(reason)


def leaderboard(trials: list[FrozenTrial], maximize: bool) -> list[OptimizerSummary]:
    """Best and median value per optimizer, with and without Lookahead, and how many diverged (search trials)."""
    groups: dict[tuple[str, bool], list[FrozenTrial]] = defaultdict(list)
    for t in trials:
        if _role(t) == record.ROLE_SEARCH and record.OPTIMIZER in t.user_attrs:
            groups[(t.user_attrs[record.OPTIMIZER], bool(t.user_attrs.get(record.LOOKAHEAD)))].append(t)
    rows = []
    for (name, lookahead), members in groups.items():
        values = [t.value for t in members if t.state == TrialState.COMPLETE]
        best = (max if maximize else min)(values) if values else None
        median = statistics.median(values) if values else None
        rows.append(OptimizerSummary(name, lookahead, len(members), best, median, sum(map(_diverged, members))))
    worst = float("-inf") if maximize else float("inf")
    rows.sort(key=lambda r: (r.best if r.best is not None else worst) * (-1 if maximize else 1))
    return rows


def choose(study: optuna.Study) -> tuple[FrozenTrial, list[float]]:
    """The search trial whose configuration has the best mean over its confirmations."""
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    search = [t for t in complete if _role(t) == record.ROLE_SEARCH]
    if not search:
        raise UserError(
            f"study {study.study_name!r} has no finished trial yet, so there is nothing to recommend. "
            "Run `autoopt search` (or let the running one finish a trial) first."
        )
    confirms: dict[int, list[float]] = defaultdict(list)
    for t in complete:
        if _role(t) == record.ROLE_CONFIRM:
            confirms[t.user_attrs[record.CONFIRM_OF]].append(t.value)
    sign = -1 if maximize else 1
    confirmed = [(statistics.fmean([t.value, *confirms[t.number]]), t) for t in search if confirms.get(t.number)]
    if confirmed:
        _, best = min(confirmed, key=lambda pair: sign * pair[0])
        return best, [best.value, *confirms[best.number]]
    best = min(search, key=lambda t: sign * t.value)
    return best, [best.value]


def recommend(study_name: str, storage: str) -> Recommendation:
    """The recommendation for ``study_name`` in ``storage`` (a URL)."""
    study = require_study(open_storage(storage), study_name, storage)
    best, values = choose(study)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    attrs = best.user_attrs
    return Recommendation(
        study=study_name,
        optimizer=attrs[record.OPTIMIZER],
        optimizer_kwargs=attrs[record.OPTIMIZER_KWARGS],
        lookahead=attrs.get(record.LOOKAHEAD),
        batch_size=attrs[record.BATCH_SIZE],
        value=statistics.fmean(values),
        direction="maximize" if maximize else "minimize",
        n_trials=len(finished),
        trial_number=best.number,
        confirmed_values=values,
        leaderboard=leaderboard(finished, maximize),
    )


def to_json(rec: Recommendation) -> str:
    return json.dumps(rec.to_dict(), indent=2)
