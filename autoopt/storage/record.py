"""What autoopt stores on each Optuna trial and study: the names every reader relies on.

Everything is JSON (never pickle), so the storage is data and not code. Trials:

- ``optimizer`` (str), ``optimizer_kwargs`` (dict of constructor keywords, ``betas`` as a
  list), ``lookahead`` ({"k": int, "alpha": float} or None), ``batch_size`` (int)
- ``seed`` (int), ``role`` ("search" or "confirm"), ``confirm_of`` (trial number a
  confirmation re-trains), ``phase`` ("screen": a family at its calibrated defaults, the
  full epochs, never pruned; "search": inside the families that survived the race;
  "confirm": a fresh seed of a candidate; see ``autoopt.engine.phases``)
- ``curve`` (validation value per epoch), ``train_loss`` (mean training loss per epoch),
  ``epochs_run`` (int), ``wall_time_s`` (float), ``env`` (torch, python, device, host)
- ``fail_reason`` on FAIL trials, ``prune_reason`` on PRUNED ones: one readable line; next
  to it ``cause``, why the trial ended as a value (``autoopt.outcome.Cause``), which is what
  the search decides by (older studies have the reason only).
- ``retry_of`` (number of the failed trial a retry re-runs with the same params) and
  ``attempt`` (1, 2, ...) on retries of trials lost to infrastructure; ``oom_retry_of`` on
  the one re-run of an out-of-memory trial. ``batch_size`` is always the batch size the
  trial trained with: after an out-of-memory failure it may be smaller than the sampled
  ``batch_size`` param (see ``autoopt.engine.failure_policy``).

Studies carry ``autoopt`` = {"version", "metric", "direction", "model_file", "epochs",
"optimizers"}, ``search_plan`` (what the phases measured: the budget, the noise, which
rungs can be trusted to prune on, the families that survived the race; ``autoopt.engine.phases``),
``seed_base`` (the seed every configuration's first run trains on; its n-th re-run trains on
the n-th seed after it, the same for every configuration)
and ``lr_range_test`` when the warm starts were calibrated by one
(``autoopt.engine.calibrate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoopt.outcome import DIVERGED_REASON, INTERRUPTED_REASON, Cause

OPTIMIZER = "optimizer"
OPTIMIZER_KWARGS = "optimizer_kwargs"
LOOKAHEAD = "lookahead"
BATCH_SIZE = "batch_size"
SEED = "seed"
ROLE = "role"
CONFIRM_OF = "confirm_of"
CURVE = "curve"
TRAIN_LOSS = "train_loss"
EPOCHS_RUN = "epochs_run"
WALL_TIME = "wall_time_s"
ENV = "env"
FAIL_REASON = "fail_reason"
PRUNE_REASON = "prune_reason"
CAUSE = "cause"  # autoopt.outcome.Cause's value, next to fail_reason / prune_reason
RETRY_OF = "retry_of"
ATTEMPT = "attempt"
OOM_RETRY_OF = "oom_retry_of"
OWNER = "owner"

ROLE_SEARCH = "search"
ROLE_CONFIRM = "confirm"
PHASE = "phase"
PHASE_SCREEN = "screen"
PHASE_SEARCH = "search"
PHASE_CONFIRM = "confirm"

STUDY_INFO = "autoopt"
SEARCH_PLAN = "search_plan"  # autoopt.engine.phases.Plan as JSON
LR_RANGE_TEST = "lr_range_test"  # autoopt.engine.calibrate.RangeTest as JSON, on studies that ran one
SEED_BASE = "seed_base"  # int: the seed every configuration's first run trains on (autoopt.engine.trial_loop)


# How reasons began before the cause was stored (read only to classify those old trials).
_LEGACY_PREFIXES = (
    ("worker process died", Cause.INFRASTRUCTURE),
    ("stale:", Cause.INFRASTRUCTURE),
    ("ray node/actor died", Cause.INFRASTRUCTURE),
    ("out of memory", Cause.OUT_OF_MEMORY),
    (DIVERGED_REASON, Cause.DIVERGED),
    (INTERRUPTED_REASON, Cause.INTERRUPTED),
    ("timeout:", Cause.TIMEOUT),
)


def stored_cause(user_attrs: Mapping[str, Any]) -> Cause | None:
    """The cause a stored trial ended with: its ``cause`` attr, else (older studies) what its
    reason began with; None for a trial with neither (complete, or still running)."""
    value = user_attrs.get(CAUSE)
    if value is not None:
        try:
            return Cause(value)
        except ValueError:
            pass  # written by a newer autoopt: judge it by its reason
    reason = user_attrs.get(FAIL_REASON) or user_attrs.get(PRUNE_REASON)
    if reason is None:
        return None
    text = str(reason)
    for prefix, cause in _LEGACY_PREFIXES:
        if text.startswith(prefix):
            return cause
    return Cause.USER_ERROR if FAIL_REASON in user_attrs else Cause.PRUNED
