"""The dashboard reads storage and the recommendation: it never loads the command line's
printing (``autoopt.cli.listing``), the search loop or the training code."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_FOR_THE_DASHBOARD = ("autoopt.cli.listing", "autoopt.cli.commands", "autoopt.engine.run", "autoopt.engine.trial_loop", "autoopt.training.runner")


def test_the_dashboard_imports_neither_the_listing_nor_the_search_loop_nor_training():
    code = ("import sys, json, autoopt.dashboard.app, autoopt.dashboard.report\n"
            f"print(json.dumps([m for m in {NOT_FOR_THE_DASHBOARD!r} if m in sys.modules]))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
