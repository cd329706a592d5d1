"""The command line answers at once: ``--help`` and every mistake that needs no model import no torch, Ray or engine.

Speed itself is measured by ``benchmarks/cli_speed.py`` beside ``optuna --help``; these
tests check the structure that makes it fast, which no timing on a shared machine can.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from core_support import cli_command, model_path
from optuna.trial import TrialState

from autoopt.engine.settings import DEFAULT_BUDGET
from autoopt.engine.spec import DEFAULT_EPOCHS, StudySpec
from autoopt.storage import record

HEAVY = ("torch", "ray", "optuna", "sqlalchemy", "numpy", "autoopt.engine.run", "autoopt.engine.recommend", "autoopt.dashboard")

# Runs ``autoopt ARGS`` through the console script's main(), then prints which heavy modules it imported.
PROBE = """
import json, sys
from autoopt.cli import commands as cli
heavy = json.loads(sys.argv[2])
sys.argv = ["autoopt", *json.loads(sys.argv[1])]
try:
    cli.main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}))
"""


def plain_env() -> dict[str, str]:
    """What a CI log sees: no terminal, and no COLUMNS to widen it."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"NO_COLOR": "1", "TERM": "dumb"}


def imported_by(*args: str, cwd: Path) -> tuple[int, list[str], str]:
    """(exit code, the heavy modules ``autoopt ARGS`` imported, its stderr)."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps([*args]), json.dumps(HEAVY)], cwd=cwd,
                          env=plain_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    return probe["code"], probe["imported"], done.stderr


def test_importing_the_command_line_loads_nothing_heavy():
    code = f"import sys, autoopt, autoopt.cli.commands; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_the_module_level_api_still_works():
    code = ("import autoopt; print([name for name in autoopt.__all__ if getattr(autoopt, name, None) is None]); "
            "print(autoopt.optimizers.Lion.__name__, autoopt.search.__module__, autoopt.StudySpec.__name__)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "Lion autoopt.engine.run StudySpec"]


@pytest.mark.parametrize("first", ["import autoopt", "import autoopt.engine.recommend", "from autoopt.engine.recommend import to_json",
                                   "from autoopt.dashboard import create_app"])  # fmt: skip
def test_a_submodule_import_leaves_the_function_of_the_same_name(first):
    code = f"{first}\nimport autoopt\nprint(autoopt.recommend.__name__, callable(autoopt.recommend), autoopt.optimizers.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["recommend", "True", "autoopt.optimizers"]


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["studies", "--help"], ["trials", "--help"],
                                  ["recommend", "--help"], ["report", "--help"], ["dashboard", "--help"],
                                  ["sweep", "--help"], ["sweep", "submit", "--help"]], ids=" ".join)  # fmt: skip
def test_help_imports_nothing_heavy(args, tmp_path):
    code, imported, _ = imported_by(*args, cwd=tmp_path)
    assert (code, imported) == (0, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "missing.py"], "missing.py: no such model file."),
        (["search", str(model_path("blobs")), "--no-such-flag"], "No such option: --no-such-flag"),
        (["studies", "--storage", "sqlite:///typo.db"], "there is no database at typo.db"),
        (["report", "x", "--storage", "sqlite:///typo.db"], "there is no database at typo.db"),
        (["dashboard", "--storage", "sqlite:///typo.db"], "there is no database at typo.db"),
    ],
    ids=["missing-model", "bad-flag", "missing-sqlite", "report-missing-sqlite", "dashboard-missing-sqlite"],
)
def test_a_mistake_that_needs_no_model_imports_nothing_heavy(args, message, tmp_path):
    code, imported, err = imported_by(*args, cwd=tmp_path)
    assert code == 2 and message in err and imported == []


def test_a_bad_url_and_an_unknown_study_are_answered_before_optuna_loads(tmp_path):
    for command in (["studies"], ["recommend", "x"]):
        code, imported, err = imported_by(*command, "--storage", "nonsense", cwd=tmp_path)
        assert code == 2 and "is not a database URL" in err and imported == ["sqlalchemy"], (command, imported)
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    subprocess.run([sys.executable, "-c", f"import optuna; optuna.create_study(storage={url!r}, study_name='other')"],
                   check=True, timeout=120, capture_output=True)  # fmt: skip
    for command in ("recommend", "trials", "report"):
        code, imported, err = imported_by(command, "nosuch", "--storage", url, cwd=tmp_path)
        assert code == 2 and "no study named 'nosuch'" in err and imported == ["sqlalchemy"], (command, imported, err)


def test_search_help_shows_every_default_and_the_environment_variable(tmp_path):
    done = subprocess.run(cli_command("search", "--help"), cwd=tmp_path, env={**plain_env(), "COLUMNS": "250"},
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("│ --")}
    spec = StudySpec(Path("m.py"), "m", "sqlite:///m.db")
    expected = {"--budget": DEFAULT_BUDGET, "--epochs": f"else {DEFAULT_EPOCHS}", "--confirm-top": spec.confirm_top,
                "--confirm-seeds": spec.confirm_seeds, "--retries": spec.retries, "--trials": "no limit but --budget",
                "--storage": "$AUTOOPT_STORAGE, else sqlite:///autoopt.db", "--sampler": spec.sampler,
                "--pruner": spec.pruner, "--jobs": spec.jobs}  # fmt: skip
    for flag, default in expected.items():
        assert "[default: " in lines[flag] and str(default) in lines[flag], lines[flag]
    assert re.search(r" search \[OPTIONS\] MODEL_FILE *$", done.stdout, re.MULTILINE) and "{" not in done.stdout


def test_piped_output_never_wraps_a_path_or_a_reason(tmp_path):
    url = f"sqlite:///{tmp_path / ('a-long-folder-name-' * 3)}.db"
    reason = "RuntimeError: CUDA out of memory while allocating /very/long/path/to/some/checkpoint/file.pt"
    study = optuna.create_study(storage=url, study_name="piped")
    failed = study.ask()
    failed.set_user_attr(record.FAIL_REASON, reason)
    study.tell(failed, state=TrialState.FAIL)
    done = subprocess.run(cli_command("trials", "piped", "--storage", url), cwd=tmp_path, env=plain_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and reason in done.stdout, done.stdout
