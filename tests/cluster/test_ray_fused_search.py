"""`autoopt search --backend ray --fuse 4` on a real three-node cluster: groups train on the nodes,
every member stays its own trial, and a dead node fails its group's members so that they are retried."""

from __future__ import annotations

import subprocess
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState
from ray.cluster_utils import Cluster
from ray_cluster import autoopt_command, load, run_autoopt

from autoopt.storage import record

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.e2e]

# A model vmap can train; its evaluation after each epoch sleeps, so that a node can die while its group trains.
MODEL = textwrap.dedent(
    """
    import time

    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    epochs = 3
    EPOCH_SECONDS = {epoch_seconds}

    def datasets():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(160, 6, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        return TensorDataset(x[:128], y[:128]), TensorDataset(x[128:], y[128:])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))

        def forward(self, x):
            if not torch.is_grad_enabled():  # evaluation: once an epoch, whatever the batch size
                time.sleep(EPOCH_SECONDS)
            return self.layers(x)

    def build_model():
        return Net()
    """
)


def write_model(folder: Path, *, epoch_seconds: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "model.py"
    model.write_text(MODEL.format(epoch_seconds=epoch_seconds))
    return model


def search_args(model: Path, storage: str, study: str, *options: str) -> list[str]:
    return ["search", str(model), "--storage", storage, "--study", study, "--seed", "0", "--confirm-top", "0",
            "--no-warm-start", "--fuse", "4", *options]  # fmt: skip


def finished(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


def by_group(trials: list[FrozenTrial]) -> dict[int, list[FrozenTrial]]:
    groups = defaultdict(list)
    for trial in trials:
        groups[trial.user_attrs["fused_group"]].append(trial)
    return groups


def test_members_train_in_groups_on_the_nodes_each_its_own_trial_as_they_train_locally(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project")
    options = ("--jobs", "2", "--trials", "8", "--pruner", "none")  # 2 groups x 4 = 8 slots: all asked at once

    on_ray = run_autoopt(*search_args(model, database_url, study_name, "--backend", "ray", "--address", cluster.address, *options))
    here = run_autoopt(*search_args(model, f"sqlite:///{tmp_path}/local.db", study_name, *options))

    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert here.returncode == 0, here.stderr[-3000:]
    assert "trials run one at a time" not in on_ray.stderr
    trials = finished(load(study_name, database_url))
    assert len(trials) == 8
    groups = by_group(trials)
    assert len(groups) == 2 and all(len(members) == 4 for members in groups.values())
    for members in groups.values():  # one family and batch size, trained together on one node
        assert len({(t.params["optimizer"], t.params["batch_size"]) for t in members}) == 1
        assert len({t.user_attrs[record.ENV]["node"] for t in members}) == 1
        assert all(t.user_attrs["fused_size"] == 4 for t in members)
    local = {t.number: t for t in finished(optuna.load_study(study_name=study_name, storage=f"sqlite:///{tmp_path}/local.db"))}
    for trial in trials:
        alike = local[trial.number]
        assert trial.params == alike.params
        assert len(trial.user_attrs[record.CURVE]) == 3
        assert trial.user_attrs[record.CURVE] == pytest.approx(alike.user_attrs[record.CURVE], rel=1e-4, abs=1e-6)


def test_the_pruner_stops_members_of_a_cluster_group_one_by_one(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project")

    result = run_autoopt(*search_args(model, database_url, study_name, "--backend", "ray", "--address", cluster.address,
                                      "--trials", "16", "--epochs", "4", "--pruner", "asha"))  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    trials = finished(load(study_name, database_url))
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "ASHA pruned no member"
    assert all(len(t.user_attrs[record.CURVE]) == t.user_attrs[record.EPOCHS_RUN] < 4 for t in pruned)
    assert all(record.PRUNE_REASON in t.user_attrs for t in pruned)
    groups = by_group(trials)
    # A pruned member left its group, which went on training the others.
    assert any(len({t.user_attrs[record.EPOCHS_RUN] for t in members}) > 1 for members in groups.values())


def test_trials_without_a_fused_rule_run_alone_on_the_cluster_beside_the_groups(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project")

    result = run_autoopt(*search_args(model, database_url, study_name, "--backend", "ray", "--address", cluster.address,
                                      "--optimizers", "adam,asgd", "--trials", "10", "--pruner", "none"))  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    trials = finished(load(study_name, database_url))
    alone = [t for t in trials if t.params["optimizer"] == "asgd"]  # torch's ASGD: no fused update rule
    grouped = [t for t in trials if t.params["optimizer"] == "adam"]
    assert alone and grouped, [t.params["optimizer"] for t in trials]
    for trial in alone:
        assert trial.state == TrialState.COMPLETE and "fused_group" not in trial.user_attrs
        assert len(trial.user_attrs[record.CURVE]) == 3 and trial.user_attrs[record.ENV].get("node")
    assert all("fused_group" in t.user_attrs for t in grouped)


# Runs last in this module: it takes a node away from the module's cluster.
def test_a_killed_node_fails_its_groups_members_with_the_reason_and_the_study_still_finishes(
    cluster: Cluster, database_url: str, study_name: str, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "project", epoch_seconds=1.0)
    args = search_args(model, database_url, study_name, "--backend", "ray", "--address", cluster.address,
                       "--jobs", "3", "--trials", "12", "--epochs", "6", "--pruner", "none")  # fmt: skip
    search = subprocess.Popen(autoopt_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_reports(study_name, database_url, at_least=12, timeout=120)  # three groups, one on each node
        cluster.remove_node(cluster.worker_nodes.copy().pop(), allow_graceful=False)
        _, stderr = search.communicate(timeout=240)
    finally:
        search.kill()
    assert search.returncode == 0, stderr[-3000:]

    final = load(study_name, database_url).trials
    failed = [t for t in final if t.state == TrialState.FAIL]
    assert len([t for t in final if t.state == TrialState.COMPLETE]) == 12
    assert failed, [(t.number, t.state.name, t.user_attrs.get("fused_group"), t.user_attrs.get(record.ENV, {}).get("node"),
                     t.datetime_start, t.datetime_complete) for t in final]  # the killed node's group should have failed
    assert all(t.user_attrs[record.FAIL_REASON].startswith("ray node/actor died") for t in failed)
    assert len({t.user_attrs["fused_group"] for t in failed}) == 1  # only the dead node's group
    retried = {t.user_attrs.get(record.RETRY_OF) for t in final} - {None}
    assert retried == {t.number for t in failed}
    assert not [t for t in final if t.state == TrialState.RUNNING]


def _wait_for_reports(study: str, url: str, *, at_least: int, timeout: float) -> None:
    """Until ``at_least`` trials have reported an epoch: their groups are training."""

    def reporting() -> int:
        try:
            return sum(bool(t.intermediate_values) for t in load(study, url).trials)
        except KeyError:  # the study is not created yet
            return 0

    deadline = time.monotonic() + timeout
    while reporting() < at_least:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {at_least} trials reported an epoch in {timeout} s")
        time.sleep(0.3)
