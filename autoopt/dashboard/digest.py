"""Aggregate a study's trials on the server into what the pages draw.

Browsers never receive raw trials: they get one leaderboard row per optimizer, one point
per finished search trial for the learning-rate picture, quartiles per batch size, the
curves of each optimizer's best trial, and one page of pruned and failed trials. Stored
attributes are read defensively: a trial's user attributes are data written by other
programs, so a missing or odd value becomes "unknown" instead of an error.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.errors import UserError
from autoopt.engine.evidence import finite, planned_noise, trial_curve
from autoopt.engine.recommend import OptimizerSummary, Recommendation
from autoopt.engine.recommend import leaderboard as variant_summaries
from autoopt.storage import record
from autoopt.engine.tally import TrialCounts, count_trials, study_recommendation
from autoopt.engine.trial_rows import trial_row

UNKNOWN = "unknown"


@dataclass(frozen=True)
class TrialView:
    """One trial as the dashboard lists it."""

    number: int
    state: str
    value: float | None
    last_value: float | None  # the last epoch reported, the only value a pruned trial has
    optimizer: str
    lr: float | None
    lookahead: bool
    batch_size: int | None
    role: str
    confirm_of: int | None
    epochs_run: int | None
    reason: str | None

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialView:
        row = trial_row(trial)
        steps = trial.intermediate_values
        return cls(
            number=trial.number,
            state=trial.state.name,
            value=finite(row["value"]) if trial.state == TrialState.COMPLETE else None,
            last_value=finite(steps[max(steps)]) if steps else None,
            optimizer=str(row["optimizer"] or UNKNOWN),
            lr=finite(row["lr"]),
            lookahead=bool(row["lookahead"]),
            batch_size=_integer(row["batch_size"]),
            role=str(row["role"]),
            confirm_of=_integer(trial.user_attrs.get(record.CONFIRM_OF)),
            epochs_run=_integer(row["epochs_run"]),
            reason=None if row["reason"] is None else str(row["reason"]),
        )


@dataclass(frozen=True)
class LeaderboardRow:
    """One optimizer: its best search value, and the CLI's summaries without and with Lookahead."""

    optimizer: str
    best: float | None
    best_trial: int | None
    plain: OptimizerSummary | None
    lookahead: OptimizerSummary | None
    states: dict[str, int]  # its search trials per state name

    @property
    def diverged(self) -> int:
        """How many of its search trials diverged (NaN or inf), as ``autoopt recommend`` counts them."""
        return sum(summary.diverged for summary in (self.plain, self.lookahead) if summary is not None)

    @property
    def screened(self) -> float | None:
        """Its "screen" trial's value: the family at its calibrated defaults, trained for all the epochs."""
        return next((s.screened for s in (self.plain, self.lookahead) if s and s.screened is not None), None)


@dataclass(frozen=True)
class Curve:
    """The per-epoch validation values and training losses of one trial."""

    optimizer: str
    number: int
    values: list[float]
    train_loss: list[float]


@dataclass(frozen=True)
class BatchBox:
    """Quartiles of the finished values of one optimizer at one batch size."""

    optimizer: str
    batch_size: int
    count: int
    low: float
    q1: float
    median: float
    q3: float
    high: float


@dataclass(frozen=True)
class RangeTestView:
    """The study's learning-rate range test (``autoopt.engine.calibrate``), checked as it is read."""

    optimizer: str
    lrs: list[float]
    losses: list[float]
    suggested_lr: float | None
    factor: float

    @classmethod
    def of(cls, attr: Any) -> RangeTestView | None:
        if not isinstance(attr, dict):
            return None
        lrs, losses = _float_list(attr.get("lrs")), _float_list(attr.get("losses"))
        factor = finite(attr.get("factor"))
        if not lrs or len(lrs) != len(losses) or factor is None:
            return None
        return cls(str(attr.get("optimizer", "")), lrs, losses, finite(attr.get("suggested_lr")), factor)


@dataclass(frozen=True)
class StudyDigest:
    study_id: int
    name: str
    direction: str  # "maximize" or "minimize"
    metric: str
    info: dict[str, Any]  # the study's "autoopt" attribute, {} for foreign studies
    counts: TrialCounts  # as every screen counts them (autoopt.engine.tally)
    leaderboard: list[LeaderboardRow]
    points: list[TrialView]  # finished search trials: the learning-rate picture
    pruned_points: list[TrialView]
    best_curves: list[Curve]
    batch_effect: list[BatchBox]
    problems: list[TrialView]  # pruned and failed trials, newest first
    confirmations: list[tuple[TrialView, float | None]]  # a confirm run and the value it re-checks
    range_test: RangeTestView | None = None  # the learning-rate range test the warm starts used
    recommendation: Recommendation | None = None  # what ``autoopt recommend`` says
    no_recommendation: str = ""  # why there is none
    noise: float | None = None  # the seed noise of one final value, when it was measured or estimated

    @property
    def optimizers(self) -> list[str]:
        return [row.optimizer for row in self.leaderboard]

    @property
    def recommended(self) -> str | None:
        return self.recommendation.optimizer if self.recommendation else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def single_direction(storage: BaseStorage, study_id: int) -> StudyDirection:
    directions = storage.get_study_directions(study_id)
    if len(directions) != 1:
        name = storage.get_study_name_from_id(study_id)
        raise UserError(
            f"Study {name!r} has {len(directions)} objectives; autoopt's pages cover "
            "single-objective studies. Open it in the Optuna dashboard view instead."
        )
    return directions[0]


def sort_key(direction: StudyDirection) -> Callable[[float | None], tuple[bool, float]]:
    """A key for ``sorted``: best value first, missing values last."""
    sign = -1.0 if direction == StudyDirection.MAXIMIZE else 1.0
    return lambda value: (value is None, 0.0 if value is None else sign * value)


def leaderboard(
    frozen: Sequence[FrozenTrial], views: Sequence[TrialView], direction: StudyDirection
) -> list[LeaderboardRow]:
    """One row per optimizer, best first, over search trials (confirmations re-check, not compete).

    The per-variant best and median come from ``autoopt.engine.recommend.leaderboard``, so this
    page and ``autoopt recommend`` can never disagree.
    """
    finished = [t for t in frozen if t.state.is_finished()]
    maximize = direction == StudyDirection.MAXIMIZE
    summaries = {(s.optimizer, s.lookahead): s for s in variant_summaries(finished, maximize)}
    key = sort_key(direction)
    groups: dict[str, list[TrialView]] = defaultdict(list)
    for view in views:
        if view.role != record.ROLE_CONFIRM:
            groups[view.optimizer].append(view)
    rows = []
    for optimizer, group in groups.items():
        best = min((t for t in group if t.value is not None), key=lambda t: key(t.value), default=None)
        rows.append(
            LeaderboardRow(
                optimizer=optimizer,
                best=None if best is None else best.value,
                best_trial=None if best is None else best.number,
                plain=summaries.get((optimizer, False)),
                lookahead=summaries.get((optimizer, True)),
                states=dict(Counter(t.state for t in group)),
            )
        )
    return sorted(rows, key=lambda row: (key(row.best), row.optimizer))


def batch_effect(points: Iterable[TrialView]) -> list[BatchBox]:
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for trial in points:
        if trial.batch_size is not None and trial.value is not None:
            groups[trial.optimizer, trial.batch_size].append(trial.value)
    boxes = []
    for (optimizer, batch_size), values in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        boxes.append(BatchBox(optimizer, batch_size, len(values), min(values), q1, median, q3, max(values)))
    return boxes


def _float_list(value: Any) -> list[float]:
    if not isinstance(value, list):
        return []
    return [v for v in (finite(item) for item in value) if v is not None]


def best_curves(rows: Sequence[LeaderboardRow], trials: dict[int, FrozenTrial]) -> list[Curve]:
    curves = []
    for row in rows:
        if row.best_trial is None:
            continue
        trial = trials[row.best_trial]
        values = list(trial_curve(trial))
        curves.append(Curve(row.optimizer, trial.number, values, _float_list(trial.user_attrs.get(record.TRAIN_LOSS))))
    return curves


def load_views(storage: BaseStorage, study_id: int) -> tuple[list[TrialView], dict[int, FrozenTrial]]:
    """Every trial of the study as a view, and the trials themselves by number."""
    frozen = storage.get_all_trials(study_id, deepcopy=False)
    return [TrialView.of(t) for t in frozen], {t.number: t for t in frozen}


def study_info(storage: BaseStorage, study_id: int) -> dict[str, Any]:
    return _info_of(storage.get_study_user_attrs(study_id))


def _info_of(attrs: dict[str, Any]) -> dict[str, Any]:
    info = attrs.get(record.STUDY_INFO)
    return info if isinstance(info, dict) else {}


def digest_study(storage: BaseStorage, study_id: int) -> StudyDigest:
    """Everything the study page and the report show, computed from the stored trials."""
    direction = single_direction(storage, study_id)
    views, frozen = load_views(storage, study_id)
    rows = leaderboard(list(frozen.values()), views, direction)
    search = [t for t in views if t.role != record.ROLE_CONFIRM]
    points = [t for t in search if t.value is not None]
    values = {t.number: t.value for t in views}
    attrs = storage.get_study_user_attrs(study_id)
    info = _info_of(attrs)
    name = storage.get_study_name_from_id(study_id)
    maximize = direction == StudyDirection.MAXIMIZE
    rec, why_none = study_recommendation(name, list(frozen.values()), maximize=maximize, attrs=attrs)
    return StudyDigest(
        study_id=study_id,
        name=name,
        direction=direction.name.lower(),
        metric=str(info.get("metric") or "objective value"),
        info=info,
        counts=count_trials(frozen.values()),
        leaderboard=rows,
        points=points,
        pruned_points=[t for t in search if t.state == TrialState.PRUNED.name and t.last_value is not None],
        best_curves=best_curves(rows, frozen),
        batch_effect=batch_effect(points),
        problems=[t for t in reversed(views) if t.state in (TrialState.PRUNED.name, TrialState.FAIL.name)],
        confirmations=[
            (t, values.get(t.confirm_of) if t.confirm_of is not None else None)
            for t in views
            if t.role == record.ROLE_CONFIRM
        ],
        range_test=RangeTestView.of(attrs.get(record.LR_RANGE_TEST)),
        recommendation=rec,
        no_recommendation=why_none,
        noise=rec.noise if rec else planned_noise(attrs),
    )
