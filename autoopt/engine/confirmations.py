"""The confirm phase's choices: which configurations get fresh seeds, and how many.

First the best ``candidates`` distinct configurations (the best of each surviving family
among them) are brought to ``seeds`` values each; then the best confirmed configurations,
and any whose mean is within a standard error of the leader's, to twice that, as SMAC's
intensification doubles a challenger's seeds. Pure functions of the stored trials, like
``autoopt.engine.phases``: a resumed search re-derives what is still missing.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autoopt.engine.phases import Run, phase_of, runs_of, score, seed_values
from autoopt.storage import record

LEADERS = 2  # the best few confirmed configurations get more seeds again


def confirm_round(trials: Sequence[FrozenTrial], maximize: bool, *, candidates: int, seeds: int,
                  families: Sequence[str] = ()) -> list[tuple[dict[str, Any], int]]:  # fmt: skip
    """Re-runs that bring the best ``candidates`` distinct configurations (the best of each of
    ``families`` among them) to ``seeds`` values each: ``(params, original trial number)``."""
    by_number = {t.number: t for t in trials}
    runs = sorted(runs_of(trials), key=lambda r: score(r.value, maximize))
    chosen: list[Run] = []
    for family in families:  # at least one per surviving family
        best = next((r for r in runs if r.family == family), None)
        if best is not None and len(chosen) < candidates:
            chosen.append(best)
    for run in runs:
        if len(chosen) >= candidates:
            break
        if run not in chosen and not any(run.params == c.params for c in chosen):
            chosen.append(run)
    return _top_up(trials, by_number, [r.number for r in chosen], seeds)


def leaders_round(trials: Sequence[FrozenTrial], maximize: bool, *, seeds: int,
                  tolerance: float) -> list[tuple[dict[str, Any], int]]:  # fmt: skip
    """Re-runs that bring the best confirmed configurations, and any whose mean is within
    ``tolerance`` (a standard error) of the leader's, to ``seeds`` values each."""
    by_number = {t.number: t for t in trials}
    means = sorted(((statistics.fmean(v), n) for n, v in seed_values(trials).items() if len(v) >= 2),
                   key=lambda pair: score(pair[0], maximize))  # fmt: skip
    if not means:
        return []
    lead = score(means[0][0], maximize)
    chosen = [n for i, (m, n) in enumerate(means) if i < LEADERS or score(m, maximize) - lead <= tolerance]
    return _top_up(trials, by_number, chosen, seeds)


def _top_up(trials: Sequence[FrozenTrial], by_number: dict[int, FrozenTrial], numbers: Sequence[int],
            seeds: int) -> list[tuple[dict[str, Any], int]]:  # fmt: skip
    """For each configuration, as many re-runs as it lacks to reach ``seeds`` (running and queued ones count)."""
    have: dict[int, int] = defaultdict(int)
    for t in trials:
        if phase_of(t) == record.PHASE_CONFIRM and t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING):
            have[int(t.user_attrs[record.CONFIRM_OF])] += 1
    pending = []
    for number in numbers:
        pending += [(dict(by_number[number].params), number)] * max(0, seeds - 1 - have[number])
    return pending
