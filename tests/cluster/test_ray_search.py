"""`autoopt search --backend ray` on a real three-node cluster, writing to the real PostgreSQL server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState
from ray.cluster_utils import Cluster
from ray_cluster import autoopt_command, load, run_autoopt, write_model

from autoopt.storage import record

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.e2e]


def search_args(model: Path, study: str, url: str, address: str, trials: int) -> list[str]:
    return ["search", str(model), "--backend", "ray", "--address", address, "--storage", url, "--study", study,
            "--trials", str(trials), "--seed", "0", "--confirm-top", "0", "--no-warm-start", "--pruner", "none"]  # fmt: skip


def test_trials_run_on_several_nodes_and_all_land_in_the_database(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project", epoch_seconds=0.3)

    result = run_autoopt(*search_args(model, study_name, database_url, cluster.address, trials=9))

    assert result.returncode == 0, result.stderr[-3000:]
    trials = load(study_name, database_url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 9, [t.user_attrs.get(record.FAIL_REASON) for t in trials]
    nodes = {t.user_attrs[record.ENV]["node"] for t in trials}
    assert len(nodes) > 1, nodes
    assert all(len(t.user_attrs[record.CURVE]) == 3 for t in trials)


# Runs last in this module: it takes a node away from the module's cluster.
def test_a_killed_node_fails_its_trials_with_the_reason_and_the_study_still_finishes(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project", epoch_seconds=0.7)
    trials = 8
    search = subprocess.Popen(autoopt_command(*search_args(model, study_name, database_url, cluster.address, trials)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        complete_before = _wait_for_complete(study_name, database_url, at_least=2, timeout=90)
        victim = cluster.worker_nodes.copy().pop()  # every node holds a running trial by now
        cluster.remove_node(victim, allow_graceful=False)
        _, stderr = search.communicate(timeout=150)
    finally:
        search.kill()
    assert search.returncode == 0, stderr[-3000:]

    final = load(study_name, database_url).trials
    complete = {t.number for t in final if t.state == TrialState.COMPLETE}
    failed = [t for t in final if t.state == TrialState.FAIL]
    assert complete_before <= complete
    assert len(complete) == trials
    assert failed, "the killed node's trial should have failed"
    assert all("ray node/actor died" in t.user_attrs[record.FAIL_REASON] for t in failed)
    assert not [t for t in final if t.state == TrialState.RUNNING]


def _wait_for_complete(study: str, url: str, *, at_least: int, timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = {t.number for t in load(study, url).trials if t.state == TrialState.COMPLETE}
        except KeyError:  # the study is not created yet
            done = set()
        if len(done) >= at_least:
            return done
        time.sleep(0.3)
    raise AssertionError(f"fewer than {at_least} trials completed in {timeout} s")
