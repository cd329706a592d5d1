"""Find trials left RUNNING by a driver that died, and mark them failed with the reason.

Two signals: the owner tag (host, pid, process start time) catches a dead driver on this
machine at once; Optuna's heartbeat (written with the database's clock) catches the rest
after its grace period.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import optuna
from optuna.trial import TrialState

from autoopt import record


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


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark this study's orphaned RUNNING trials FAIL with a reason; return how many."""
    storage = study._storage
    backend = getattr(storage, "_backend", storage)
    stale_ids: set[int] = set()
    if isinstance(backend, optuna.storages.RDBStorage) and backend.heartbeat_interval:
        stale_ids = set(backend._get_stale_trial_ids(study._study_id))
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get("owner", "")
        if trial._trial_id in stale_ids:
            reason = "stale: no heartbeat from the process running it (it was killed or lost)"
        elif owner and _owner_is_dead(owner):
            reason = f"stale: the search process that ran it ({owner}) is gone"
        else:
            continue
        storage.set_trial_user_attr(trial._trial_id, record.FAIL_REASON, reason)
        try:
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process finished or failed it first
        count += 1
    return count
