"""The names of the Optuna parameters a trial stores for each hyperparameter: ``adam.lr``, ``lookahead.k``.

Every place that builds or reads such a name goes through ``param_name`` (or its inverses
below), so the spelling lives here once. Stored studies hold these names: a new spelling
would orphan every trial already stored, and resumed searches and recommendations with it.
``--set adam.lr=...`` uses the same spelling on purpose. Imports nothing heavy (the command
line parses ``--set`` with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LOOKAHEAD = "lookahead"  # the family of Lookahead's k and alpha (and the name of its on/off parameter)
VARIANT = "variant"  # SGD's form (plain, momentum, nesterov): a parameter of its own, no constructor argument


def param_name(family: str, hyperparameter: str) -> str:
    """The Optuna parameter of ``family``'s ``hyperparameter``: ``param_name("adam", "lr") == "adam.lr"``."""
    return f"{family}.{hyperparameter}"


def split_param_name(name: str) -> tuple[str, str] | None:
    """``"adam.lr"`` -> ``("adam", "lr")``; ``None`` for a name that has no hyperparameter part."""
    family, dot, hyperparameter = name.partition(".")
    return (family, hyperparameter) if dot and hyperparameter else None


def hyperparameters_of(params: Mapping[str, Any], family: str) -> dict[str, Any]:
    """``family``'s values among Optuna ``params``, by hyperparameter: ``{"lr": 0.01, "beta1": 0.9}``."""
    prefix = param_name(family, "")
    return {name.removeprefix(prefix): value for name, value in params.items() if name.startswith(prefix)}
