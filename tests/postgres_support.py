"""The PostgreSQL every suite runs against: its URL, and removing the studies a test made there.

A module, not conftest.py: the suites import it by name (tests/ is on sys.path through the
root conftest.py).

``AUTOOPT_TEST_DATABASE_URL`` names the database; unset, the server a fresh machine of
this kind runs is tried at its default local address (``LOCAL_URL``), so the README's
``python -m pytest`` covers PostgreSQL wherever one answers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import optuna
import pytest
from skip_reasons import needs

from autoopt.storage import open_storage

POSTGRES_ENV = "AUTOOPT_TEST_DATABASE_URL"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 2
INSTALL = (f"apt-get install postgresql, then create database `test` with trust auth for 127.0.0.1 "
           f"(or set {POSTGRES_ENV}=postgresql://user@host:5432/db)")  # fmt: skip


@functools.cache
def local_server() -> str | None:
    """``LOCAL_URL`` when a server answers there within a couple of seconds, else None."""
    try:
        import psycopg
    except ImportError:  # the postgres extra is not installed: nothing to connect with
        return None
    try:
        with psycopg.connect(LOCAL_URL, connect_timeout=CONNECT_TIMEOUT_S):
            return LOCAL_URL
    except psycopg.Error:
        return None


def postgres_url(suite: str) -> str:
    """``AUTOOPT_TEST_DATABASE_URL``, else the local server; without either the calling test
    skips, or fails under CI=true (CI must run it)."""
    url = os.environ.get(POSTGRES_ENV) or local_server()
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {POSTGRES_ENV} is unset and no PostgreSQL answers at {LOCAL_URL}: CI must run "
                    f"the {suite} tests against PostgreSQL.", pytrace=False)  # fmt: skip
    pytest.skip(needs(f"PostgreSQL ({POSTGRES_ENV} unset and none at {LOCAL_URL})", INSTALL))


def delete_studies(url: str, doomed: Callable[[str], bool]) -> None:
    """Delete the studies in ``url`` whose names ``doomed`` picks."""
    storage = open_storage(url)
    for summary in storage.get_all_studies():
        if doomed(summary.study_name):
            optuna.delete_study(study_name=summary.study_name, storage=storage)
    storage.engine.dispose()
