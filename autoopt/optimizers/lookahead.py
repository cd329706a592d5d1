"""Lookahead (Zhang, Lucas, Hinton, Ba 2019, "Lookahead Optimizer: k steps forward, 1 step back").

The wrapped optimizer takes ``k`` fast steps; then the slow weights move a fraction
``alpha`` toward the fast ones and the fast weights restart from there::

    slow = slow + alpha * (fast - slow)
    fast = slow

To the outside it is a plain ``torch.optim.Optimizer``: ``param_groups`` and ``defaults``
are the wrapped optimizer's own objects, so LR schedulers and ``add_param_group`` act on
it directly; ``state`` holds the slow weights; ``state_dict()`` carries the wrapped
optimizer's state, the slow weights and the step counter. Parameters that an optimizer keeps
end to end in one buffer (``Lion(flat=True)``) are synced as one tensor (``_coalesced``).
The sync runs in one pass per block with the native kernel where it can (float32 on the
CPU: ``native.py``), and otherwise as two foreach ops; the results are the same.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import Optimizer

from autoopt.optimizers import native
from autoopt.optimizers.blocks import cache_blocks


@dataclass(eq=False)  # compared by identity: equality of tensor lists is elementwise
class _SyncPlan:
    """What a slow-weight update touches, kept between cycles.

    Rebuilding it (finding the slow weights, grouping, blocking) cost as much as the update
    itself on a model of many small tensors (benchmarks/optimizers.py).
    """

    params: list[torch.Tensor]  # every parameter of every group, in order (held, so their ids stay theirs)
    watched: list[torch.Tensor]  # the parameters the blocks hold through views (pieces, shared buffers), not whole
    storage: list[int]  # their data pointers: the views would miss a swapped ``.data``
    state: dict  # the ``state`` the blocks were taken from (load_state_dict replaces it)
    joined: bool  # every parameter has slow weights
    blocks: list[tuple[list[torch.Tensor], list[torch.Tensor]]]  # (fast, slow) by device, dtype and cache-sized block

    def fits(self, params: list[torch.Tensor], state: dict) -> bool:
        return (
            state is self.state
            and len(params) == len(self.params)
            and all(map(operator.is_, params, self.params))
            and list(map(torch.Tensor.data_ptr, self.watched)) == self.storage
        )


class Lookahead(Optimizer):
    """Wrap ``optimizer``: every ``k`` steps, pull the weights back toward slow weights by ``alpha``.

    >>> opt = Lookahead(torch.optim.AdamW(model.parameters()), k=5, alpha=0.5)  # doctest: +SKIP
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Lookahead wraps a torch.optim.Optimizer, but got {type(optimizer).__name__}")
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"Invalid k: {k!r}; `k >= 1` must hold (an integer number of fast steps)")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Invalid alpha: {alpha}; `0 <= alpha <= 1` must hold")
        # Optimizer.__setstate__ is torch's own way to set up an optimizer's hooks from its
        # attributes; Optimizer.__init__ would copy the param groups instead of sharing them.
        self.__setstate__({"optimizer": optimizer, "k": k, "alpha": alpha, "state": defaultdict(dict), "_steps": 0})

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._plan: _SyncPlan | None = None  # built at the first cycle; copies and pickles rebuild their own

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        # A property, not a copy: the wrapped optimizer replaces its list on load_state_dict.
        return self.optimizer.param_groups

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    def __getstate__(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "k": self.k, "alpha": self.alpha, "state": self.state, "_steps": self._steps}

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, optimizer={self.optimizer!r})"

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One fast step of the wrapped optimizer; every ``k``-th also updates the slow weights."""
        if self._steps % self.k == 0 and not self._sync_plan().joined:
            self._join_new_params()  # start of a cycle: parameters new to Lookahead join here
        loss = self.optimizer.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            self._update_slow_weights()
        return loss

    def _sync_plan(self) -> _SyncPlan:
        """The plan for the current parameters, rebuilt only when they, their storage or ``state`` changed."""
        params = self._params()
        if self._plan is None or not self._plan.fits(params, self.state):
            joined = [p for p in params if p in self.state]
            fast, slow = _coalesced(joined, self.state)
            grouped = Optimizer._group_tensors_by_device_and_dtype([fast, slow]) if fast else {}
            blocks = [block for (f, s), _ in grouped.values() for block in cache_blocks(f, s)]
            whole = {id(t) for block_fast, _ in blocks for t in block_fast}
            watched = [p for p in joined if id(p) not in whole]
            storage = [p.data_ptr() for p in watched]
            self._plan = _SyncPlan(params, watched, storage, self.state, len(joined) == len(params), blocks)
        return self._plan

    def _join_new_params(self) -> None:
        for p in self._params():
            if p not in self.state:
                self.state[p]["slow_param"] = p.detach().clone()
        self._plan = None

    @torch.no_grad()
    def _update_slow_weights(self) -> None:
        # Block by block, the copy reads the slow weights from cache: 4 passes over memory, not 5.
        for block_fast, block_slow in self._sync_plan().blocks:
            if native.lookahead_sync_(block_fast, block_slow, self.alpha):
                continue  # in one pass: fast and slow weights read and written once
            torch._foreach_lerp_(block_slow, block_fast, self.alpha)
            torch._foreach_copy_(block_fast, block_slow)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the wrapped optimizer; its slow weights start at the next cycle."""
        self.optimizer.add_param_group(param_group)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict, the slow weights by parameter index, and the step counter."""
        slow = {index: self.state[p]["slow_param"] for index, p in enumerate(self._params()) if p in self.state}
        return {"optimizer": self.optimizer.state_dict(), "slow_params": slow, "step": self._steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` saved; the parameters must be grouped as when it was saved."""
        missing = {"optimizer", "slow_params", "step"} - set(state_dict)
        if missing:
            raise ValueError(f"not a Lookahead state dict: it lacks {sorted(missing)}")
        self.optimizer.load_state_dict(state_dict["optimizer"])
        params = self._params()
        if any(not 0 <= int(index) < len(params) for index in state_dict["slow_params"]):
            raise ValueError(f"the state dict has slow weights for parameter indices beyond the {len(params)} given")
        self.state, self._plan = defaultdict(dict), None  # the old plan would keep the old slow weights alive
        for index, slow in state_dict["slow_params"].items():
            p = params[int(index)]
            self.state[p]["slow_param"] = slow.to(dtype=p.dtype, device=p.device)
        self._steps = int(state_dict["step"])


@torch.no_grad()
def _coalesced(params: list[torch.Tensor], state: dict) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The fast and slow weights to sync, runs of parameters that tile one buffer joined into one tensor.

    An optimizer that keeps its parameters in a flat buffer (``Lion(flat=True)``, apex's and
    DeepSpeed's flat groups) leaves them end to end in one storage. Such a run is synced as
    one view of that storage, and its slow weights are moved into one buffer to match (each
    parameter's ``slow_param`` becoming a view of it): two ops per block instead of two per
    parameter, which on a model of many small tensors is most of the sync's cost.
    """
    def place(p: torch.Tensor) -> tuple[int, int]:
        return p.untyped_storage().data_ptr(), p.storage_offset()

    runs: list[list[torch.Tensor]] = []
    for p in sorted(params, key=place):
        last = runs[-1][-1] if runs else None
        follows = (
            last is not None
            and p.is_contiguous()
            and last.is_contiguous()
            and p.dtype == last.dtype
            and place(p) == (last.untyped_storage().data_ptr(), last.storage_offset() + last.numel())
        )
        if follows:
            runs[-1].append(p)
        else:
            runs.append([p])
    fast, slow = [], []
    for run in runs:
        if len(run) == 1:
            fast.append(run[0])
            slow.append(state[run[0]]["slow_param"])
            continue
        total = sum(p.numel() for p in run)
        first = run[0]
        fast.append(torch.empty(0, dtype=first.dtype, device=first.device).set_(
            first.untyped_storage(), first.storage_offset(), (total,)))  # fmt: skip
        joined = torch.empty(total, dtype=first.dtype, device=first.device)
        offset = 0
        for p in run:
            view = joined[offset : offset + p.numel()].view_as(p)
            view.copy_(state[p]["slow_param"])
            state[p]["slow_param"] = view
            offset += p.numel()
        slow.append(joined)
    return fast, slow
