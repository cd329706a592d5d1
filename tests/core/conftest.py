"""Shared pieces of the core-search suite: tiny model files, storages, specs, the CLI.

Storage-dependent tests take ``storage_url`` (tests/conftest.py), which runs them on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write_model(tmp_path: Path):
    """Write a model file from source into tmp_path; returns its path."""

    def write(source: str, name: str = "model.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


