"""A search with --fuse: groups share a family and batch size, every member stays its own trial."""

from __future__ import annotations

import textwrap
from pathlib import Path

import optuna
import pytest
import torch
from fused_support import job, make_data, make_task
from torch import nn

import autoopt
from autoopt.training.data import load_data
from autoopt.errors import UserError
from autoopt.executors.base import Finished, Report
from autoopt.executors.fused import FusedExecutor
from autoopt.training.fused import fusion_blocker
from autoopt.training.fused.group import GroupKey
from autoopt.engine.fusion import fused_size
from autoopt.training.fused.trainer import GroupTrainer
from autoopt.outcome import Cause
from autoopt.training.runner import COMPLETE
from autoopt.storage import record
from autoopt.training.task import load_task

MODEL = """
import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 3

def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])

def build_model():
    return nn.Sequential(nn.Linear(6, 8), {activation}, nn.Linear(8, 2))
"""


def _model_file(tmp_path: Path, activation: str = "nn.Tanh()") -> Path:
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(MODEL.format(activation=activation)))
    return path


def _search(tmp_path: Path, model: Path, **overrides) -> optuna.Study:
    url = f"sqlite:///{tmp_path}/fused.db"
    settings = {"storage": url, "trials": 12, "seed": 0, "confirm_top": 0, "warm_start": False, **overrides}
    spec = autoopt.build_spec(model, overrides=settings, space_table={"optimizers": ["adam", "sgd"], "batch_size": [16, 32]})
    autoopt.search(spec)
    return optuna.load_study(study_name=spec.study_name, storage=url)


def test_fused_search_stores_every_member_as_its_own_trial_with_its_own_curve(tmp_path: Path) -> None:
    study = _search(tmp_path, _model_file(tmp_path), fuse=4)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(trials) == 12
    for trial in trials:
        assert len(trial.user_attrs[record.CURVE]) == trial.user_attrs[record.EPOCHS_RUN] >= 1
        assert trial.user_attrs["fused_size"] == 4
    groups: dict[int, set] = {}
    for trial in trials:
        groups.setdefault(trial.user_attrs["fused_group"], set()).add((trial.params["optimizer"], trial.params["batch_size"]))
    assert all(len(keys) == 1 for keys in groups.values())  # a group shares its family and batch size
    assert len(groups) < len(trials)


def test_a_model_with_batchnorm_falls_back_to_ordinary_trials_with_a_one_line_notice(tmp_path: Path, capsys) -> None:
    study = _search(tmp_path, _model_file(tmp_path, "nn.BatchNorm1d(8)"), fuse=4, trials=3)
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "cannot train fused" in notice[0] and "BatchNorm" in notice[0]
    assert all("fused_group" not in t.user_attrs for t in study.trials)
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))) == 3


class _Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.head = nn.LSTM(6, 8, batch_first=True), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x[:, None, :])[0][:, -1])


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x) * 2 if self.layer.weight.sum() > 0 else self.layer(x)


@pytest.mark.parametrize(("build_model", "reason"), [
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)), "buffers"),
    (_Recurrent, "batching rule"),
    (_DataDependent, "raised"),
], ids=["batchnorm", "lstm", "python-branch-on-a-parameter"])  # fmt: skip
def test_models_that_cannot_be_vectorized_are_detected_before_the_search(build_model, reason: str) -> None:
    assert reason in fusion_blocker(make_task(build_model), make_data(), torch.device("cpu"))


def test_a_model_file_with_its_own_loop_is_not_fused() -> None:
    assert "own loop" in fusion_blocker(make_task(train=lambda trial: 0.0), None, torch.device("cpu"))


def test_a_plain_mlp_can_be_fused() -> None:
    assert fusion_blocker(make_task(), make_data(), torch.device("cpu")) is None


def test_a_configuration_without_a_fused_rule_runs_alone_and_finishes() -> None:
    executor = FusedExecutor(make_task(), make_data(), torch.device("cpu"), size=4)
    with executor:
        executor.submit(job(0, "adam", {"lr": 1e-3, "amsgrad": True}, epochs=1))
        events = []
        while not any(isinstance(e, Finished) for e in events):
            for event in executor.poll(0.5):
                events.append(event)
                if isinstance(event, Report):
                    executor.answer(event.number, False)
    finished = [e for e in events if isinstance(e, Finished)]
    assert finished[0].outcome.state == COMPLETE and executor.member_attrs(0) == {}


@pytest.mark.parametrize("fuse", [0, -2, "many", 2.5])
def test_fuse_must_be_a_whole_number_or_auto(tmp_path: Path, fuse) -> None:
    with pytest.raises(UserError, match="--fuse must be a whole number >= 1 or auto"):
        autoopt.build_spec(_model_file(tmp_path), overrides={"fuse": fuse})


def test_fuse_auto_is_accepted(tmp_path: Path) -> None:
    assert autoopt.build_spec(_model_file(tmp_path), overrides={"fuse": "auto"}).fuse == "auto"


@pytest.mark.parametrize(("fuse", "gpus_per_trial", "sizes"), [(4, 0.0, (4, 2)), ("auto", 0.5, (64, 2))])
def test_on_ray_groups_are_sized_for_the_actors_device(tmp_path: Path, fuse, gpus_per_trial: float, sizes) -> None:
    # Auto on GPU actors cannot be measured from a CPU driver: every size pays there (launch-bound).
    spec = autoopt.build_spec(_model_file(tmp_path), overrides={"backend": "ray", "fuse": fuse, "gpus_per_trial": gpus_per_trial})
    task = load_task(spec.model_file)
    data = load_data(task.datasets(), task.path)
    assert fused_size(spec, task, data, torch.device("cpu")) == sizes


class _OutOfMemoryInSecondEpoch(nn.Module):
    """Runs out of memory at its 6th training step: the second epoch of 64 items in batches of 16."""

    def __init__(self) -> None:
        super().__init__()
        self.net, self.steps = nn.Linear(6, 3), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.steps += self.training
        if self.steps > 5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def test_a_group_that_runs_out_of_memory_mid_epoch_fails_as_out_of_memory_as_a_trial_alone_does() -> None:
    """Not as a user error: the failure policy retries out-of-memory trials at half the batch size."""
    trainer = GroupTrainer(make_task(_OutOfMemoryInSecondEpoch), make_data(), torch.device("cpu"),
                           GroupKey("adam", 16, False))  # fmt: skip
    for number in (0, 1):
        assert trainer.add(job(number, "adam", {"lr": 1e-3})) is None
    assert trainer.step().failure is None
    failure = trainer.step().failure
    assert failure.cause is Cause.OUT_OF_MEMORY
    assert failure.reason.startswith("out of memory at batch size 16: CUDA out of memory.")
