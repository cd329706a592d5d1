"""Pruning that can be trusted: only at rungs where early rankings have held until the end.

Optuna's successive halving promotes a trial past a rung that fewer than about
``reduction_factor`` trials have reached only if it beats every earlier value there, so the
first finished trial gates all the others; and on tasks that overfit, or where momentum SGD
or a smaller batch wins late, an early epoch ranks configurations the wrong way round.
``TrustedRungPruner`` judges a search trial at a rung only against the trials that trained
all epochs, and only at rungs where those trials' order at the rung agreed with their order
at the end (``autoopt.engine.phases.trusted_rungs``). Where no rung agrees, it never prunes.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial

from autoopt.engine.phases import candidate_rungs, full_curves, noise, phase_of, rung_cutoff, score, trusted_rungs
from autoopt.storage import record


class TrustedRungPruner(optuna.pruners.BasePruner):
    """Prune a search trial at a trusted rung when it trails the top third of the full-length trials there."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.rungs = set(candidate_rungs(epochs))
        self.reason = ""  # why the last pruned trial was pruned, for its record

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step not in self.rungs or phase_of(trial) != record.PHASE_SEARCH:
            return False
        trials = study.get_trials(deepcopy=False)
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        curves = full_curves(trials, self.epochs)
        measured, trusted = trusted_rungs(curves, self.epochs, maximize, noise(trials, self.epochs, maximize) or 0.0)
        if step not in trusted:
            return False
        cutoff = rung_cutoff([curve[step - 1] for curve in curves], maximize)
        value = trial.intermediate_values[step]
        if score(value, maximize) <= score(cutoff, maximize):
            return False
        self.reason = (f"pruned after epoch {step}: {value:.4g} trailed the top third of the {len(curves)} trials "
                       f"that trained all {self.epochs} epochs ({cutoff:.4g} there); at this epoch their order "
                       f"agreed with the final one on {measured[step]:.0%} of pairs")  # fmt: skip
        return True


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """``auto`` (trusted rungs, the default), ``asha`` or ``hyperband`` (Optuna's), or ``none``."""
    if name == "none" or epochs < 3:
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return TrustedRungPruner(epochs)


__all__ = ["TrustedRungPruner", "make_pruner"]
