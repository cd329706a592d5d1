"""A run ends with one line per skipped group, naming what is missing and how to install it; PostgreSQL is
found at its default local address when ``AUTOOPT_TEST_DATABASE_URL`` is unset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_support import LOCAL_URL, POSTGRES_ENV, local_server, postgres_url
from skip_reasons import needs

TESTS = Path(__file__).parent

SKIPPING = """
import pytest
from skip_reasons import needs

@pytest.mark.parametrize("n", [1, 2])
def test_needs_a_browser(n):
    pytest.skip(needs("Chromium", "apt-get install chromium"))

def test_runs():
    pass
"""


def test_a_run_ends_with_one_line_per_skipped_group(tmp_path):
    (tmp_path / "test_sample.py").write_text(SKIPPING)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "2 tests skipped: needs Chromium; install: apt-get install chromium" in lines[-2:]


def test_postgres_is_found_at_its_local_address_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    if local_server() is None:
        pytest.skip(needs(f"PostgreSQL at {LOCAL_URL} to check that it is found", "apt-get install postgresql"))
    assert postgres_url("discovery") == LOCAL_URL
