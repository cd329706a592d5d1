"""`autoopt sweep`: submitted, listed, followed and stopped through the CLI, against a real Ray job server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from ray.cluster_utils import Cluster
from ray_cluster import free_port, start_cluster, write_model
from typer.testing import CliRunner

from autoopt.cli.commands import app
from autoopt.cli.sweeps import sweep_app

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.e2e]

if not any(group.name == "sweep" for group in app.registered_groups):
    app.add_typer(sweep_app, name="sweep")  # until cli.py registers it

STUDY = """
[study]
model = "model.py"
trials = {trials}
epochs = 2
jobs = 2
cpus_per_trial = 0.5
confirm_top = 0
warm_start = false
pruner = "none"
seed = 0
"""


@pytest.fixture(scope="module")
def dashboard() -> Iterator[str]:
    """A head node (two CPUs) whose job server listens on 127.0.0.1 only."""
    port = free_port()
    cluster: Cluster = start_cluster(workers=0, num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
                                     dashboard_port=port)  # fmt: skip
    yield f"http://127.0.0.1:{port}"
    cluster.shutdown()


def sweep(*args: str) -> str:
    result = CliRunner().invoke(app, ["sweep", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def test_sweeps_are_submitted_listed_followed_and_stopped(
    dashboard: str, database_url: str, new_study_name: Callable[[], str], tmp_path: Path
) -> None:
    write_model(tmp_path, epoch_seconds=0.2)
    (tmp_path / "short.toml").write_text(STUDY.format(trials=3))
    (tmp_path / "long.toml").write_text(STUDY.format(trials=500))
    short_name, long_name = new_study_name(), new_study_name()
    common = ["--address", dashboard, "--storage", database_url]

    started = time.monotonic()
    short = sweep("submit", str(tmp_path / "short.toml"), "--study", short_name, *common).strip()
    long = sweep("submit", str(tmp_path / "long.toml"), "--study", long_name, *common).strip()
    assert time.monotonic() - started < 20, "submit must return at once, not wait for the sweep"

    listed = sweep("list", "--address", dashboard)
    assert short in listed and long in listed

    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    wait_for(lambda: "SUCCEEDED" in sweep("status", short, "--address", dashboard), timeout=150, what="the short sweep")
    assert "done: 3 complete" in sweep("logs", short, "--address", dashboard)
    short_trials = optuna.load_study(study_name=short_name, storage=url).trials
    assert [t.state for t in short_trials] == [TrialState.COMPLETE] * 3

    def long_has_trials() -> bool:
        try:
            return any(t.state == TrialState.COMPLETE for t in optuna.load_study(study_name=long_name, storage=url).trials)
        except KeyError:
            return False

    wait_for(long_has_trials, timeout=90, what="the long sweep's first trial")
    assert "RUNNING" in sweep("status", long, "--address", dashboard)
    assert "stopping" in sweep("stop", long, "--address", dashboard)
    wait_for(lambda: "STOPPED" in sweep("status", long, "--address", dashboard), timeout=30, what="the stop")
    assert "autoopt study" in sweep("logs", long, "--follow", "--address", dashboard)
