"""A fused member and its optimizer alone take what a configuration leaves out from one place: the registry.

The fused rules once kept a second table of defaults (RMSprop's lr 1e-2 there, 1e-3 in the
registry; SGD's momentum 0 there, 0.9 in the registry), so one configuration could train
differently fused and alone.
"""

from __future__ import annotations

import pytest
import torch
from fused_support import job, make_data, make_task, train_alone

from autoopt.training.fused import FusedGroup, GroupKey, NotFusable, fused_rule, member_hyperparameters
from autoopt.optimizers import build, registry

FUSED = [name for name in registry.names() if registry.get(name).fused is not None]


def test_all_nine_builtin_optimizers_have_a_fused_rule() -> None:
    assert FUSED == ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam", "radam", "lion"]


@pytest.mark.parametrize("name", FUSED)
def test_a_member_given_no_hyperparameters_gets_the_registry_defaults(name: str) -> None:
    info = registry.get(name)
    expected = {key: float(value) for key, value in info.search_values(info.defaults).items()}
    assert member_hyperparameters(name, {}) == expected


@pytest.mark.parametrize("name", FUSED)
def test_a_member_and_its_optimizer_alone_fill_in_the_same_defaults(name: str) -> None:
    alone = build([torch.zeros(2, requires_grad=True)], name, {}).param_groups[0]
    fused = member_hyperparameters(name, {})
    assert {key: float(value) for key, value in registry.get(name).search_values(alone).items() if key in fused} == fused


@pytest.mark.parametrize(("name", "kwargs"), [("rmsprop", {}), ("sgd", {"lr": 0.05})])
def test_a_member_that_leaves_hyperparameters_out_trains_as_its_optimizer_alone(name: str, kwargs: dict) -> None:
    # RMSprop's lr and SGD's momentum are where torch's constructor defaults and the registry's differ.
    task, data = make_task(), make_data()
    trial = job(0, name, kwargs)
    group = FusedGroup(task, data, torch.device("cpu"), GroupKey(name, 16, False))
    group.add(trial)
    group.train_epoch()
    expected = train_alone(task, data, trial, epochs=1)
    torch.testing.assert_close(group.rows["params"][0], expected, rtol=1e-4, atol=1e-5)


def test_optimizers_without_a_fused_rule_are_not_fusable_and_stay_unregistered() -> None:
    with pytest.raises(NotFusable, match="no fused update rule for optimizer 'asgd'"):
        fused_rule("asgd")
    assert "asgd" not in registry.names()
