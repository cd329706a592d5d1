"""Fixtures every test folder may use, and the closing lines that say what was skipped and why.

Storage-dependent tests take ``storage_url``, which runs them on SQLite and on PostgreSQL
(``postgres_support.postgres_url``: ``AUTOOPT_TEST_DATABASE_URL``, else the local server;
skipped without either, an error when CI=true); ``study_name`` is unique per test and
starts with the test's folder name, and the PostgreSQL studies it names are deleted after.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from postgres_support import delete_studies, postgres_url


def _suite(request: pytest.FixtureRequest) -> str:
    return Path(str(request.node.path)).parent.name


@pytest.fixture
def study_name(request: pytest.FixtureRequest) -> str:
    """A name no other test run uses; tests needing several studies suffix it."""
    return f"{_suite(request)}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trials.db'}"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, study_name: str) -> Iterator[str]:
    """The PostgreSQL test database; the studies named after ``study_name`` are deleted after."""
    url = postgres_url(_suite(request))
    try:
        yield url
    finally:
        delete_studies(url, lambda name: name.startswith(study_name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each storage autoopt supports."""
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small tensors gain nothing from two threads, and on a shared two-core box they spin-wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per distinct skip reason: what is missing here and the command that installs it."""
    reasons = Counter(skip_reason(report) for report in terminalreporter.stats.get("skipped", []))
    if not reasons:
        return
    terminalreporter.section("skipped: what is missing, and how to install it")
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.write_line(f"{count} test{'s' * (count > 1)} skipped: {reason}")
