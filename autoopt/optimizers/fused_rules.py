"""Each optimizer's update rule over K members at once, each member with its own hyperparameters.

A fused group (``autoopt.training.fused``) keeps every member's parameters as one row of a flat
``[K, P]`` tensor, so a step of any rule here is a handful of elementwise ops on whole
``[K, P]`` tensors (not a loop over parameters, nor over members). Hyperparameters arrive
as ``[K, 1]`` tensors and broadcast along the row; so does the step count, which is per
member because a member that joins a running group starts at step 0.

Each rule follows ``torch.optim``'s single-tensor path (``autoopt.optimizers.Lion`` for
Lion) line for line, so a member trains as that optimizer trains alone; the tests hold
every rule to its peer with ``assert_close``. A rule is attached to its optimizer's
registry entry (``OptimizerInfo.fused``) and names the hyperparameters it reads; their
defaults are the entry's, so a fused and an unfused run of one configuration agree.
Options that change the algorithm beyond what is written here (``amsgrad``, ``centered``,
``maximize``, a non-zero ``dampening``, ...) are ``required`` at their plain values: a
configuration that sets them otherwise runs alone (``autoopt.training.fused.member_hyperparameters``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

Update = Callable[[Tensor, Tensor, dict[str, Tensor], dict[str, Tensor], Tensor], None]


@dataclass(frozen=True)
class FusedRule:
    """One optimizer's vectorized step: the hyperparameters it reads, and its state."""

    update: Update  # (params, grads, state, hyperparameters, step) -> None, in place
    hyperparameters: tuple[str, ...]  # search-level names (``beta1``, ``beta2``), defaults from the registry
    state: tuple[str, ...] = ()  # per-element buffers, zeros at step 0
    member_state: Mapping[str, float] = field(default_factory=dict)  # one number per member, and its start
    required: Mapping[str, Any] = field(default_factory=dict)  # options that must hold these values


def _sgd(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    # torch starts the buffer at the first gradient; with zero dampening m * 0 + g is that.
    s["momentum_buffer"].mul_(h["momentum"]).add_(g)
    g = torch.where(h["nesterov"] > 0, g + h["momentum"] * s["momentum_buffer"], s["momentum_buffer"])
    p.sub_(h["lr"] * g)


def _adagrad(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    clr = h["lr"] / (1 + (step - 1) * h["lr_decay"])
    s["sum"].addcmul_(g, g)
    p.sub_(clr * g / (s["sum"].sqrt() + h["eps"]))


def _adadelta(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    rho = h["rho"]
    s["square_avg"].mul_(rho).add_((1 - rho) * g * g)
    delta = (s["acc_delta"] + h["eps"]).sqrt() / (s["square_avg"] + h["eps"]).sqrt() * g
    s["acc_delta"].mul_(rho).add_((1 - rho) * delta * delta)
    p.sub_(h["lr"] * delta)


def _rmsprop(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    alpha = h["alpha"]
    s["square_avg"].mul_(alpha).add_((1 - alpha) * g * g)
    # Without momentum torch steps by g / avg; m * 0 + g / avg is that.
    s["momentum_buffer"].mul_(h["momentum"]).add_(g / (s["square_avg"].sqrt() + h["eps"]))
    p.sub_(h["lr"] * s["momentum_buffer"])


def _adam_moments(g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor]) -> None:
    s["exp_avg"].lerp_(g, 1 - h["beta1"])
    s["exp_avg_sq"].mul_(h["beta2"]).add_((1 - h["beta2"]) * g * g)


def _adam(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    _adam_moments(g + h["weight_decay"] * p, s, h)
    _adam_step(p, s, h, step)


def _adamw(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    p.mul_(1 - h["lr"] * h["weight_decay"])
    _adam_moments(g, s, h)
    _adam_step(p, s, h, step)


def _adam_step(p: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    bias_correction1 = 1 - h["beta1"] ** step
    bias_correction2 = 1 - h["beta2"] ** step
    denom = s["exp_avg_sq"].sqrt() / bias_correction2.sqrt() + h["eps"]
    p.sub_(h["lr"] / bias_correction1 * s["exp_avg"] / denom)


def _nadam(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    beta1, decay = h["beta1"], h["momentum_decay"]
    mu = beta1 * (1 - 0.5 * 0.96 ** (step * decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * decay))
    s["mu_product"].mul_(mu)
    _adam_moments(g, s, h)
    denom = (s["exp_avg_sq"] / (1 - h["beta2"] ** step)).sqrt() + h["eps"]
    lr, mu_product = h["lr"], s["mu_product"]
    p.sub_(lr * (1 - mu) / (1 - mu_product) * g / denom)
    p.sub_(lr * mu_next / (1 - mu_product * mu_next) * s["exp_avg"] / denom)


def _radam(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    g = g + h["weight_decay"] * p
    beta2 = h["beta2"]
    _adam_moments(g, s, h)
    bias_correction2 = 1 - beta2**step
    corrected = s["exp_avg"] / (1 - h["beta1"] ** step)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
    # The rectified step once the variance estimate is trusted (rho_t > 5), plain momentum before.
    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).clamp(min=0).sqrt()
    adaptive = bias_correction2.sqrt() / (s["exp_avg_sq"].sqrt() + h["eps"])
    p.sub_(corrected * h["lr"] * torch.where(rho_t > 5, adaptive * rect, 1.0))


def _lion(p: Tensor, g: Tensor, s: dict[str, Tensor], h: dict[str, Tensor], step: Tensor) -> None:
    update = s["exp_avg"].lerp(g, 1 - h["beta1"]).sign_()
    p.sub_(h["lr"] * h["weight_decay"] * p)
    p.sub_(h["lr"] * update)
    s["exp_avg"].lerp_(g, 1 - h["beta2"])


# fmt: off
_ADAM = ("lr", "beta1", "beta2", "eps", "weight_decay")
_ADAM_STATE = ("exp_avg", "exp_avg_sq")
_ADAM_REQUIRED = {"amsgrad": False, "maximize": False}
_PLAIN_WEIGHT_DECAY = {"decoupled_weight_decay": False, "maximize": False}

SGD = FusedRule(_sgd, ("lr", "momentum", "nesterov", "weight_decay"), ("momentum_buffer",),
                required={"dampening": 0, "maximize": False})
ADAGRAD = FusedRule(_adagrad, ("lr", "lr_decay", "eps", "weight_decay"), ("sum",),
                    required={"initial_accumulator_value": 0, "maximize": False})
ADADELTA = FusedRule(_adadelta, ("lr", "rho", "eps", "weight_decay"), ("square_avg", "acc_delta"),
                     required={"maximize": False})
RMSPROP = FusedRule(_rmsprop, ("lr", "alpha", "eps", "momentum", "weight_decay"), ("square_avg", "momentum_buffer"),
                    required={"centered": False, "maximize": False})
ADAM = FusedRule(_adam, _ADAM, _ADAM_STATE, required=_ADAM_REQUIRED)
ADAMW = FusedRule(_adamw, _ADAM, _ADAM_STATE, required=_ADAM_REQUIRED)
NADAM = FusedRule(_nadam, (*_ADAM, "momentum_decay"), _ADAM_STATE, {"mu_product": 1.0}, required=_PLAIN_WEIGHT_DECAY)
RADAM = FusedRule(_radam, _ADAM, _ADAM_STATE, required=_PLAIN_WEIGHT_DECAY)
LION = FusedRule(_lion, ("lr", "beta1", "beta2", "weight_decay"), ("exp_avg",), required={"maximize": False})
# fmt: on
