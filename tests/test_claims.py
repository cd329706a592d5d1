"""What the README and pyproject.toml claim about the Python version, checked against each other and against CI."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def claimed_minimum() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major, minor = re.fullmatch(r">=(\d+)\.(\d+)", spec).groups()
    return int(major), int(minor)


def test_the_readme_claims_the_python_that_pyproject_requires():
    major, minor = claimed_minimum()
    assert f"Python >= {major}.{minor} (CI runs {major}.{minor}, the lowest it claims)" in (ROOT / "README.md").read_text()


def test_ci_tests_the_lowest_python_claimed():
    if os.environ.get("CI") != "true":  # by hand any Python at or above the minimum will do
        assert sys.version_info[:2] >= claimed_minimum()
        return
    assert sys.version_info[:2] == claimed_minimum()
