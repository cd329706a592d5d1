"""Find trials left RUNNING by a driver that died, mark them failed with the reason, retry them.

Two signals: the owner tag (host, pid, process start time) catches a dead driver on this
machine at once; Optuna's heartbeat (written with the database's clock) catches the rest
after its grace period. Every search checks at its start and then every heartbeat
interval while it runs, so a live search reclaims a dead sibling's trials within
``grace + interval`` (``autoopt.storage.HEARTBEAT_SECONDS``).

A trial lost to infrastructure (its process died, its heartbeat stopped, its Ray node
went away) says nothing about its configuration, so it is queued again with the same
params, up to ``--retries`` times. Errors in user code and divergence are not retried:
they would fail the same way again.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Container
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoopt.outcome import Cause
from autoopt.storage import record


def _start_ticks(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def owner_tag(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def _owner_is_dead(tag: str) -> bool:
    host, _, rest = tag.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only its heartbeat can tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return ticks != "?" and _start_ticks(pid) != ticks  # the pid was reused by another process


def retry_trial(study: optuna.Study, trial: FrozenTrial, retries: int) -> bool:
    """Queue ``trial`` (failed for an infrastructure reason) again with the same params,
    unless it used up its ``retries``; the retry records its lineage."""
    attempt = trial.user_attrs.get(record.ATTEMPT, 0) + 1
    if attempt > retries or trial.user_attrs.get(record.ROLE, record.ROLE_SEARCH) != record.ROLE_SEARCH:
        return False
    attrs = {record.ROLE: record.ROLE_SEARCH, record.RETRY_OF: trial.number, record.ATTEMPT: attempt}
    if record.PHASE in trial.user_attrs:  # a retried screen is still the family's screen
        attrs[record.PHASE] = trial.user_attrs[record.PHASE]
    if record.OOM_RETRY_OF in trial.user_attrs:  # keep the halved batch size it was re-run at
        attrs[record.BATCH_SIZE] = trial.user_attrs[record.BATCH_SIZE]
        attrs[record.OOM_RETRY_OF] = trial.user_attrs[record.OOM_RETRY_OF]
    study.enqueue_trial(trial.params, user_attrs=attrs)
    return True


def _started_long_ago(trial: FrozenTrial, backend: object) -> bool:
    grace = getattr(backend, "grace_period", None) or 0
    started = trial.datetime_start
    return bool(grace) and started is not None and (datetime.datetime.now() - started).total_seconds() > 2 * grace


def fail_stale_trials(study: optuna.Study, *, retries: int = 0, skip: Container[int] = ()) -> int:
    """Mark this study's orphaned RUNNING trials FAIL with a reason and queue their retries;
    return how many. ``skip``: trial ids the caller runs itself."""
    storage = study._storage
    backend = getattr(storage, "_backend", storage)
    stale_ids: set[int] = set()
    if isinstance(backend, optuna.storages.RDBStorage) and backend.heartbeat_interval:
        stale_ids = set(storage._get_stale_trial_ids(study._study_id))
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get(record.OWNER, "")
        if trial._trial_id in skip:
            continue
        if trial._trial_id in stale_ids:
            reason = "stale: no heartbeat from the process running it (it was killed or lost)"
        elif owner and _owner_is_dead(owner):
            reason = f"stale: the search process that ran it ({owner}) is gone"
        elif not owner and _started_long_ago(trial, backend):
            # Optuna skips RUNNING trials without a heartbeat row: a search killed between taking
            # a trial and recording it would leave it RUNNING forever.
            reason = "stale: its search died before recording an owner or a heartbeat"
        else:
            continue
        storage.set_trial_user_attr(trial._trial_id, record.FAIL_REASON, reason)
        storage.set_trial_user_attr(trial._trial_id, record.CAUSE, Cause.INFRASTRUCTURE.value)
        try:
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process finished or failed it first
        count += 1
        retry_trial(study, trial, retries)
    return count
