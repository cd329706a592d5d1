"""Turn a recommendation (name, keyword arguments, Lookahead) back into a live optimizer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from autoopt.optimizers import registry
from autoopt.optimizers.lookahead import Lookahead


def build(
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    name: str,
    kwargs: Mapping[str, Any],
    *,
    lookahead: Mapping[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """Construct optimizer ``name`` with constructor ``kwargs``, wrapped in Lookahead if asked.

    What ``kwargs`` leaves out takes the registry's default, not the constructor's: the two
    differ (SGD's momentum, RMSprop's lr), and a fused group fills gaps from the registry too.
    """
    info = registry.get(name)
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in {**info.defaults, **kwargs}.items()}
    optimizer = info.factory(params, **clean)
    if lookahead:
        optimizer = Lookahead(optimizer, k=int(lookahead["k"]), alpha=float(lookahead["alpha"]))
    return optimizer


def from_recommendation(
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], recommendation: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """Rebuild the optimizer that ``autoopt recommend --format json`` describes.

    >>> rec = {"optimizer": "adamw", "optimizer_kwargs": {"lr": 3e-3}, "lookahead": {"k": 5, "alpha": 0.5}}
    >>> opt = from_recommendation(model.parameters(), rec)  # doctest: +SKIP
    """
    missing = [key for key in ("optimizer", "optimizer_kwargs") if key not in recommendation]
    if missing:
        raise KeyError(f"the recommendation lacks {missing}; pass the JSON of `autoopt recommend --format json`")
    return build(
        params,
        recommendation["optimizer"],
        recommendation["optimizer_kwargs"],
        lookahead=recommendation.get("lookahead"),
    )
