"""The learning-rate range test that scales the warm starts (autoopt.engine.calibrate)."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

import autoopt
from autoopt.engine.calibrate import FACTOR_LIMITS, MAX_STEPS, MIN_STEPS, SPAN, lr_range_test, steps_for
from autoopt.training.data import load_data
from autoopt.optimizers import registry
from autoopt.storage import record
from autoopt.training.task import load_task

from core_support import make_spec, model_path, trials_of

CPU = torch.device("cpu")


def blobs_data():
    task = load_task(model_path("blobs"))
    return task, load_data(task.datasets(), task.path)


def test_steps_are_one_epoch_within_limits():
    assert steps_for(240, 16) == MIN_STEPS  # 15 steps an epoch: too few for a curve
    assert steps_for(4000, 64) == 63
    assert steps_for(100_000, 32) == MAX_STEPS


def test_range_test_sweeps_upward_and_suggests_a_tenth_of_the_lowest_loss(one_thread):
    task, data = blobs_data()
    test = lr_range_test(task, data, CPU, "adam", dict(registry.get("adam").defaults), 16, seed=0)
    assert test.lrs == sorted(test.lrs) and test.lrs[0] == pytest.approx(1e-3 / SPAN)
    lowest = test.lrs[min(range(len(test.losses)), key=test.losses.__getitem__)]
    assert test.suggested_lr == pytest.approx(lowest / 10)
    low, high = FACTOR_LIMITS
    assert test.factor == pytest.approx(min(max(test.suggested_lr / 1e-3, low), high))
    # It really found where the loss falls: lower than where the sweep began.
    assert min(test.losses) < 0.7 * test.losses[0]
    assert test.epochs == pytest.approx(len(test.lrs) * 16 / 240)


def test_range_test_stops_once_the_loss_diverges(one_thread):
    task, data = blobs_data()
    # SGD without momentum, swept from 1e-4 to 100 around lr=0.1, blows up well before the sweep's end.
    test = lr_range_test(task, data, CPU, "sgd", {"lr": 0.1, "momentum": 0.0}, 16, seed=0)
    assert len(test.lrs) < MIN_STEPS
    assert all(math.isfinite(v) for v in test.losses)


def test_same_seed_same_test(one_thread):
    task, data = blobs_data()
    kwargs = dict(registry.get("adam").defaults)
    first = lr_range_test(task, data, CPU, "adam", kwargs, 16, seed=3)
    assert lr_range_test(task, data, CPU, "adam", kwargs, 16, seed=3) == first


def test_new_study_is_calibrated_once_and_warm_starts_scale_by_its_factor(sqlite_url, study_name, one_thread):
    spec = make_spec("blobs", sqlite_url, study_name, trials=3)
    result = autoopt.search(spec)
    study = trials_of(sqlite_url, study_name)
    attrs = optuna.load_study(study_name=study_name, storage=sqlite_url).user_attrs
    test = attrs[record.LR_RANGE_TEST]
    assert test["optimizer"] == "adam" and test["epochs"] > 0
    first = study[0].user_attrs
    assert first[record.OPTIMIZER] == "adam"
    assert first[record.OPTIMIZER_KWARGS]["lr"] == pytest.approx(1e-3 * test["factor"])
    sgd = next(t for t in study if t.user_attrs[record.OPTIMIZER] == "sgd")
    assert sgd.user_attrs[record.OPTIMIZER_KWARGS]["lr"] == pytest.approx(1e-2 * test["factor"])
    trained = sum(t.user_attrs[record.EPOCHS_RUN] for t in study)
    assert result.epochs_trained == pytest.approx(trained + test["epochs"])  # the test's epochs count
    # Resuming does not test again.
    again = autoopt.search(make_spec("blobs", sqlite_url, study_name, trials=4))
    reread = optuna.load_study(study_name=study_name, storage=sqlite_url).user_attrs
    assert reread[record.LR_RANGE_TEST] == test
    everything = sum(t.user_attrs[record.EPOCHS_RUN] for t in trials_of(sqlite_url, study_name))
    assert again.epochs_trained == pytest.approx(everything - trained)


def test_no_calibrate_keeps_the_published_defaults(sqlite_url, study_name, one_thread):
    autoopt.search(make_spec("blobs", sqlite_url, study_name, trials=1, calibrate=False))
    study = optuna.load_study(study_name=study_name, storage=sqlite_url)
    assert record.LR_RANGE_TEST not in study.user_attrs
    assert study.trials[0].user_attrs[record.OPTIMIZER_KWARGS]["lr"] == 1e-3


def test_fixed_learning_rate_is_not_scaled(sqlite_url, study_name, one_thread):
    spec = make_spec("blobs", sqlite_url, study_name, trials=1, space={"adam": {"lr": 0.005}})
    autoopt.search(spec)
    assert trials_of(sqlite_url, study_name)[0].user_attrs[record.OPTIMIZER_KWARGS]["lr"] == 0.005


def test_bring_your_own_loop_is_not_calibrated(write_model, sqlite_url, study_name, one_thread):
    path = write_model("""
        import torch

        def train(trial):
            model = torch.nn.Linear(2, 1)
            trial.optimizer(model.parameters())
            for epoch in range(2):
                trial.report(1.0 / (epoch + 1))
    """)
    autoopt.search(make_spec(path, sqlite_url, study_name, trials=1))
    assert record.LR_RANGE_TEST not in optuna.load_study(study_name=study_name, storage=sqlite_url).user_attrs
