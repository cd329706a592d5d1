"""Plain helpers of the core-search suite (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

import autoopt
from autoopt.cli import commands as cli
from autoopt.storage import open_storage

MODELS = Path(__file__).parent / "models"


def model_path(name: str) -> Path:
    """A model file kept under tests/core/models/, e.g. ``model_path("blobs")``."""
    return MODELS / f"{name}.py"


def make_spec(model: str | Path, storage: str, study: str, *, space: dict[str, Any] | None = None,
              **settings: Any) -> autoopt.StudySpec:  # fmt: skip
    """A small, seeded search: two optimizers, no confirmation unless asked."""
    overrides = {"storage": storage, "study": study, "seed": 0, "confirm_top": 0, **settings}
    table = {"optimizers": ["adam", "sgd"], **(space or {})}
    path = model if isinstance(model, Path) else model_path(model)
    return autoopt.build_spec(path, overrides=overrides, space_table=table)


def trials_of(storage: str, study: str, *states: TrialState) -> list[FrozenTrial]:
    return load_study(storage, study).get_trials(deepcopy=False, states=states or None)


def by_state(trials: list[FrozenTrial], state: TrialState) -> list[FrozenTrial]:
    return [t for t in trials if t.state == state]


def run_cli_inprocess(args: list[str], capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:  # fmt: skip
    """Run ``autoopt ARGS`` through the console script's ``main()``: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["autoopt", *args])
    code: Any = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "autoopt.cli", *args]


def cli_env() -> dict[str, str]:
    """No terminal, wide lines: what a CI log sees, unwrapped."""
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``autoopt`` command line in a subprocess."""
    return subprocess.run(cli_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def run_cli_parallel(*commands: list[str], cwd: Path, timeout: float = 120) -> list[subprocess.CompletedProcess[str]]:
    """Run several read-only ``autoopt`` commands at once (each pays the torch import)."""
    processes = [subprocess.Popen(cli_command(*args), cwd=cwd, env=cli_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for args in commands]  # fmt: skip
    results = []
    for args, process in zip(commands, processes):
        out, err = process.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results


def load_study(storage: str, study: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=open_storage(storage))
