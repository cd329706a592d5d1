"""Storages for the fault suite: SQLite in tmp_path, and PostgreSQL (``postgres_support.postgres_url``:
AUTOOPT_TEST_DATABASE_URL, else the local server; skipped without either, an error when CI=true)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import delete_studies, postgres_url


@pytest.fixture
def study_name() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trials.db'}"


@pytest.fixture
def pg_url(study_name: str) -> Iterator[str]:
    url = postgres_url("fault")
    yield url
    delete_studies(url, lambda name: name.startswith(study_name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
