"""Storages for the fault suite: SQLite in tmp_path, and PostgreSQL from AUTOOPT_TEST_DATABASE_URL
(skipped when unset, an error when CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from autoopt.storage import open_storage
from fault_support import POSTGRES_ENV


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {POSTGRES_ENV} is unset: CI must run the PostgreSQL fault tests.", pytrace=False)
    pytest.skip(f"set {POSTGRES_ENV}=postgresql://user@host:5432/db to run the PostgreSQL fault tests")


@pytest.fixture
def study_name() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trials.db'}"


@pytest.fixture
def pg_url(study_name: str) -> Iterator[str]:
    url = postgres_url()
    yield url
    storage = open_storage(url)
    for summary in storage.get_all_studies():
        if summary.study_name.startswith(study_name):
            optuna.delete_study(study_name=summary.study_name, storage=storage)
    storage.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
