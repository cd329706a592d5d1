"""Fixtures of the storage suite: the databases autoopt supports, and a study name per test.

``storage_url`` runs a test on SQLite and on PostgreSQL (``AUTOOPT_TEST_DATABASE_URL``;
skipped when unset, an error when CI=true), as the core and fault suites do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import delete_studies, postgres_url


@pytest.fixture
def study_name() -> str:
    """A name no other test run uses; tests needing several studies suffix it."""
    return f"storage-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path, study_name: str) -> Iterator[str]:
    """Each database autoopt supports; PostgreSQL studies named after ``study_name`` are deleted after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trials.db'}"
        return
    url = postgres_url("storage")
    try:
        yield url
    finally:
        delete_studies(url, lambda name: name.startswith(study_name))
