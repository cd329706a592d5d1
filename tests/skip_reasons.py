"""How a test that cannot run here says so: what is missing and the command that installs it.

The root conftest.py ends every run with one line per distinct reason, so a fresh
machine's ``python -m pytest`` never skips a test without saying what to install.
"""

from __future__ import annotations

NEEDS = "needs "


def needs(what: str, install: str) -> str:
    """A skip reason, e.g. ``needs Chromium; install: apt-get install chromium``."""
    return f"{NEEDS}{what}; install: {install}"
