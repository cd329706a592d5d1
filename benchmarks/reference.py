"""An independent reference trainer for the search-quality benchmark (plain torch, nothing from autoopt).

It measures what autoopt's own trainer measures, so that a search's pick and the brute-force
grid are judged on the same scale:

- ``torch.manual_seed(seed)``, then ``build_model()``;
- one ``torch.Generator().manual_seed(seed)`` kept across epochs; each epoch's order is
  ``torch.randperm(n, generator=g)``, taken in batches of ``batch_size``;
- after each epoch, in eval mode and without gradients, the validation set in batches of 4096:
  ``metric`` if the model file has one, else ``loss_fn``, else the default loss (cross-entropy
  for integer targets, MSE for float ones), averaged weighted by batch length;
- the value is the last epoch's; a non-finite training loss or value means diverged, and the
  value is +inf when minimizing (-inf when maximizing).

A configuration is a dict::

    {"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "lookahead": False}
    {"optimizer": "sgd", "variant": "nesterov", "lr": 0.1, "batch_size": 32, "lookahead": True}
    {"optimizer": "adamw", "kwargs": {"lr": 3e-3, "betas": [0.85, 0.99], "weight_decay": 0.05},
     "batch_size": 64, "lookahead": {"k": 6, "alpha": 0.4}}

``kwargs`` (a recommendation's exact constructor arguments) replaces ``lr`` and ``variant``;
``lookahead`` is a bool (k=5, alpha=0.5) or ``{"k", "alpha"}``. Optimizers keep their published
torch defaults except the learning rate: SGD plain (momentum 0), momentum (0.9), Nesterov (0.9),
AdamW with weight decay 0.01, Lion (Chen et al. 2023) with betas (0.9, 0.99) and no decay.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F

EVAL_BATCH = 4096
SGD_MOMENTUM = {"plain": {"momentum": 0.0}, "momentum": {"momentum": 0.9},
                "nesterov": {"momentum": 0.9, "nesterov": True}}  # fmt: skip


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    update = sign(beta1 * m + (1 - beta1) * g);  p -= lr * (update + wd * p);  m = beta2 * m + (1 - beta2) * g
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "m" not in state:
                    state["m"] = torch.zeros_like(p)
                m = state["m"]
                update = (m * beta1 + p.grad * (1 - beta1)).sign_()
                if wd:
                    update.add_(p, alpha=wd)
                p.add_(update, alpha=-lr)
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss


class Lookahead:
    """Lookahead (Zhang, Lucas, Hinton, Ba 2019): after every k fast steps,
    slow += alpha * (fast - slow); fast = slow. Slow weights start at the initial weights."""

    def __init__(self, inner: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        self.inner, self.k, self.alpha, self.steps = inner, int(k), float(alpha), 0
        self.params = [p for group in inner.param_groups for p in group["params"]]
        self.slow = [p.detach().clone() for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        self.inner.step()
        self.steps += 1
        if self.steps % self.k == 0:
            for fast, slow in zip(self.params, self.slow):
                slow.add_(fast - slow, alpha=self.alpha)
                fast.copy_(slow)


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam, "lion": Lion,
}  # fmt: skip


def make_optimizer(params: Iterable[torch.Tensor], config: dict[str, Any]) -> Any:
    """The optimizer ``config`` describes, wrapped in Lookahead when asked."""
    name = config["optimizer"].lower()
    if name in ("sgd_momentum", "sgd_nesterov"):  # the grid's family names
        name, config = "sgd", {**config, "variant": name.removeprefix("sgd_")}
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    if "kwargs" in config:
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config["kwargs"].items()}
        if name == "lion":  # implementation switches of autoopt's Lion, not hyperparameters
            kwargs = {k: v for k, v in kwargs.items() if k in ("lr", "betas", "weight_decay")}
    else:
        kwargs = {"lr": float(config["lr"])}
        if name == "sgd":
            kwargs.update(SGD_MOMENTUM[config.get("variant", "plain")])
    optimizer = OPTIMIZERS[name](params, **kwargs)
    lookahead = config.get("lookahead")
    if lookahead:
        k, alpha = (lookahead["k"], lookahead["alpha"]) if isinstance(lookahead, dict) else (5, 0.5)
        optimizer = Lookahead(optimizer, k=k, alpha=alpha)
    return optimizer


def load_task(path: str | Path) -> ModuleType:
    """Import a model file as a module."""
    path = Path(path).resolve()
    name = f"reference_task_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output, target) if target.is_floating_point() else F.cross_entropy(output, target)


def _tensors(dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return tensors
    items = [dataset[i] for i in range(len(dataset))]
    return torch.stack([torch.as_tensor(a) for a, _ in items]), torch.stack([torch.as_tensor(b) for _, b in items])


def _data(task: ModuleType) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The task's (train, valid) tensors, computed once per module."""
    cached = getattr(task, "_reference_data", None)
    if cached is None:
        train, valid = task.datasets()
        cached = (_tensors(train), _tensors(valid))
        task._reference_data = cached
    return cached


def direction(task: ModuleType) -> str:
    return getattr(task, "direction", "minimize")


def worst(task: ModuleType) -> float:
    return -math.inf if direction(task) == "maximize" else math.inf


def evaluate(model: torch.nn.Module, task: ModuleType, valid: tuple[torch.Tensor, torch.Tensor]) -> float:
    measure = getattr(task, "metric", None) or getattr(task, "loss_fn", None) or default_loss
    x, y = valid
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), EVAL_BATCH):
            xb, yb = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
            total += float(measure(model(xb), yb)) * len(yb)
    model.train()
    return total / len(x)


def train(task: ModuleType, config: dict[str, Any], seed: int, epochs: int | None = None) -> tuple[float, list[float]]:
    """Train ``config`` on ``task`` from ``seed``: (the last epoch's value, the value after each epoch).

    A diverged run returns (+inf, curve so far) when minimizing, (-inf, ...) when maximizing.
    """
    epochs = epochs or task.epochs
    (x, y), valid = _data(task)
    torch.manual_seed(seed)
    model = task.build_model()
    optimizer = make_optimizer(model.parameters(), config)
    loss_fn = getattr(task, "loss_fn", None) or default_loss
    batch_size = int(config["batch_size"])
    order = torch.Generator().manual_seed(seed)
    curve: list[float] = []
    model.train()
    for _ in range(epochs):
        permutation = torch.randperm(len(x), generator=order)
        for start in range(0, len(x), batch_size):
            index = permutation[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            if not math.isfinite(loss.item()):
                return worst(task), curve
            loss.backward()
            optimizer.step()
        value = evaluate(model, task, valid)
        if not math.isfinite(value):
            return worst(task), curve
        curve.append(value)
    return curve[-1], curve
