"""What to use: the configuration most likely to be best when trained again, and how sure that is.

A search's single best trial is partly luck (a good seed, a noisy validation set). The
engine re-trains the best configurations on fresh seeds; the recommendation is the
configuration with the best *mean of its re-runs* among those trained on two seeds or more
(``autoopt.engine.evidence.best_mean``: the search value it was chosen for flatters it), its
value is the mean over all its seeds, and ``value_std`` the sample standard deviation over them. Configurations
whose mean is within two standard errors of it are listed in ``tied_with``: at the measured
noise the data cannot tell them apart. Studies without confirmations fall back to the best
single trial, and say so (``confirmed`` is false).

What the trials say of each configuration (its seeds, the noise, the ties) is
``autoopt.engine.evidence``'s; this module turns it into the answer and its PyTorch line.
"""

from __future__ import annotations

import inspect
import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from autoopt.errors import UserError
from autoopt.optimizers import registry
from autoopt.outcome import Cause
from autoopt.engine.evidence import (Evidence, best_mean, gather, planned_noise, pooled_std, ties, trial_curve, trial_phase,
                              trial_role)
from autoopt.engine.phases import overfits
from autoopt.trial_config import TrialConfig
from autoopt.storage import load_existing_study, record, stored_cause

STOP_EARLY_MARGIN = 0.01  # advise stopping early when the mean curve overfits (``phases.overfits``) by more than
# this fraction of its best, or than the seed spread: the same notion of "bottoms early" as the search's


@dataclass(frozen=True)
class OptimizerSummary:
    optimizer: str
    lookahead: bool
    trials: int
    best: float | None
    median: float | None
    diverged: int = 0  # trials whose loss or value became NaN or inf
    screened: float | None = None  # its "screen" trial's value: the calibrated defaults, all epochs


@dataclass(frozen=True)
class TiedConfiguration:
    """A configuration the recommended one cannot be told apart from at the measured noise."""

    config: TrialConfig
    value: float  # its mean over its seeds
    value_std: float | None
    n_seeds: int
    trial_number: int

    @classmethod
    def of(cls, evidence: Evidence) -> TiedConfiguration:
        attrs = evidence.trial.user_attrs
        config = TrialConfig(attrs[record.OPTIMIZER], attrs[record.OPTIMIZER_KWARGS], attrs.get(record.LOOKAHEAD),
                             attrs[record.BATCH_SIZE])  # fmt: skip
        return cls(config, evidence.mean, evidence.std, evidence.n_seeds, evidence.trial.number)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.config), "value": self.value, "value_std": self.value_std, "n_seeds": self.n_seeds}


@dataclass(frozen=True)
class CurveSummary:
    """Where the mean validation curve over the seeds is best, and whether training on to the end hurts."""

    epochs: int
    best_epoch: int  # 1-based
    value_at_best_epoch: float
    value_at_end: float
    stop_early: bool


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
    confirmed_values: list[float] = field(default_factory=list)  # the search trial's value, then its confirmations'
    leaderboard: list[OptimizerSummary] = field(default_factory=list)
    tied_with: list[TiedConfiguration] = field(default_factory=list)  # best mean first
    curve: CurveSummary | None = None  # None: no trial of it recorded a curve
    noise: float | None = None  # the study's seed noise of one final value (a standard deviation), if known

    @property
    def n_seeds(self) -> int:
        return len(self.confirmed_values)

    @property
    def value_std(self) -> float | None:
        return statistics.stdev(self.confirmed_values) if self.n_seeds > 1 else None

    @property
    def confirmed(self) -> bool:
        """Whether it was trained again on at least one fresh seed."""
        return self.n_seeds > 1

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` shape, exactly."""
        keys = ("study", "optimizer", "optimizer_kwargs", "lookahead", "batch_size", "value", "direction", "n_trials",
                "value_std", "n_seeds", "confirmed")  # fmt: skip
        shape = {key: getattr(self, key) for key in keys}
        shape["tied_with"] = [tied.to_dict() for tied in self.tied_with]
        curve = self.curve
        shape["best_epoch"] = curve.best_epoch if curve else None
        shape["value_at_best_epoch"] = curve.value_at_best_epoch if curve else None
        shape["value_at_end"] = curve.value_at_end if curve else None
        shape["stop_early"] = bool(curve and curve.stop_early)
        return shape

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


def _diverged(trial: FrozenTrial) -> bool:
    # Stored pruned (a verdict on the configuration); studies from before that change stored it failed.
    return stored_cause(trial.user_attrs) is Cause.DIVERGED


def leaderboard(trials: list[FrozenTrial], maximize: bool) -> list[OptimizerSummary]:
    """Best and median value per optimizer, with and without Lookahead, how many diverged, and its screened value."""
    groups: dict[tuple[str, bool], list[FrozenTrial]] = defaultdict(list)
    for t in trials:
        if trial_role(t) == record.ROLE_SEARCH and record.OPTIMIZER in t.user_attrs:
            groups[(t.user_attrs[record.OPTIMIZER], bool(t.user_attrs.get(record.LOOKAHEAD)))].append(t)
    rows = []
    for (name, lookahead), members in groups.items():
        complete = [t for t in members if t.state == TrialState.COMPLETE]
        values = [t.value for t in complete]
        best = (max if maximize else min)(values) if values else None
        median = statistics.median(values) if values else None
        screens = [t.value for t in complete if trial_phase(t) == record.PHASE_SCREEN]  # one, unless it was retried
        screened = statistics.fmean(screens) if screens else None
        rows.append(OptimizerSummary(name, lookahead, len(members), best, median, sum(map(_diverged, members)), screened))
    worst = float("-inf") if maximize else float("inf")
    rows.sort(key=lambda r: (r.best if r.best is not None else worst) * (-1 if maximize else 1))
    return rows


def summarize_curve(evidence: Evidence, maximize: bool) -> CurveSummary | None:
    """The best epoch of the mean curve over its seeds (those that trained every epoch), and whether to stop there."""
    curves = [curve for curve in map(trial_curve, evidence.runs) if curve]
    if not curves:
        return None
    epochs = max(map(len, curves))
    curve = [statistics.fmean(values) for values in zip(*(c for c in curves if len(c) == epochs))]
    sign = -1 if maximize else 1
    best = min(range(epochs), key=lambda i: sign * curve[i])  # the first of equal bests
    margin = max(evidence.std or 0.0, STOP_EARLY_MARGIN * abs(curve[best]))
    return CurveSummary(epochs, best + 1, curve[best], curve[-1], overfits(curve, maximize, margin))


def _chosen(study_name: str, evidence: Sequence[Evidence], maximize: bool) -> Evidence:
    if not evidence:
        raise UserError(
            f"study {study_name!r} has no finished trial yet, so there is nothing to recommend. "
            "Run `autoopt search` (or let the running one finish a trial) first."
        )
    return best_mean(evidence, maximize)


def choose(study: optuna.Study) -> tuple[FrozenTrial, list[float]]:
    """The search trial of the recommended configuration (``evidence.best_mean``), and its values over its seeds."""
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    chosen = _chosen(study.study_name, gather(study.get_trials(deepcopy=False)), maximize)
    return chosen.trial, list(chosen.values)


def recommendation_of(study_name: str, trials: Sequence[FrozenTrial], *, maximize: bool,
                      study_attrs: Mapping[str, Any] | None = None) -> Recommendation:  # fmt: skip
    """The recommendation from a study's trials as read already (the dashboard's way in)."""
    evidence = gather(trials)
    chosen = _chosen(study_name, evidence, maximize)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    pooled = pooled_std(evidence, maximize)
    attrs = chosen.trial.user_attrs
    return Recommendation(
        study=study_name,
        optimizer=attrs[record.OPTIMIZER],
        optimizer_kwargs=attrs[record.OPTIMIZER_KWARGS],
        lookahead=attrs.get(record.LOOKAHEAD),
        batch_size=attrs[record.BATCH_SIZE],
        value=chosen.mean,
        direction="maximize" if maximize else "minimize",
        n_trials=len(finished),
        trial_number=chosen.trial.number,
        confirmed_values=list(chosen.values),
        leaderboard=leaderboard(finished, maximize),
        tied_with=[TiedConfiguration.of(e) for e in ties(chosen, evidence, maximize)],
        curve=summarize_curve(chosen, maximize),
        noise=pooled if pooled is not None else planned_noise(study_attrs or {}),
    )


def recommendation_for(study: optuna.Study) -> Recommendation:
    """The recommendation for a study loaded already."""
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return recommendation_of(study.study_name, study.get_trials(deepcopy=False), maximize=maximize,
                             study_attrs=study.user_attrs)  # fmt: skip


def recommend(study_name: str, storage: str) -> Recommendation:
    """The recommendation for ``study_name`` in ``storage`` (a URL); reading it creates nothing."""
    return recommendation_for(load_existing_study(study_name, storage))


def to_json(rec: Recommendation) -> str:
    return json.dumps(rec.to_dict(), indent=2)
