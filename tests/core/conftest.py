"""Shared pieces of the core-search suite: tiny model files, storages, specs, the CLI.

Storage-dependent tests take the ``storage_url`` fixture, which runs them on SQLite and on
PostgreSQL (``AUTOOPT_TEST_DATABASE_URL``; skipped when unset, an error when CI=true).
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from autoopt.storage import open_storage

POSTGRES_ENV = "AUTOOPT_TEST_DATABASE_URL"


@pytest.fixture
def write_model(tmp_path: Path):
    """Write a model file from source into tmp_path; returns its path."""

    def write(source: str, name: str = "model.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {POSTGRES_ENV} is unset: CI must run the PostgreSQL tests "
                    "(e.g. postgresql://postgres@127.0.0.1:5432/test).", pytrace=False)  # fmt: skip
    pytest.skip(f"set {POSTGRES_ENV}=postgresql://user@host:5432/db to run the PostgreSQL tests")


@pytest.fixture
def study_name() -> str:
    """A name no other test run uses; tests needing several studies suffix it."""
    return f"core-{uuid.uuid4().hex[:10]}"


def _delete_studies(url: str, prefix: str) -> None:
    storage = open_storage(url)
    for summary in storage.get_all_studies():
        if summary.study_name.startswith(prefix):
            optuna.delete_study(study_name=summary.study_name, storage=storage)
    storage.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path, study_name: str) -> Iterator[str]:
    """Each storage autoopt supports; PostgreSQL studies named after ``study_name`` are deleted after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trials.db'}"
        return
    url = _postgres_url()
    try:
        yield url
    finally:
        _delete_studies(url, study_name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trials.db'}"
