"""The PostgreSQL every suite runs against: its URL, and removing the studies a test made there.

A module, not conftest.py: the suites import it by name (tests/ is on sys.path through the
root conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import optuna
import pytest

from autoopt.storage import open_storage

POSTGRES_ENV = "AUTOOPT_TEST_DATABASE_URL"


def postgres_url(suite: str) -> str:
    """``AUTOOPT_TEST_DATABASE_URL``; unset, the calling test skips, or fails under CI=true (CI must run it)."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {POSTGRES_ENV} is unset: CI must run the {suite} tests against PostgreSQL "
                    "(e.g. postgresql://postgres@127.0.0.1:5432/test).", pytrace=False)  # fmt: skip
    pytest.skip(f"set {POSTGRES_ENV}=postgresql://user@host:5432/db to run the {suite} tests against PostgreSQL")


def delete_studies(url: str, doomed: Callable[[str], bool]) -> None:
    """Delete the studies in ``url`` whose names ``doomed`` picks."""
    storage = open_storage(url)
    for summary in storage.get_all_studies():
        if doomed(summary.study_name):
            optuna.delete_study(study_name=summary.study_name, storage=storage)
    storage.engine.dispose()
