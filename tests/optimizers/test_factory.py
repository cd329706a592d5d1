"""from_recommendation: the JSON of `autoopt recommend` back into a live optimizer."""

from __future__ import annotations

import json

import pytest
import torch

from autoopt.optimizers import Lion, Lookahead, build, from_recommendation, registry


def _params() -> list[torch.Tensor]:
    return [torch.zeros(4, 3, requires_grad=True), torch.zeros(3, requires_grad=True)]


def test_rebuilds_the_optimizer_and_its_lookahead_from_json():
    recommendation = {
        "optimizer": "adamw",
        "optimizer_kwargs": {"lr": 3e-3, "betas": [0.9, 0.98], "weight_decay": 0.05},
        "lookahead": {"k": 6, "alpha": 0.4},
    }
    optimizer = from_recommendation(_params(), json.loads(json.dumps(recommendation)))
    assert isinstance(optimizer, Lookahead) and (optimizer.k, optimizer.alpha) == (6, 0.4)
    assert isinstance(optimizer.optimizer, torch.optim.AdamW)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (3e-3, (0.9, 0.98), 0.05)


@pytest.mark.parametrize("lookahead", [{}, {"lookahead": None}])
def test_without_lookahead_the_optimizer_is_returned_bare(lookahead):
    optimizer = from_recommendation(_params(), {"optimizer": "lion", "optimizer_kwargs": {"lr": 1e-4}, **lookahead})
    assert type(optimizer) is Lion


def test_optimizers_added_by_name_are_rebuilt_too():
    recommendation = {"optimizer": "pytorch_optimizer:adabelief", "optimizer_kwargs": {"lr": 1e-3}}
    assert type(from_recommendation(_params(), recommendation)).__name__ == "AdaBelief"


def test_a_recommendation_without_its_fields_says_which_are_missing():
    with pytest.raises(KeyError, match=r"lacks \['optimizer_kwargs'\]"):
        from_recommendation(_params(), {"optimizer": "adam"})


@pytest.mark.parametrize(("name", "key"), [("rmsprop", "lr"), ("sgd", "lr"), ("sgd", "momentum")])
def test_what_the_kwargs_leave_out_takes_the_registry_default_not_the_constructors(name, key):
    # Here torch's constructor default and the registry's differ; a fused member uses the registry's.
    assert build(_params(), name, {}).param_groups[0][key] == registry.get(name).defaults[key]
