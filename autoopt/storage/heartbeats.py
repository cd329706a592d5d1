"""Heartbeats: how a running trial tells other searches that its driver is alive.

A RUNNING trial whose heartbeat is older than the grace period (``2 * HEARTBEAT_SECONDS``)
is stale, and any search on the study fails and retries it (``autoopt.storage.stale``).
"""

from __future__ import annotations

from collections.abc import Iterable

import optuna
from optuna.storages._heartbeat import BaseHeartbeat

HEARTBEAT_SECONDS = 5  # a RUNNING trial without a heartbeat for 2x this is stale


def keeps_heartbeats(storage: optuna.storages.BaseStorage) -> bool:
    """Whether ``storage`` can record heartbeats (an RDB storage, cached or not)."""
    return isinstance(storage, BaseHeartbeat)


def record_heartbeats(study: optuna.Study, trials: Iterable[optuna.Trial]) -> bool:
    """Write a heartbeat for each of ``trials``; False (and nothing written) when the storage keeps none."""
    storage = study._storage
    if not keeps_heartbeats(storage):
        return False
    for trial in trials:
        storage.record_heartbeat(trial._trial_id)
    return True
