"""Find a study by name in a storage, or say which studies the storage holds."""

from __future__ import annotations

import optuna

from autoopt.storage.connection import open_storage
from autoopt.storage.urls import hide_password, unknown_study


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def require_study(storage: optuna.storages.BaseStorage, name: str, url: str) -> optuna.Study:
    """Load study ``name`` or say which studies exist."""
    if name not in study_names(storage):
        raise unknown_study(name, hide_password(url), study_names(storage))
    return optuna.load_study(study_name=name, storage=storage)


def load_existing_study(name: str, url: str) -> optuna.Study:
    """Study ``name`` of the storage at ``url``, for reading: creates neither the database nor the study."""
    return require_study(open_storage(url, create=False), name, url)


def study_id_of(study: optuna.Study | optuna.study.FrozenStudy) -> int:
    """The storage's id of ``study`` (a live study or one of ``storage.get_all_studies()``)."""
    return study._study_id
