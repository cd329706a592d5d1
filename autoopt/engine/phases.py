"""The phases of a search, each decided from what the study has stored.

1. **Screen**: every optimizer family at its (range-test-scaled) defaults, trained the full
   epochs and never pruned. Each family gets a real value at E on the leaderboard, and the
   curves are the evidence for everything after (Schmidt et al. 2021: trying several
   optimizers at their defaults is about as good as tuning one).
2. **Trust**: early epochs rank configurations the wrong way round on tasks that overfit or
   where momentum SGD wins late (short-horizon bias, Wu et al. 2018). So before pruning at
   a rung, the full-length curves measure how often two configurations ranked at that
   epoch keep their order at E; the search prunes only at rungs where they agree well and
   where no top configuration would have been pruned. A trial is judged at a rung only
   against trials that reached E: there is no first-trial gate.
3. **Race**: families whose best prospect is within the seed noise of the best family stay;
   the search is spent inside them. A run's prospect is its final value, or, when its curve
   overfits (its learning rate too large for E epochs), its curve's minimum.
4. **Search** (``autoopt.engine.pattern_search``): inside each surviving family, a pattern search
   around its incumbent (the learning rate in half-decade steps, or for a run that overfits
   a jump that moves its minimum to the last epoch; the next batch size, Lookahead on or
   off; then quarter-decade steps), then TPE on its branch once its neighbourhood is tried.
5. **Confirm** (``autoopt.engine.confirmations``): the top configurations (at least one per
   surviving family) get fresh seeds, the leaders more again, as SMAC's intensification
   does: the recommendation is a mean over seeds, not a lucky run.

Every function here reads trials and returns a decision, so a resumed or concurrent
search re-derives the same state: a screen or confirmation that was interrupted (stored
failed) is simply still missing, and is run again.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autoopt.outcome import Cause
from autoopt.storage import record, stored_cause

AGREEMENT_TO_PRUNE = 0.8  # share of pairs whose order at a rung is their order at E
MIN_CURVES_TO_PRUNE = 6  # full-length curves needed before any rung is judged
KEEP_FRACTION = 1 / 3  # at a trusted rung, a trial must stand in the top third of the full-length ones
RACE_MARGIN = 2.0  # families within this many noise standard deviations of the best stay in the race
RACE_KEEP = (2, 4)  # at least / at most this many families stay
NOISE_FLOOR = 0.005  # relative: seed noise is never assumed below 0.5% of the best value
SLOWEST_JUMP = 1 / 30  # an overfitting run's learning rate is cut by at most this factor in one step
MIN_JUMP = math.sqrt(10)  # ... and by at least this one (half a decade)
OVERSHOOT = 10.0  # a screen this many times its peers' median size worse than that median ...
BLOWN_UP = 0.5  # ... whose curve ends this share of its best's size above its best, blew up
BOTTOMS_EARLY = 0.75  # a curve whose best epoch is within this share of its epochs bottoms early


@dataclass(frozen=True)
class Run:
    """One finished search trial (screen or search) as the phases read it."""

    number: int
    family: str
    params: dict[str, Any]
    value: float
    curve: tuple[float, ...]
    phase: str


@dataclass
class Plan:
    """What the phases measured, stored on the study (``search_plan``) for the screens to show."""

    budget: int
    epochs: int
    noise: float | None = None
    agreement: dict[str, float] = field(default_factory=dict)  # rung (as text: JSON keys) -> share of pairs
    trusted_rungs: list[int] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    screened: dict[str, float] = field(default_factory=dict)
    overfitting: list[str] = field(default_factory=list)  # families whose screen bottomed well before E

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def phase_of(trial: FrozenTrial) -> str:
    """The trial's phase; trials stored before phases existed read as search or confirm by their role."""
    phase = trial.user_attrs.get(record.PHASE)
    if phase:
        return str(phase)
    return record.PHASE_CONFIRM if trial.user_attrs.get(record.ROLE) == record.ROLE_CONFIRM else record.PHASE_SEARCH


def score(value: float, maximize: bool) -> float:
    """Lower is better, whatever the direction."""
    return -value if maximize else value


def runs_of(trials: Iterable[FrozenTrial]) -> list[Run]:
    """The complete screen and search trials."""
    return [
        Run(t.number, t.user_attrs[record.OPTIMIZER], dict(t.params), float(t.value),
            tuple(t.user_attrs.get(record.CURVE) or ()), phase_of(t))
        for t in trials
        if t.state == TrialState.COMPLETE and phase_of(t) != record.PHASE_CONFIRM and record.OPTIMIZER in t.user_attrs
    ]  # fmt: skip


def seed_values(trials: Iterable[FrozenTrial]) -> dict[int, list[float]]:
    """Each configuration's values over its seeds, keyed by the number of its original trial."""
    values: dict[int, list[float]] = defaultdict(list)
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        key = t.user_attrs.get(record.CONFIRM_OF) if phase_of(t) == record.PHASE_CONFIRM else t.number
        if key is not None:
            values[int(key)].append(float(t.value))
    return dict(values)


def full_curves(trials: Iterable[FrozenTrial], epochs: int) -> list[tuple[float, ...]]:
    """Validation curves of every complete trial that trained all ``epochs`` (confirmations too)."""
    curves = []
    for t in trials:
        curve = t.user_attrs.get(record.CURVE) or ()
        if t.state == TrialState.COMPLETE and len(curve) == epochs and all(map(math.isfinite, curve)):
            curves.append(tuple(curve))
    return curves


def seed_noise(groups: Iterable[Sequence[float]], maximize: bool) -> float | None:
    """The spread of one final value over seeds: the median sample std of the better half of the
    configurations trained on two seeds or more (None without any). The better half only: a
    configuration that diverged on one seed of two says nothing of how far apart good ones are."""
    repeated = sorted((v for v in groups if len(v) >= 2), key=lambda v: score(statistics.fmean(v), maximize))
    if not repeated:
        return None
    return statistics.median(statistics.stdev(v) for v in repeated[: math.ceil(len(repeated) / 2)])


def _tail_steps(curve: Sequence[float], last: int) -> list[float] | None:
    """The steps between a curve's ``last`` epochs; None under 3 epochs."""
    tail = curve[-last:]
    return [b - a for a, b in zip(tail, tail[1:])] if len(tail) >= 3 else None


def _step_spread(curve: Sequence[float]) -> float | None:
    """How far a curve's last 5 epochs jump around their trend, as a standard deviation: the
    spread of their steps, which a steady trend does not add to (a bending one does)."""
    steps = _tail_steps(curve, 5)
    return None if steps is None else statistics.pstdev(steps) / math.sqrt(2)


def back_and_forth(curve: Sequence[float], last: int = 5) -> float | None:
    """How far a curve's ``last`` epochs jump back and forth, as a standard deviation (None under 3
    epochs): the distance they travel beyond their net change, which is 0 for a curve that only
    goes one way however it bends (a short run still falling steeply has no jitter), and for
    independent noise of spread s around a flat end about 1.128 s per step after the first."""
    steps = _tail_steps(curve, last)
    if steps is None:
        return None
    excess = sum(map(abs, steps)) - abs(sum(steps))
    return excess / (2 / math.sqrt(math.pi) * (len(steps) - 1))


def noise(trials: Sequence[FrozenTrial], epochs: int, maximize: bool = False) -> float | None:
    """The seed noise of a final value, as a standard deviation.

    The median over the better half of the configurations trained on several seeds once there
    are any; before that, the epoch-to-epoch jitter of the last epochs of the full-length curves
    (which moves with the batch order and a small validation set, as seeds do). Never below
    ``NOISE_FLOOR`` of the best value's size.
    """
    curves = full_curves(trials, epochs)
    estimate = seed_noise(seed_values(trials).values(), maximize)
    if estimate is None:
        jitters = [j for j in map(_step_spread, curves) if j is not None]
        if not jitters:
            return None
        estimate = statistics.median(jitters)
    finals = [abs(c[-1]) for c in curves]
    floor = NOISE_FLOOR * min(finals) if finals else 0.0
    return max(estimate, floor)


def candidate_rungs(epochs: int) -> list[int]:
    """Successive halving's rungs with reduction factor 3, counted back from E: E/9 and E/3."""
    return sorted({r for r in (round(epochs / 9), round(epochs / 3)) if 1 <= r < epochs})


def agreement(curves: Sequence[Sequence[float]], rung: int, maximize: bool, tolerance: float) -> float | None:
    """The share of pairs, among those whose final values differ by more than ``tolerance``,
    that are ordered at epoch ``rung`` as they are at the last epoch."""
    agree = total = 0
    for a, b in combinations(curves, 2):
        final = score(a[-1], maximize) - score(b[-1], maximize)
        if abs(final) <= tolerance:
            continue
        early = score(a[rung - 1], maximize) - score(b[rung - 1], maximize)
        total += 1
        agree += (early < 0) == (final < 0)
    return agree / total if total else None


def rung_cutoff(values: Sequence[float], maximize: bool) -> float:
    """The value a trial must match at a rung: the last of the top third of the full-length trials there."""
    ranked = sorted(values, key=lambda v: score(v, maximize))
    return ranked[max(0, math.ceil(len(ranked) * KEEP_FRACTION) - 1)]


def _keeps_the_best(curves: Sequence[Sequence[float]], rung: int, maximize: bool) -> bool:
    """Whether each of the three best full-length curves would have passed the rung, judged against the others."""
    order = sorted(range(len(curves)), key=lambda i: score(curves[i][-1], maximize))
    for i in order[:3]:
        others = [c[rung - 1] for j, c in enumerate(curves) if j != i]
        if score(curves[i][rung - 1], maximize) > score(rung_cutoff(others, maximize), maximize):
            return False
    return True


def trusted_rungs(curves: Sequence[Sequence[float]], epochs: int, maximize: bool,
                  tolerance: float) -> tuple[dict[int, float], list[int]]:  # fmt: skip
    """Each candidate rung's agreement, and the rungs the search may prune at."""
    measured: dict[int, float] = {}
    trusted: list[int] = []
    if len(curves) < MIN_CURVES_TO_PRUNE:
        return measured, trusted
    for rung in candidate_rungs(epochs):
        share = agreement(curves, rung, maximize, tolerance)
        if share is None:
            continue
        measured[rung] = share
        if share >= AGREEMENT_TO_PRUNE and _keeps_the_best(curves, rung, maximize):
            trusted.append(rung)
    return measured, trusted


def overshot(value: float, finals: Sequence[float], maximize: bool, curve: Sequence[float] = ()) -> bool:
    """Whether a final value is off the scale of the others, further from their median than
    ``OVERSHOOT`` times the median's size, because its learning rate blew the loss up without
    NaN: its ``curve`` (when given) ends far above its own best. A run that ends near its best
    is slow or unsuited, not unstable, and a smaller rate would not rescue it."""
    if len(finals) < 3:
        return False
    middle = statistics.median(finals)
    if score(value, maximize) - score(middle, maximize) <= OVERSHOOT * max(abs(middle), 1e-12):
        return False
    if not curve:
        return True
    best = min(curve, key=lambda v: score(v, maximize))
    return score(curve[-1], maximize) - score(best, maximize) > BLOWN_UP * abs(best)


def blown_up(trials: Sequence[FrozenTrial], maximize: bool) -> list[dict[str, Any]]:
    """The params of the screen and search trials that diverged (NaN or inf) or blew up without
    NaN (``overshot``, against every finished run; a pruned one by the value it was stopped at):
    rates past the edge of stability."""
    finals = [r.value for r in runs_of(trials)]
    out = []
    for t in trials:
        if phase_of(t) == record.PHASE_CONFIRM:
            continue
        if t.state == TrialState.PRUNED and stored_cause(t.user_attrs) is Cause.DIVERGED:
            out.append(dict(t.params))
        elif (t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.value is not None
              and overshot(float(t.value), finals, maximize, t.user_attrs.get(record.CURVE) or ())):
            out.append(dict(t.params))
    return out


def overfits(curve: Sequence[float], maximize: bool, tolerance: float) -> bool:
    """Whether a curve bottoms well before its end (by ``BOTTOMS_EARLY`` of its epochs) and ends
    worse than there by more than ``tolerance``. The one notion of "bottoms early": the search
    races and steps such a run by it, and the recommendation advises stopping early by it."""
    if len(curve) < 4:
        return False
    best = min(range(len(curve)), key=lambda i: score(curve[i], maximize))
    return best + 1 <= BOTTOMS_EARLY * len(curve) and score(curve[-1], maximize) - score(curve[best], maximize) > tolerance


def overfit_factor(curve: Sequence[float], maximize: bool, tolerance: float) -> float | None:
    """For a curve that overfits, the factor that should move its minimum to the last epoch:
    a constant learning rate's progress goes with learning rate x steps, so a run that was
    best at epoch b of E wants about b/E of its learning rate (at least a half-decade cut, at
    most ``SLOWEST_JUMP``). None when the curve does not overfit."""
    if not overfits(curve, maximize, tolerance):
        return None
    best = min(range(len(curve)), key=lambda i: score(curve[i], maximize)) + 1
    return min(max(best / len(curve), SLOWEST_JUMP), 1 / MIN_JUMP)


def prospect(run: Run, maximize: bool, tolerance: float) -> float:
    """What a run says its family can reach at E: its final value, or for a run that overfits
    (its learning rate too large for E epochs) the minimum of its curve, which a smaller
    learning rate moves to the end. Schmidt et al. 2021 and our suite's grids agree that on
    such tasks every family reaches about the same value once its learning rate fits E."""
    if not overfits(run.curve, maximize, tolerance):
        return run.value
    return min(run.curve, key=lambda v: score(v, maximize))


def family_ranking(runs: Sequence[Run], maximize: bool, tolerance: float | None = None) -> list[tuple[str, float]]:
    """Each family's best value, best first; by prospect (see ``prospect``) when ``tolerance`` is given."""
    best: dict[str, float] = {}
    for run in runs:
        value = run.value if tolerance is None else prospect(run, maximize, tolerance)
        if run.family not in best or score(value, maximize) < score(best[run.family], maximize):
            best[run.family] = value
    return sorted(best.items(), key=lambda item: score(item[1], maximize))


def survivors(runs: Sequence[Run], maximize: bool, tolerance: float) -> list[str]:
    """The families still in the race: by prospect, within ``RACE_MARGIN`` noise of the best,
    at least and at most ``RACE_KEEP``."""
    ranking = family_ranking(runs, maximize, tolerance)
    if not ranking:
        return []
    least, most = RACE_KEEP
    lead = score(ranking[0][1], maximize)
    close = [name for name, value in ranking if score(value, maximize) - lead <= RACE_MARGIN * tolerance]
    return [name for name, _ in ranking][: max(least, min(most, len(close)))]


def plan_of(trials: Sequence[FrozenTrial], *, budget: int, epochs: int, maximize: bool, race: bool) -> Plan:
    """What the stored trials say now: noise, rung agreement, survivors, screened values, overfitting."""
    plan = Plan(budget, epochs, noise(trials, epochs, maximize))
    runs = runs_of(trials)
    tolerance = plan.noise or 0.0
    measured, plan.trusted_rungs = trusted_rungs(full_curves(trials, epochs), epochs, maximize, tolerance)
    plan.agreement = {str(r): round(share, 3) for r, share in measured.items()}
    plan.survivors = survivors(runs, maximize, tolerance) if race else [f for f, _ in family_ranking(runs, maximize)]
    plan.screened = {r.family: r.value for r in runs if r.phase == record.PHASE_SCREEN}
    plan.overfitting = sorted({r.family for r in runs if r.phase == record.PHASE_SCREEN
                               and overfits(r.curve, maximize, tolerance)})  # fmt: skip
    return plan

