"""Which configurations a fused group can train, and each member's hyperparameters as its rule reads them.

The update rules themselves sit on the optimizers' registry entries
(``autoopt.optimizers.fused_rules``), with the defaults: a configuration that leaves a
hyperparameter out gets the registry's default here, as ``autoopt.optimizers.build`` gives
it to the optimizer that trains alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoopt.optimizers import registry
from autoopt.optimizers.fused_rules import FusedRule

# Constructor options that choose an implementation, not the arithmetic: ignored.
_IMPLEMENTATION_OPTIONS = ("foreach", "capturable", "fused", "differentiable")


class NotFusable(ValueError):
    """A configuration the fused rules do not implement; its trial runs alone."""


def fused_rule(optimizer: str) -> FusedRule:
    """The fused update rule of ``optimizer``; raises ``NotFusable`` where it has none."""
    # Only registered names: ``registry.get`` would register any torch.optim class it is asked about.
    rule = registry.get(optimizer).fused if optimizer in registry.names() else None
    if rule is None:
        raise NotFusable(f"no fused update rule for optimizer {optimizer!r}")
    return rule


def member_hyperparameters(optimizer: str, kwargs: Mapping[str, Any]) -> dict[str, float]:
    """A member's hyperparameters as the rule names them; raises ``NotFusable`` for anything else.

    >>> member_hyperparameters("adam", {"lr": 3e-3, "betas": [0.8, 0.99]})["beta1"]
    0.8
    """
    rule = fused_rule(optimizer)
    info = registry.get(optimizer)
    values = {}
    for key, value in info.search_values({**info.defaults, **kwargs}).items():
        if key in rule.hyperparameters:
            values[key] = float(value)
        elif key in rule.required:
            if value != rule.required[key]:
                raise NotFusable(f"{optimizer} with {key}={value!r} has no fused update rule")
        elif key not in _IMPLEMENTATION_OPTIONS:
            raise NotFusable(f"{optimizer} has no fused update rule for option {key!r}")
    return values
