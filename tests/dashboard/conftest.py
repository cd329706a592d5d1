"""Fixtures: the populated storages, the app on them, a real server, and headless Chromium.

The storages are filled once per session and storage kind: the dashboard only reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_http import call
from dashboard_studies import Populated, best_search_values, fill_storage
from postgres_support import delete_studies, postgres_url
from skip_reasons import needs

from autoopt.dashboard import create_app
from autoopt.dashboard.server import make_server
from autoopt.storage import normalize_url


@pytest.fixture(scope="session")
def sqlite_storage(tmp_path_factory: pytest.TempPathFactory) -> Populated:
    return fill_storage(f"sqlite:///{tmp_path_factory.mktemp('storage') / 'studies.db'}")


@pytest.fixture(scope="session")
def postgresql_storage() -> Iterator[Populated]:
    """The database of AUTOOPT_TEST_DATABASE_URL (CI sets it); the studies are removed after."""
    filled = fill_storage(normalize_url(postgres_url("dashboard")))  # postgresql:// means psycopg 3, as everywhere in autoopt
    yield filled
    delete_studies(filled.url, lambda name: name in filled.created)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def populated(request: pytest.FixtureRequest) -> Populated:
    """Each storage kind in turn, so every in-process test runs on SQLite and PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture(scope="session")
def app(populated: Populated) -> Any:
    return create_app(populated.url)


@pytest.fixture(scope="session")
def server_url(sqlite_storage: Populated) -> Iterator[str]:
    """The dashboard of ``sqlite_storage`` on the real threaded server, on a free loopback port.

    Browser tests use SQLite only: storage parity is the in-process tests' job, and each
    Chromium run costs seconds.
    """
    server = make_server(create_app(sqlite_storage.url), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - returns the runner below
    """Run headless Chromium on a URL: returns the DOM after scripts ran, saves a screenshot.

    Skipped when Chromium is absent, except in CI (CI=true), where that is a failure.
    """
    binary = _chromium_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed but CI=true: install Debian's `chromium` package (.ci/run does).")
        pytest.skip(needs("Chromium for the dashboard's browser tests", "apt-get install chromium"))

    def run(url: str, *, screenshot: Path | None = None, height: int = 1600) -> str:
        profile = tmp_path_factory.mktemp("chromium-profile")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size=1400,{height}",
            "--virtual-time-budget=5000",  # under the 10 s live refresh of a study with a running trial
            "--dump-dom",
            url,
        ]
        if screenshot is not None:
            command.insert(-2, f"--screenshot={screenshot}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
        assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
        return done.stdout

    return run


@pytest.fixture(scope="session")
def oracle():  # noqa: ANN201
    return best_search_values


@pytest.fixture(scope="session")
def mnist_page(app: Any, populated: Populated) -> str:
    """The MNIST study's page, requested once for the tests that only read it."""
    return call(app, f"/studies/{populated.mnist._study_id}").text
