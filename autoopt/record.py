"""What autoopt stores on each Optuna trial and study: the names every reader relies on.

Everything is JSON (never pickle), so the storage is data and not code. Trials:

- ``optimizer`` (str), ``optimizer_kwargs`` (dict of constructor keywords, ``betas`` as a
  list), ``lookahead`` ({"k": int, "alpha": float} or None), ``batch_size`` (int)
- ``seed`` (int), ``role`` ("search" or "confirm"), ``confirm_of`` (trial number a
  confirmation re-trains)
- ``curve`` (validation value per epoch), ``train_loss`` (mean training loss per epoch),
  ``epochs_run`` (int), ``wall_time_s`` (float), ``env`` (torch, python, device, host)
- ``fail_reason`` on FAIL trials, ``prune_reason`` on PRUNED ones: one readable line.

Studies carry ``autoopt`` = {"version", "metric", "direction", "model_file", "epochs",
"optimizers"}.
"""

from __future__ import annotations

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

ROLE_SEARCH = "search"
ROLE_CONFIRM = "confirm"

STUDY_INFO = "autoopt"
