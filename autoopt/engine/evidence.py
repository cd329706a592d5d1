"""What a study's trials say of each configuration: its values over seeds, the study's seed
noise, which configuration is best by its mean, and which cannot be told apart from it.

A configuration is one search trial (a "screen" trial included) and the confirmations that
re-train it (``confirm_of``); two search trials with equal parameters are two configurations.
``autoopt.engine.recommend`` builds the recommendation from these; the dashboard ranks by them too.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autoopt.engine.phases import back_and_forth, seed_noise
from autoopt.storage import record

TIE_STANDARD_ERRORS = 2.0  # means closer than this many standard errors of their difference are a tie


@dataclass(frozen=True)
class Evidence:
    """One configuration: the search trial that tried it, then the confirmations that re-trained it on fresh seeds."""

    runs: tuple[FrozenTrial, ...]

    @property
    def trial(self) -> FrozenTrial:
        return self.runs[0]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(run.value for run in self.runs)  # type: ignore[misc]  # finished trials have a value

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def jitter(self) -> float | None:
        """The median over its runs of how far each curve's last epochs jump back and forth
        (``phases.back_and_forth``); None without curves. A run that still jumps epoch to epoch
        ended on one draw of that jitter: its final value is as uncertain as another seed's."""
        jitters = [j for j in (back_and_forth(trial_curve(run)) for run in self.runs) if j is not None]
        return statistics.median(jitters) if jitters else None

    @property
    def std(self) -> float | None:
        """The sample standard deviation over its seeds; None with one seed."""
        return statistics.stdev(self.values) if len(self.runs) > 1 else None


def trial_role(trial: FrozenTrial) -> str:
    return trial.user_attrs.get(record.ROLE, record.ROLE_SEARCH)


def trial_phase(trial: FrozenTrial) -> str:
    """Studies from before the phases have no ``phase``: their trials count as search trials."""
    return trial.user_attrs.get(record.PHASE, record.PHASE_SEARCH)


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (stored attributes are data other programs wrote), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def trial_curve(trial: FrozenTrial) -> tuple[float, ...]:
    """The validation value after each epoch; () when none was recorded or one is not a finite number."""
    stored = trial.user_attrs.get(record.CURVE)
    if not isinstance(stored, list):  # older records: the curve lives only in the intermediate values
        stored = [value for _, value in sorted(trial.intermediate_values.items())]
    curve = [finite(value) for value in stored]
    return () if None in curve else tuple(curve)  # type: ignore[arg-type]


def gather(trials: Iterable[FrozenTrial]) -> list[Evidence]:
    """Every finished search configuration with the values of its confirmations, in trial order."""
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.number)
    confirmations: dict[Any, list[FrozenTrial]] = defaultdict(list)
    for t in complete:
        if trial_role(t) == record.ROLE_CONFIRM:
            confirmations[t.user_attrs.get(record.CONFIRM_OF)].append(t)
    evidence = []
    for t in complete:
        if trial_role(t) == record.ROLE_SEARCH:
            evidence.append(Evidence((t, *confirmations.get(t.number, ()))))
    return evidence


def pooled_std(evidence: Iterable[Evidence], maximize: bool) -> float | None:
    """The seed noise of one final value, as the search measures it (``autoopt.engine.phases.seed_noise``)."""
    return seed_noise([e.values for e in evidence], maximize)


def planned_noise(study_attrs: Mapping[str, Any]) -> float | None:
    """The seed noise the search plan estimated (``search_plan["noise"]``), when the study has one."""
    plan = study_attrs.get(record.SEARCH_PLAN)
    noise = finite(plan.get("noise")) if isinstance(plan, dict) else None
    return noise if noise is not None and noise >= 0 else None


def _guarded_mean(e: Evidence, maximize: bool, noise: float | None) -> float:
    """The mean of its re-runs, lower-is-better, made worse by one standard error of it (``noise``
    / sqrt(re-runs)). The re-runs only: the search trial's own value is the draw it was chosen
    for, so it flatters every candidate (the winner's curse), and most the ones with the fewest
    re-runs; fresh seeds do not. And the guard: a configuration seen on fewer seeds must beat
    one seen on more by more than luck (SMAC lets a challenger win only on as many seeds).
    A configuration whose curves still jump at the end (``Evidence.jitter``) is guarded by that
    jitter when it exceeds the study's noise: on sgd_wins, Adam's four lucky seeds on jumpy
    curves beat momentum SGD's settled ones and re-trained 90% worse.
    Single runs are ranked by their value alone: they rank only among themselves."""
    sign = -1 if maximize else 1
    if e.n_seeds < 2:
        return sign * e.mean
    fresh = e.values[1:]
    spread = max(noise or 0.0, e.jitter or 0.0)
    return sign * statistics.fmean(fresh) + spread / math.sqrt(len(fresh))


def best_mean(evidence: Sequence[Evidence], maximize: bool, noise: float | None = None) -> Evidence:
    """The best mean of the re-runs, each guarded by its standard error at the study's seed noise
    (``_guarded_mean``), among the configurations trained on the most seeds (the leaders); one
    re-trained fewer times only where it also beats their best clearly (not ``tied``); the best
    single trial when none was re-trained. As in SMAC's intensification, a challenger replaces
    the incumbent on as many seeds: its fewer re-runs did not meet the leaders' later seeds, and
    one seed moves every configuration alike (common random numbers), so within the noise its
    mean is not comparable with theirs. On sgd_wins a two-seed candidate whose one re-run fell
    on an easy seed beat a leader that was better on both seeds the two shared, and re-trained 30% worse."""
    repeated = [e for e in evidence if e.n_seeds > 1]
    if not repeated:
        return min(evidence, key=lambda e: _guarded_mean(e, maximize, None))
    if noise is None:
        noise = pooled_std(evidence, maximize)
    top = max(e.n_seeds for e in repeated)
    leader = min((e for e in repeated if e.n_seeds == top), key=lambda e: _guarded_mean(e, maximize, noise))
    best = min(repeated, key=lambda e: _guarded_mean(e, maximize, noise))
    return best if noise is not None and not tied(best, leader, noise) else leader


def optimizer_ranking(evidence: Sequence[Evidence], maximize: bool) -> list[Evidence]:
    """Each optimizer's best configuration by ``best_mean``, the recommendation first, the others
    ranked by the guarded mean of their re-runs. Configurations trained on two seeds or more rank
    before single runs; equal means go by trial number, as ``best_mean``'s ``min`` over
    configurations in trial order does.
    """
    groups: dict[Any, list[Evidence]] = defaultdict(list)
    for e in evidence:
        groups[e.trial.user_attrs.get(record.OPTIMIZER)].append(e)
    noise = pooled_std(evidence, maximize)
    chosen = best_mean(evidence, maximize, noise) if evidence else None
    best = [chosen if any(e is chosen for e in group) else best_mean(group, maximize, noise) for group in groups.values()]
    return sorted(best, key=lambda e: (e is not chosen, e.n_seeds < 2, _guarded_mean(e, maximize, noise), e.trial.number))


def tied(a: Evidence, b: Evidence, noise: float) -> bool:
    """Whether two configurations' means are within two standard errors of their difference, at the seed noise ``noise``."""
    return abs(a.mean - b.mean) <= TIE_STANDARD_ERRORS * noise * math.sqrt(1 / a.n_seeds + 1 / b.n_seeds)


def ties(chosen: Evidence, evidence: Sequence[Evidence], maximize: bool) -> list[Evidence]:
    """The configurations whose mean is within two standard errors of ``chosen``'s, best mean first.

    Both sides' spread is the study's seed noise (``autoopt.engine.phases.seed_noise``): two or four
    seeds say little of one configuration's own spread, whether they happen to agree or one of
    them blew up.
    """
    pooled = pooled_std(evidence, maximize)
    if chosen.std is None or pooled is None:
        return []
    close = [e for e in evidence if e is not chosen and e.std is not None and tied(e, chosen, pooled)]
    return sorted(close, key=lambda e: (-1 if maximize else 1) * e.mean)
