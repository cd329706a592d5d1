"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

Each step moves every coordinate by exactly ``lr`` in the direction of the sign of an
interpolation between the momentum and the gradient, then updates the momentum::

    update = sign(beta1 * m + (1 - beta1) * g)
    p      = p - lr * (update + weight_decay * p)
    m      = beta2 * m + (1 - beta2) * g

One state buffer per parameter (Adam keeps two). ``_single_tensor_lion`` states the rule
plainly; ``_multi_tensor_lion`` gives the same results faster with ``torch._foreach_*``
ops, run block by block so that the temporaries stay in cache (``blocks.py``). With
``flat=True`` the parameters and momenta live in one buffer per group and the plain rule
runs over whole buffers (``flat.py``). Fastest of all, and the default where it can run
(float32 on the CPU, with a C++ compiler), is one pass of a native kernel over the whole
group (``native.py``), like torch's fused Adam; the results are the same on every path.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer
from torch.optim.optimizer import ParamsT

from autoopt.optimizers import blocks
from autoopt.optimizers import flat as flat_layout
from autoopt.optimizers import native


class Lion(Optimizer):
    """Lion: sign of the interpolated momentum, decoupled weight decay scaled by ``lr``.

    ``flat=True`` keeps each group's parameters and momenta in one buffer each, the
    parameters becoming views into it (``p.data`` is re-pointed at the first step): a step
    is then a few ops over whole buffers instead of five per tensor, 3-4x faster than the
    foreach path on a model of many small tensors. Where the native kernel runs (below),
    the default path needs no layout and is as fast there, and faster on larger tensors,
    whose gradients ``flat`` must gather (1 thread: 400 x 50x50, 1.6 ms against 1.3 ms;
    48 x 256x256, 3.4 ms against 5.7 ms). A group that is not one dense real dtype on one
    device steps per tensor; the results are the same either way.

    ``fused`` (as in torch's optimizers): None, the default, steps a group with the native
    single-pass kernel where it can (every tensor float32, dense and on the CPU, and the
    kernel built: the first process on a machine starts its build and steps without it)
    and otherwise as ``foreach`` and ``flat`` say; True requires the kernel, builds it if
    need be, and raises where it cannot run; False never uses it.

    >>> opt = Lion(model.parameters(), lr=1e-4, weight_decay=1.0)  # doctest: +SKIP
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        flat: bool = False,
        fused: bool | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}; `lr >= 0` must hold")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}; `0 <= beta < 1` must hold")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}; `weight_decay >= 0` must hold")
        defaults = {
            "lr": lr,
            "betas": betas,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "flat": flat,
            "fused": fused,
        }
        super().__init__(params, defaults)
        self._layouts: dict[int, flat_layout.FlatGroup] = {}  # by group index, for groups with ``flat``

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._layouts = {}  # copies and pickles lay their own buffers out
        for group in self.param_groups:  # state dicts saved before these options existed
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("flat", False)
            group.setdefault("fused", None)

    def _init_group(self, group: dict, params: list, grads: list, exp_avgs: list) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("Lion does not support sparse gradients")
            state = self.state[p]
            if not state:
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            tensors = (p, p.grad, state["exp_avg"])
            if torch.is_complex(p):  # the sign is taken per real and imaginary part, as torch does for Adam
                tensors = tuple(torch.view_as_real(t) for t in tensors)
            for bucket, tensor in zip((params, grads, exp_avgs), tensors):
                bucket.append(tensor)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            if group["flat"] and self._flat_step(index, group):
                continue
            params, grads, exp_avgs = [], [], []
            self._init_group(group, params, grads, exp_avgs)
            beta1, beta2 = group["betas"]
            hyperparameters = {"lr": group["lr"], "beta1": beta1, "beta2": beta2,
                               "weight_decay": group["weight_decay"], "maximize": group["maximize"]}  # fmt: skip
            if _fused_lion(group["fused"], params, grads, exp_avgs, **hyperparameters):
                continue
            foreach = group["foreach"]
            if foreach is None:  # faster than the loop on CPU too (benchmarks/optimizers.py), unlike torch's own
                foreach = all(type(p) in (torch.Tensor, torch.nn.Parameter) for p in params)
            update = _multi_tensor_lion if foreach else _single_tensor_lion
            update(params, grads, exp_avgs, **hyperparameters)
        return loss

    def _flat_step(self, index: int, group: dict) -> bool:
        """Step ``group`` over its flat buffers; False where it cannot be laid out flat (then step per tensor)."""
        params = group["params"]
        grads = [p.grad for p in params]
        layout = self._layouts.get(index)
        if layout is None or not layout.fits(params, grads, self.state):
            self._layouts.pop(index, None)
            # What was stepped before stays in, so a gradient that skips a step does not re-lay the buffers.
            included = [g is not None or p in self.state for p, g in zip(params, grads)]
            if not flat_layout.eligible(params, grads, included):
                return False
            on_cpu = params[included.index(True)].device.type == "cpu"
            block = blocks.BLOCK_BYTES // params[0].element_size() if on_cpu else sum(p.numel() for p in params)
            layout = flat_layout.flatten(params, included, self.state, ("exp_avg",), block_elements=max(1, block))
            self._layouts[index] = layout
        if not layout.complete(grads):
            return False  # this step, per tensor on the views: a laid-out parameter has no gradient
        lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
        hyperparameters = {"lr": lr, "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay,
                           "maximize": group["maximize"]}  # fmt: skip
        for param, grad, (exp_avg,), update in layout.segments(grads):
            if _fused_lion(group["fused"], [param], [grad], [exp_avg], **hyperparameters):
                continue
            grad = -grad if group["maximize"] else grad
            # The plain rule's ops, in its order (so the results are equal), into a reused temporary.
            if weight_decay != 0:
                param.add_(param, alpha=-lr * weight_decay)
            param.add_(torch.lerp(exp_avg, grad, 1 - beta1, out=update).sign_(), alpha=-lr)
            exp_avg.lerp_(grad, 1 - beta2)
        return True


def _fused_lion(
    fused: bool | None,
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    **hyperparameters: float | bool,
) -> bool:
    """Step with the native kernel unless ``fused`` is False; False where it did not (then nothing changed)."""
    if fused:
        native.load(wait=True)  # required: build it now if it is not built
    if fused is not False and native.lion_(params, grads, exp_avgs, **hyperparameters):
        return True
    if fused:
        raise RuntimeError(
            "Lion(fused=True) steps float32 dense CPU tensors with its native kernel, which could not take "
            f"this group (kernel built: {native.load() is not None}); pass fused=None to fall back"
        )
    return False


def _single_tensor_lion(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    for param, grad, exp_avg in zip(params, grads, exp_avgs):
        grad = -grad if maximize else grad
        if weight_decay != 0:
            param.add_(param, alpha=-lr * weight_decay)
        param.add_(exp_avg.lerp(grad, 1 - beta1).sign_(), alpha=-lr)
        exp_avg.lerp_(grad, 1 - beta2)


def _multi_tensor_lion(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    if not params:
        return
    grouped = Optimizer._group_tensors_by_device_and_dtype([params, grads, exp_avgs])
    for (device_params, device_grads, device_exp_avgs), _ in grouped.values():
        for block_params, block_grads, block_exp_avgs in blocks.cache_blocks(device_params, device_grads, device_exp_avgs):
            if maximize:
                block_grads = torch._foreach_neg(block_grads)
            updates = torch._foreach_lerp(block_exp_avgs, block_grads, 1 - beta1)
            torch._foreach_sign_(updates)
            if weight_decay != 0:  # add_(p, p) rather than mul_: the scalar foreach ops are slow on CPU
                torch._foreach_add_(block_params, block_params, alpha=-lr * weight_decay)
            torch._foreach_add_(block_params, updates, alpha=-lr)
            torch._foreach_lerp_(block_exp_avgs, block_grads, 1 - beta2)
            del updates, block_grads  # free this block's temporaries before the next block makes its own
