"""Every optimizer autoopt can build, described as data.

An entry says how to construct the optimizer, the defaults autoopt builds it with, the
hyperparameters worth searching with a prior range from the literature, and, for the
nine built-in ones, the update rule a fused group steps it with. The search space reads
the ranges, ``build`` and the fused rules read the defaults: they are written only here.
Nothing here knows about search.

Search-level names map to constructor keywords one to one, except ``beta1`` and
``beta2`` which become ``betas=(beta1, beta2)``: ``constructor_kwargs`` and
``search_values`` are that mapping, one way and back.

Optimizers without an entry are added by name on first use: any other ``torch.optim``
class by its lower-case name (``get("asgd")``), and any pytorch-optimizer class as
``get("pytorch_optimizer:adabelief")`` when that optional package is installed. Such
an entry searches only ``lr``, over two decades either side of the class's default.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from autoopt.optimizers import fused_rules
from autoopt.optimizers.fused_rules import FusedRule
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
    defaults: Mapping[str, Any]  # constructor keywords; every hyperparameter ``fused`` reads has one
    ranges: Mapping[str, Range] = field(default_factory=dict)
    decoupled_weight_decay: bool = False
    fused: FusedRule | None = None  # its step over a fused group's members; None: its trials run alone

    def constructor_kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Turn search-level values (``beta1``, ``beta2``, ...) into constructor keywords."""
        kwargs = {k: v for k, v in values.items() if k not in ("beta1", "beta2")}
        if "beta1" in values or "beta2" in values:
            b1_default, b2_default = self.defaults.get("betas", (0.9, 0.999))
            kwargs["betas"] = (values.get("beta1", b1_default), values.get("beta2", b2_default))
        return kwargs

    def search_values(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Turn constructor keywords back into search-level values: ``betas`` becomes ``beta1``, ``beta2``.

        >>> get("adam").search_values({"lr": 3e-3, "betas": [0.8, 0.99]})
        {'lr': 0.003, 'beta1': 0.8, 'beta2': 0.99}
        """
        values = {k: v for k, v in kwargs.items() if k != "betas"}
        if "betas" in kwargs:
            values["beta1"], values["beta2"] = kwargs["betas"]
        return values


_REGISTRY: dict[str, OptimizerInfo] = {}


def register(info: OptimizerInfo, *, replace: bool = False) -> OptimizerInfo:
    """Add an optimizer under ``info.name`` (lower case)."""
    key = info.name.lower()
    if key in _REGISTRY and not replace:
        raise ValueError(f"optimizer {key!r} is registered already; pass replace=True to override it")
    _REGISTRY[key] = info
    return info


def get(name: str) -> OptimizerInfo:
    """The entry for ``name``, registering other torch.optim and pytorch-optimizer ones on first use.

    Names it cannot resolve raise ``KeyError`` saying why (the search space turns it into a user error).

    >>> get("pytorch_optimizer:adabelief").ranges["lr"]  # doctest: +SKIP
    Range(low=1e-05, high=0.1, log=True, searched=True)
    """
    key = name.strip().lower()
    if key not in _REGISTRY:
        register(_describe_by_name(key))
    return _REGISTRY[key]


def names() -> list[str]:
    """Registered names, in registration order."""
    return list(_REGISTRY)


_PYTORCH_OPTIMIZER = "pytorch_optimizer:"


def _describe_by_name(key: str) -> OptimizerInfo:
    """An entry with generic priors for a torch.optim or pytorch-optimizer class named ``key``."""
    if key.startswith(_PYTORCH_OPTIMIZER):
        cls = _pytorch_optimizer_class(key.removeprefix(_PYTORCH_OPTIMIZER))
    else:
        torch_classes = {
            attr.lower(): obj
            for attr, obj in vars(torch.optim).items()
            if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
        }
        if key not in torch_classes:
            raise KeyError(
                f"unknown optimizer {key!r}; known optimizers: {', '.join(names())}; any other torch.optim class "
                f"also works by its lower-case name, and a pytorch-optimizer one as '{_PYTORCH_OPTIMIZER}<name>'"
            )
        cls = torch_classes[key]
    return _generic_info(key, cls)


def _pytorch_optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    try:  # optional: imported only when such a name is asked for
        pytorch_optimizer = importlib.import_module("pytorch_optimizer")
    except ImportError as error:
        raise KeyError(
            f"optimizer '{_PYTORCH_OPTIMIZER}{name}' needs the pytorch-optimizer package; "
            "install it with `pip install 'autoopt[extra-optimizers]'`"
        ) from error
    try:
        return pytorch_optimizer.load_optimizer(name)
    except NotImplementedError as error:
        raise KeyError(
            f"pytorch-optimizer has no optimizer {name!r}; pytorch_optimizer.get_supported_optimizers() lists them"
        ) from error


def _generic_info(key: str, cls: type[torch.optim.Optimizer]) -> OptimizerInfo:
    """Defaults read from the constructor's signature; ``lr`` searched two decades either side."""
    arguments = list(inspect.signature(cls.__init__).parameters.values())[2:]  # after self, params
    required = [a.name for a in arguments if a.default is a.empty and a.kind in (a.POSITIONAL_OR_KEYWORD, a.KEYWORD_ONLY)]
    defaults = {a.name: a.default for a in arguments if _is_number_or_numbers(a.default)}
    lr = defaults.get("lr")
    if required or lr is None or lr <= 0:
        raise KeyError(
            f"optimizer {key!r} cannot be described generically: it needs a positive default `lr` and defaults "
            f"for all other arguments (lr={lr!r}, arguments without defaults: {required}); "
            "describe it with autoopt.optimizers.register(OptimizerInfo(...)) instead"
        )
    return OptimizerInfo(name=key, factory=cls, defaults=defaults, ranges={"lr": Range(lr / 100, lr * 100, log=True)})


def _is_number_or_numbers(value: object) -> bool:
    if isinstance(value, tuple):
        return bool(value) and all(_is_number_or_numbers(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Priors. Learning-rate ranges centre on each optimizer's usual default; Lion's sits
# 3-10x below AdamW's and its weight decay 3-10x above (Chen et al. 2023). Coupled
# (L2) weight decay is known but not searched by default: it rarely pays on the small
# budgets autoopt runs, while decoupled decay (AdamW, Lion) is part of the method.
_LR_ADAM = Range(1e-5, 1e-1, log=True)
_BETA1 = Range(0.8, 0.99)
_BETA2 = Range(0.9, 0.9999)
_L2 = Range(1e-6, 1e-2, log=True, searched=False)
_EPS = Range(1e-10, 1e-6, log=True, searched=False)


def _adam_family(
    name: str, cls: type[torch.optim.Optimizer], lr: float, fused: FusedRule, **more_defaults: float
) -> OptimizerInfo:
    return OptimizerInfo(
        name=name,
        factory=cls,
        defaults={"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, **more_defaults},
        ranges={"lr": _LR_ADAM, "beta1": _BETA1, "beta2": _BETA2, "weight_decay": _L2, "eps": _EPS},
        fused=fused,
    )


for _info in (
    OptimizerInfo(
        name="sgd",
        factory=torch.optim.SGD,
        defaults={"lr": 1e-2, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
        ranges={"lr": Range(1e-4, 1.0, log=True), "momentum": Range(0.0, 0.99), "weight_decay": _L2},
        fused=fused_rules.SGD,
    ),
    OptimizerInfo(
        name="adagrad",
        factory=torch.optim.Adagrad,
        defaults={"lr": 1e-2, "lr_decay": 0.0, "eps": 1e-10, "weight_decay": 0.0},
        ranges={"lr": Range(1e-3, 1.0, log=True), "weight_decay": _L2},
        fused=fused_rules.ADAGRAD,
    ),
    OptimizerInfo(
        name="adadelta",
        factory=torch.optim.Adadelta,
        defaults={"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
        ranges={"lr": Range(0.05, 5.0, log=True), "rho": Range(0.8, 0.99), "weight_decay": _L2},
        fused=fused_rules.ADADELTA,
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
        fused=fused_rules.RMSPROP,
    ),
    _adam_family("adam", torch.optim.Adam, 1e-3, fused_rules.ADAM),
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
        fused=fused_rules.ADAMW,
    ),
    _adam_family("nadam", torch.optim.NAdam, 2e-3, fused_rules.NADAM, momentum_decay=4e-3),
    _adam_family("radam", torch.optim.RAdam, 1e-3, fused_rules.RADAM),
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
        fused=fused_rules.LION,
    ),
):
    register(_info)
