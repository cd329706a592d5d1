"""One stored trial as a row of plain values: what every table of trials shows.

``autoopt trials`` prints these rows as a table, CSV or JSON, and the dashboard's trial
table shows the same rows, so the two never disagree about a trial.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import FrozenTrial, TrialState

from autoopt.engine.param_names import LOOKAHEAD, VARIANT, hyperparameters_of
from autoopt.storage import record

TRIAL_COLUMNS = ("number", "state", "value", "role", "optimizer", "lr", "batch_size", "lookahead", "epochs_run",
                 "wall_time_s", "reason", "optimizer_kwargs")  # fmt: skip


def queued_config(t: FrozenTrial) -> dict[str, Any]:
    """What a queued (WAITING) trial will train, read from the parameters it was queued with.

    Its ``optimizer`` and ``optimizer_kwargs`` attributes are written only when it starts;
    until then the queue holds Optuna's parameter names (``adam.lr``, ``lookahead.k``).
    """
    fixed = t.system_attrs.get("fixed_params") or {}
    optimizer = fixed.get("optimizer")
    found = hyperparameters_of(fixed, optimizer) if optimizer else {}
    kwargs = {hp: value for hp, value in found.items() if hp != VARIANT}
    wrapper = hyperparameters_of(fixed, LOOKAHEAD)
    lookahead = {"k": wrapper["k"], "alpha": wrapper["alpha"]} if "k" in wrapper else None
    return {record.OPTIMIZER: optimizer, record.OPTIMIZER_KWARGS: kwargs, record.LOOKAHEAD: lookahead,
            record.BATCH_SIZE: fixed.get("batch_size"), **t.user_attrs}  # fmt: skip


def state_name(t: FrozenTrial) -> str:
    """``complete``, ``pruned``, ``fail``, ``running``, or ``queued`` for a trial waiting to be run."""
    return "queued" if t.state == TrialState.WAITING else t.state.name.lower()


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    attrs = queued_config(t) if t.state == TrialState.WAITING else t.user_attrs
    kwargs = attrs.get(record.OPTIMIZER_KWARGS) or {}
    return {
        "number": t.number,
        "state": state_name(t),
        "value": t.value,
        "role": attrs.get(record.ROLE, record.ROLE_SEARCH),
        "optimizer": attrs.get(record.OPTIMIZER),
        "lr": kwargs.get("lr"),
        "batch_size": attrs.get(record.BATCH_SIZE),
        "lookahead": attrs.get(record.LOOKAHEAD),
        "epochs_run": attrs.get(record.EPOCHS_RUN),
        "wall_time_s": attrs.get(record.WALL_TIME),
        "reason": attrs.get(record.FAIL_REASON) or attrs.get(record.PRUNE_REASON),
        "optimizer_kwargs": kwargs,
    }
