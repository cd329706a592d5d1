"""Every optimizer autoopt can build, described as data.

An entry says how to construct the optimizer, its constructor defaults, and the
hyperparameters worth searching with a prior range from the literature. The search
space reads these ranges; nothing here knows about search.

Search-level names map to constructor keywords one to one, except ``beta1`` and
``beta2`` which become ``betas=(beta1, beta2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from autoopt.optimizers.lion import Lion


@dataclass(frozen=True)
class Range:
    """A numeric prior: ``[low, high]``, sampled on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False
    searched: bool = True  # False: known but held at the default unless a study file asks

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"`low <= high` must hold, but got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs `low > 0`, but got low={self.low}")


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer: how to build it, its defaults, and its searchable hyperparameters."""

    name: str
    factory: Callable[..., torch.optim.Optimizer]
    defaults: Mapping[str, Any]
    ranges: Mapping[str, Range] = field(default_factory=dict)
    decoupled_weight_decay: bool = False

    def constructor_kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Turn search-level values (``beta1``, ``beta2``, ...) into constructor keywords."""
        kwargs = {k: v for k, v in values.items() if k not in ("beta1", "beta2")}
        if "beta1" in values or "beta2" in values:
            b1_default, b2_default = self.defaults.get("betas", (0.9, 0.999))
            kwargs["betas"] = (values.get("beta1", b1_default), values.get("beta2", b2_default))
        return kwargs


_REGISTRY: dict[str, OptimizerInfo] = {}


def register(info: OptimizerInfo, *, replace: bool = False) -> OptimizerInfo:
    """Add an optimizer under ``info.name`` (lower case)."""
    key = info.name.lower()
    if key in _REGISTRY and not replace:
        raise ValueError(f"optimizer {key!r} is registered already; pass replace=True to override it")
    _REGISTRY[key] = info
    return info


def get(name: str) -> OptimizerInfo:
    """The entry for ``name``; unknown names raise ``KeyError`` listing the known ones."""
    key = name.strip().lower()
    if key not in _REGISTRY:
        known = ", ".join(names())
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {known}")
    return _REGISTRY[key]


def names() -> list[str]:
    """Registered names, in registration order."""
    return list(_REGISTRY)


# Priors. Learning-rate ranges centre on each optimizer's usual default; Lion's sits
# 3-10x below AdamW's and its weight decay 3-10x above (Chen et al. 2023). Coupled
# (L2) weight decay is known but not searched by default: it rarely pays on the small
# budgets autoopt runs, while decoupled decay (AdamW, Lion) is part of the method.
_LR_ADAM = Range(1e-5, 1e-1, log=True)
_BETA1 = Range(0.8, 0.99)
_BETA2 = Range(0.9, 0.9999)
_L2 = Range(1e-6, 1e-2, log=True, searched=False)
_EPS = Range(1e-10, 1e-6, log=True, searched=False)


def _adam_family(name: str, cls: type[torch.optim.Optimizer], lr: float) -> OptimizerInfo:
    return OptimizerInfo(
        name=name,
        factory=cls,
        defaults={"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        ranges={"lr": _LR_ADAM, "beta1": _BETA1, "beta2": _BETA2, "weight_decay": _L2, "eps": _EPS},
    )


for _info in (
    OptimizerInfo(
        name="sgd",
        factory=torch.optim.SGD,
        defaults={"lr": 1e-2, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
        ranges={"lr": Range(1e-4, 1.0, log=True), "momentum": Range(0.0, 0.99), "weight_decay": _L2},
    ),
    OptimizerInfo(
        name="adagrad",
        factory=torch.optim.Adagrad,
        defaults={"lr": 1e-2, "eps": 1e-10, "weight_decay": 0.0},
        ranges={"lr": Range(1e-3, 1.0, log=True), "weight_decay": _L2},
    ),
    OptimizerInfo(
        name="adadelta",
        factory=torch.optim.Adadelta,
        defaults={"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
        ranges={"lr": Range(0.05, 5.0, log=True), "rho": Range(0.8, 0.99), "weight_decay": _L2},
    ),
    OptimizerInfo(
        name="rmsprop",
        factory=torch.optim.RMSprop,
        defaults={"lr": 1e-3, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
        ranges={
            "lr": Range(1e-5, 1e-1, log=True),
            "alpha": Range(0.9, 0.999),
            "momentum": Range(0.0, 0.9, searched=False),
            "weight_decay": _L2,
        },
    ),
    _adam_family("adam", torch.optim.Adam, 1e-3),
    OptimizerInfo(
        name="adamw",
        factory=torch.optim.AdamW,
        defaults={"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
        ranges={
            "lr": _LR_ADAM,
            "beta1": _BETA1,
            "beta2": _BETA2,
            "weight_decay": Range(1e-4, 0.3, log=True),
            "eps": _EPS,
        },
        decoupled_weight_decay=True,
    ),
    _adam_family("nadam", torch.optim.NAdam, 2e-3),
    _adam_family("radam", torch.optim.RAdam, 1e-3),
    OptimizerInfo(
        name="lion",
        factory=Lion,
        defaults={"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0},
        ranges={
            "lr": Range(1e-6, 1e-2, log=True),
            "beta1": _BETA1,
            "beta2": Range(0.9, 0.999),
            "weight_decay": Range(1e-3, 1.0, log=True),
        },
        decoupled_weight_decay=True,
    ),
):
    register(_info)
