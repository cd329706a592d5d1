"""Shared pieces of the core-search suite: tiny model files, storages, specs, the CLI.

Storage-dependent tests take the ``storage_url`` fixture, which runs them on SQLite and on
PostgreSQL (``postgres_support.postgres_url``: ``AUTOOPT_TEST_DATABASE_URL``, else the local
server; skipped without either, an error when CI=true).
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import delete_studies, postgres_url


@pytest.fixture
def write_model(tmp_path: Path):
    """Write a model file from source into tmp_path; returns its path."""

    def write(source: str, name: str = "model.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def study_name() -> str:
    """A name no other test run uses; tests needing several studies suffix it."""
    return f"core-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path, study_name: str) -> Iterator[str]:
    """Each storage autoopt supports; PostgreSQL studies named after ``study_name`` are deleted after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trials.db'}"
        return
    url = postgres_url("core")
    try:
        yield url
    finally:
        delete_studies(url, lambda name: name.startswith(study_name))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trials.db'}"
