"""Training never imports storage: the search is the one writer, and a trial's code runs
the same whether its results are stored or not (its reasons come from ``autoopt.outcome``)."""

from __future__ import annotations

import json
import subprocess
import sys

TRAINING = ("autoopt.training.runner", "autoopt.training.data", "autoopt.training.preflight", "autoopt.training.task", "autoopt.training.fused.trainer",
            "autoopt.training.fused.stack", "autoopt.outcome")  # fmt: skip


def test_the_training_modules_import_no_storage():
    code = (f"import sys\nfor name in {TRAINING!r}: __import__(name)\n"
            "print(__import__('json').dumps([m for m in sys.modules if m.startswith('autoopt.storage')]))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
