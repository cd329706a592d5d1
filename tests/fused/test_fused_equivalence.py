"""Each member of a fused group trains as its configuration trains alone: same weights, same batch order."""

from __future__ import annotations

import pytest
import torch
from fused_support import job, make_data, make_task, train_alone

from autoopt.training.fused import FusedGroup, GroupKey

EPOCHS = 2

# Two or three members per family with different hyperparameters (and SGD's three variants).
MEMBERS = {
    "sgd": [{"lr": 0.05, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
            {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
            {"lr": 0.03, "momentum": 0.8, "nesterov": False, "weight_decay": 0.0}],
    "adagrad": [{"lr": 0.01, "eps": 1e-10, "weight_decay": 0.0}, {"lr": 0.05, "eps": 1e-10, "weight_decay": 1e-3}],
    "adadelta": [{"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}, {"lr": 0.3, "rho": 0.95, "eps": 1e-6, "weight_decay": 1e-3}],
    "rmsprop": [{"lr": 1e-3, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
                {"lr": 3e-4, "alpha": 0.95, "eps": 1e-8, "momentum": 0.5, "weight_decay": 1e-4}],
    "adam": [{"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
             {"lr": 3e-3, "betas": [0.8, 0.99], "eps": 1e-8, "weight_decay": 1e-3}],
    "adamw": [{"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-2},
              {"lr": 3e-3, "betas": [0.8, 0.99], "eps": 1e-8, "weight_decay": 0.1}],
    "nadam": [{"lr": 2e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
              {"lr": 5e-4, "betas": [0.85, 0.99], "eps": 1e-8, "weight_decay": 1e-3}],
    "radam": [{"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
              {"lr": 3e-3, "betas": [0.85, 0.95], "eps": 1e-8, "weight_decay": 1e-3}],
    "lion": [{"lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.0}, {"lr": 3e-4, "betas": [0.85, 0.98], "weight_decay": 0.1}],
}  # fmt: skip


def _group(task, data, jobs, *, lookahead: bool) -> FusedGroup:
    group = FusedGroup(task, data, torch.device("cpu"), GroupKey(jobs[0].config.optimizer, 16, lookahead))
    for trial in jobs:
        group.add(trial)
    return group


@pytest.mark.parametrize("lookahead", [False, True], ids=["plain", "lookahead"])
@pytest.mark.parametrize("optimizer", list(MEMBERS))
def test_each_member_matches_its_optimizer_trained_alone(optimizer: str, lookahead: bool) -> None:
    task, data = make_task(), make_data()
    jobs = [job(i, optimizer, kwargs, lookahead={"k": 2 + i, "alpha": 0.3 + 0.2 * i} if lookahead else None)
            for i, kwargs in enumerate(MEMBERS[optimizer])]  # fmt: skip
    group = _group(task, data, jobs, lookahead=lookahead)
    for _ in range(EPOCHS):
        group.train_epoch()
    for index, trial in enumerate(jobs):
        expected = train_alone(task, data, trial, epochs=EPOCHS)
        torch.testing.assert_close(group.rows["params"][index], expected, rtol=1e-4, atol=1e-5)


def test_a_member_that_joins_later_trains_as_it_would_alone_from_its_first_epoch() -> None:
    task, data = make_task(), make_data()
    first, joiner = job(0, "adam", MEMBERS["adam"][0]), job(1, "adam", MEMBERS["adam"][1])
    group = _group(task, data, [first], lookahead=False)
    group.train_epoch()
    group.add(joiner)
    group.train_epoch()
    expected = train_alone(task, data, joiner, epochs=1)
    torch.testing.assert_close(group.rows["params"][1], expected, rtol=1e-4, atol=1e-5)


def test_a_diverging_member_leaves_the_others_exactly_as_without_it() -> None:
    task, data = make_task(), make_data()
    healthy = [job(0, "sgd", MEMBERS["sgd"][1]), job(2, "sgd", MEMBERS["sgd"][2])]
    poisoned = job(1, "sgd", MEMBERS["sgd"][0])
    with_it = _group(task, data, [healthy[0], poisoned, healthy[1]], lookahead=False)
    with_it.rows["params"][1, 0] = float("nan")
    without = _group(task, data, healthy, lookahead=False)
    losses = with_it.train_epoch()
    without.train_epoch()
    assert not torch.isfinite(torch.tensor(losses[1]))
    torch.testing.assert_close(with_it.rows["params"][[0, 2]], without.rows["params"], rtol=0, atol=0)


def test_dropping_members_keeps_the_rest_training_as_before() -> None:
    task, data = make_task(), make_data()
    jobs = [job(i, "lion", kwargs) for i, kwargs in enumerate(MEMBERS["lion"])]
    group = _group(task, data, jobs, lookahead=False)
    group.train_epoch()
    group.keep([1])
    group.train_epoch()
    expected = train_alone(task, data, jobs[1], epochs=2)
    torch.testing.assert_close(group.rows["params"][0], expected, rtol=1e-4, atol=1e-5)
    assert [trial.number for trial in group.jobs] == [1]


@pytest.mark.parametrize("lookahead", [False, True], ids=["plain", "lookahead"])
def test_members_of_every_family_in_one_group_each_train_as_alone(lookahead: bool) -> None:
    # One group across families (the screen, a round of confirmations): each family's rule runs
    # on its own block of rows, whatever order the members arrive and leave in.
    task, data = make_task(), make_data()
    jobs = [job(i, name, MEMBERS[name][i % len(MEMBERS[name])], lookahead={"k": 3, "alpha": 0.5} if lookahead else None)
            for i, name in enumerate(list(MEMBERS) + ["adam", "sgd"])]  # fmt: skip
    group = _group(task, data, jobs[:5], lookahead=lookahead)
    group.train_epoch()
    for trial in jobs[5:]:
        group.add(trial)
    group.keep([i for i, trial in enumerate(group.jobs) if trial.number not in (1, 7)])  # one early, one late member leave
    group.train_epoch()
    for index, trial in enumerate(group.jobs):
        expected = train_alone(task, data, trial, epochs=2 if trial.number < 5 else 1)
        torch.testing.assert_close(group.rows["params"][index], expected, rtol=1e-4, atol=1e-5)
    assert sorted(trial.number for trial in group.jobs) == [n for n in range(len(jobs)) if n not in (1, 7)]
