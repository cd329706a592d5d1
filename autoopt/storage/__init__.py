"""Optuna storage made safe: URLs, the driver's cache, heartbeats, stale trials, what is recorded.

This package is the only code in autoopt that touches anything private in Optuna
(``tests/storage/test_private_wall.py`` fails if another module does). Each private
touch sits behind a named function here, so an Optuna upgrade that moves one breaks
this package and its contract suite (``tests/storage``), not the search.

Modules, each named for what it holds:

- ``urls``: storage URLs and the checks that need no database library (``--help`` speed)
- ``record``: the names autoopt stores on trials and studies
- ``connection``: opening an SQL storage with errors a user can act on
- ``studies``: finding a study by name
- ``reconnect``: database calls that outlive a lost connection
- ``driver_cache``: the search driver's storage, its own trials served from memory
- ``heartbeats``: the heartbeat interval and writing heartbeats
- ``stale``: owner tags, and failing and retrying trials whose driver died
- ``trials``: a trial's id, batched attribute writes, taking a new trial

``urls`` and ``record`` load with the package; the rest (which import Optuna and
SQLAlchemy) load on first use, so the command line answers ``--help`` without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autoopt.storage import record
from autoopt.storage.record import stored_cause
from autoopt.storage.urls import (
    DEFAULT_STORAGE,
    EXAMPLES,
    STORAGE_ENV,
    STORAGE_HELP,
    default_storage,
    given_or_default_storage,
    hide_password,
    normalize_url,
    require_existing_sqlite,
    require_study_name,
    unknown_study,
)

if TYPE_CHECKING:
    from autoopt.storage.connection import cached_for_reading, open_storage
    from autoopt.storage.driver_cache import DriverStorage
    from autoopt.storage.heartbeats import HEARTBEAT_SECONDS, record_heartbeats
    from autoopt.storage.stale import fail_stale_trials, owner_tag, retry_trial
    from autoopt.storage.studies import load_existing_study, require_study, study_id_of, study_names
    from autoopt.storage.trials import read_others_now, set_user_attrs, stored_trial, take_new_trial, trial_id_of

_LAZY = {
    "cached_for_reading": "connection", "open_storage": "connection",
    "DriverStorage": "driver_cache",
    "HEARTBEAT_SECONDS": "heartbeats", "record_heartbeats": "heartbeats",
    "fail_stale_trials": "stale", "owner_tag": "stale", "retry_trial": "stale",
    "load_existing_study": "studies", "require_study": "studies", "study_id_of": "studies", "study_names": "studies",
    "read_others_now": "trials", "set_user_attrs": "trials", "stored_trial": "trials", "take_new_trial": "trials",
    "trial_id_of": "trials",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autoopt.storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"autoopt.storage.{module}"), name)
    globals()[name] = value  # the next lookup is a plain one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_STORAGE", "EXAMPLES", "STORAGE_ENV", "STORAGE_HELP", "default_storage", "given_or_default_storage",
    "hide_password", "normalize_url", "record", "require_existing_sqlite", "require_study_name", "stored_cause", "unknown_study",
    *_LAZY,
]  # fmt: skip
