"""Fixtures of the fused-trials suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_threaded(one_thread: None) -> None:
    """Every test here runs on one thread (tests/conftest.py says why)."""
