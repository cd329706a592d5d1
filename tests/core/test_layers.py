"""Arrows point down: the search imports neither the commands nor the package face.

The search reports to ``autoopt.engine.search_progress`` (an interface); the terminal view of it
(``autoopt.cli.progress``), the listing and the CLI are the commands' and import the search, never
the other way round. The version sits alone in ``autoopt._version`` so that the study can
record it without importing the package face.
"""

from __future__ import annotations

import json
import subprocess
import sys

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "autoopt"


def modules_under(folder: str) -> tuple[str, ...]:
    """Every module of ``autoopt/<folder>`` by its dotted name (a folder's ``__main__`` excluded)."""
    paths = sorted((PACKAGE / folder).rglob("*.py"))
    names = [".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__") for p in paths]
    return tuple(n for n in names if not n.endswith("__main__"))


SEARCH = modules_under("engine")
COMMANDS = (*modules_under("cli"), "rich.live")


def loaded_after_importing(names: tuple[str, ...]) -> list[str]:
    code = (f"import sys\nfor name in {names!r}: __import__(name)\n"
            "print(__import__('json').dumps(sorted(sys.modules)))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_search_imports_no_command():
    loaded = loaded_after_importing(SEARCH)
    assert [name for name in COMMANDS if name in loaded] == []


TRAINING_AND_EXECUTORS = (*modules_under("training"), *modules_under("executors"))


def test_training_and_the_executors_import_nothing_of_the_search():
    # What crosses the layers (a trial's config, job and outcome) sits below both:
    # autoopt.trial_config, autoopt.training.runner's TrialJob, autoopt.outcome.
    loaded = loaded_after_importing(TRAINING_AND_EXECUTORS)
    assert [name for name in loaded if name.startswith(("autoopt.engine", "autoopt.cli"))] == []


def test_storage_imports_nothing_above_it():
    loaded = loaded_after_importing(modules_under("storage"))
    assert [name for name in loaded if name.startswith(("autoopt.engine", "autoopt.cli", "autoopt.executors", "autoopt.training"))] == []


def test_the_optimizers_are_a_leaf():
    loaded = loaded_after_importing(modules_under("optimizers"))
    face = ("autoopt.optimizers", "autoopt._version", "autoopt.errors")  # the package face imports the last two
    assert [name for name in loaded if name.startswith("autoopt.") and not name.startswith(face)] == []
