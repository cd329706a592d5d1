"""Arrows point down: the search imports neither the commands nor the package face.

The search reports to ``autoopt.search_progress`` (an interface); the terminal view of it
(``autoopt.progress``), the listing and the CLI are the commands' and import the search, never
the other way round. The version sits alone in ``autoopt._version`` so that the study can
record it without importing the package face.
"""

from __future__ import annotations

import json
import subprocess
import sys

SEARCH = ("autoopt.engine", "autoopt.trial_loop", "autoopt.phase_runs", "autoopt.phases", "autoopt.pattern_search",
          "autoopt.study", "autoopt.evidence", "autoopt.recommend")  # fmt: skip
COMMANDS = ("autoopt.cli", "autoopt.progress", "autoopt.listing", "autoopt.sweep_cli", "rich.live")


def loaded_after_importing(names: tuple[str, ...]) -> list[str]:
    code = (f"import sys\nfor name in {names!r}: __import__(name)\n"
            "print(__import__('json').dumps(sorted(sys.modules)))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_search_imports_no_command():
    loaded = loaded_after_importing(SEARCH)
    assert [name for name in COMMANDS if name in loaded] == []


TRAINING_AND_EXECUTORS = ("autoopt.runner", "autoopt.data", "autoopt.preflight", "autoopt.task", "autoopt.fused.trainer",
                          "autoopt.fused.group", "autoopt.fused.payoff", "autoopt.executors.build", "autoopt.executors.inline",
                          "autoopt.executors.local", "autoopt.executors.fused", "autoopt.executors.ray",
                          "autoopt.executors.ray_fused")  # fmt: skip
THE_SEARCH = ("autoopt.space", "autoopt.spec", "autoopt.engine", "autoopt.trial_loop", "autoopt.phases",
              "autoopt.phase_runs", "autoopt.evidence", "autoopt.recommend", "autoopt.storage.driver_cache")  # fmt: skip


def test_training_and_the_executors_import_nothing_of_the_search():
    # What crosses the layers (a trial's config, job and outcome) sits below both:
    # autoopt.trial_config, autoopt.runner's TrialJob, autoopt.outcome.
    loaded = loaded_after_importing(TRAINING_AND_EXECUTORS)
    assert [name for name in THE_SEARCH if name in loaded] == []
