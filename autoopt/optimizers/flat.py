"""A param group's parameters and optimizer state gathered into contiguous buffers.

An eager elementwise step on a model of many small tensors costs a kernel launch per
tensor per op: 400 tensors and five ops make 2,000 launches, which take four times as
long as moving the bytes (benchmarks/optimizers.py). Keeping the parameters and the
state in one buffer each makes the step a handful of ops over whole buffers; only the
gradients, which autograd allocates per tensor, are gathered: one ``torch.cat`` per
cache-sized block and shape class (tensors that differ only in their first dimension), as
the buffers are ordered by shape class.

The parameters become views into the buffer (``p.data`` is re-pointed, as DeepSpeed and
apex do with flat buffers). The buffers hold the parameters that have a gradient or
state; a step where one of them has no gradient (a branch the batch did not take) runs
per tensor, on the views, and leaves the layout alone. Whatever invalidates the layout (a
new parameter with a gradient, ``model.to()`` replacing a parameter's storage,
``load_state_dict`` replacing the state) is found on the next step, and the layout is
rebuilt from the tensors as they are then. Elementwise results do not depend on where
tensors sit, so a flat step equals the per-tensor one exactly.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from dataclasses import dataclass

import torch

# (params, grads, one tensor per state key, a scratch of the same size for the step's temporaries)
Segment = tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]


@dataclass(eq=False)
class _Gather:
    """Gradients of one shape class, concatenated along their first dimension into a block's scratch."""

    members: list[int]  # indices into the group's parameters
    into: torch.Tensor  # the scratch region, shaped (rows of all members, *the class's trailing shape)
    stack: bool  # 0-d tensors: stacked, as they cannot be concatenated

    def __post_init__(self) -> None:
        self._pick = operator.itemgetter(*self.members)  # one C call per step, not a Python loop

    def __call__(self, grads: list[torch.Tensor | None]) -> None:
        picked = self._pick(grads)
        (torch.stack if self.stack else torch.cat)(picked if len(self.members) > 1 else (picked,), out=self.into)


@dataclass(eq=False)
class _Block:
    """A contiguous range of the buffers: small tensors gathered, or a piece of one large one."""

    params: torch.Tensor  # a slice of the flat parameters
    state: list[torch.Tensor]  # the same slice of each flat state buffer
    gathers: list[_Gather]  # empty for a piece of a large tensor, whose gradient is read in place
    scratch: torch.Tensor | None = None  # the gathered gradients, flat
    member: int = -1  # for a piece of a large tensor: the tensor's index in the group
    piece: slice | None = None  # and the part of its flattened gradient


@dataclass(eq=False)  # compared by identity: equality of tensor lists is elementwise
class FlatGroup:
    """The flat layout of one param group: what it covers and how it was laid out."""

    group_params: list[torch.Tensor]  # the group's parameters when laid out (held, so their ids stay theirs)
    laid: list[bool]  # which of them are in the buffers (they had a gradient or state when laid out)
    order: list[int]  # their indices in the group, in buffer order
    ptrs: list[int]  # their data pointers, in that order: a swapped ``.data`` must be noticed
    state: dict  # the optimizer ``state`` the buffers' views were put into
    blocks: list[_Block]
    temporary: torch.Tensor  # one block's worth, for the step's temporaries, reused across blocks and steps

    def __post_init__(self) -> None:
        self._laid_params = [self.group_params[i] for i in self.order]
        self._all_laid = all(self.laid)

    # Both checks run every step, so they are written as C-level maps: with 400 parameters a
    # Python loop over them costs a fifth of the step they guard.
    def fits(self, params: list[torch.Tensor], grads: list[torch.Tensor | None], state: dict) -> bool:
        """Whether this layout still holds ``params`` and ``state``, and every gradient is of a laid-out one."""
        return (
            state is self.state
            and len(params) == len(self.group_params)
            and all(map(operator.is_, params, self.group_params))
            and list(map(torch.Tensor.data_ptr, self._laid_params)) == self.ptrs
            and (self._all_laid or all(laid or g is None for laid, g in zip(self.laid, grads)))
        )

    def complete(self, grads: list[torch.Tensor | None]) -> bool:
        """Whether every laid-out parameter has a gradient, so that whole buffers can be stepped."""
        if self._all_laid:
            return not any(map(operator.is_, grads, itertools.repeat(None)))
        return all(grads[i] is not None for i in self.order)

    def segments(self, grads: list[torch.Tensor | None]) -> Iterator[Segment]:
        """Per block: the flat parameters, their gradients (gathered where needed) and state."""
        for block in self.blocks:
            if block.gathers:
                for gather in block.gathers:
                    gather(grads)
                grads_of_block = block.scratch
            else:
                grads_of_block = grads[block.member].reshape(-1)[block.piece]  # type: ignore[union-attr]
            yield block.params, grads_of_block, block.state, self.temporary[: block.params.numel()]


def eligible(params: list[torch.Tensor], grads: list[torch.Tensor | None], included: list[bool]) -> bool:
    """Whether the ``included`` parameters can share one buffer: dense, real, one dtype and device."""
    chosen = [(p, g) for p, g, keep in zip(params, grads, included) if keep]
    if not chosen:
        return False
    first = chosen[0][0]
    return all(
        type(p) in (torch.Tensor, torch.nn.Parameter)
        and p.is_floating_point()
        and p.dtype == first.dtype
        and p.device == first.device
        and p.is_contiguous()
        and (g is None or g.layout == torch.strided)
        for p, g in chosen
    )


def _shape_class(p: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    return p.dim(), tuple(p.shape[1:])


def flatten(
    params: list[torch.Tensor],
    included: list[bool],
    state: dict,
    keys: tuple[str, ...],
    *,
    block_elements: int,
) -> FlatGroup:
    """Lay out the ``included`` parameters, and their ``state[p][key]``, in flat buffers.

    Existing state is copied in; missing state starts at zero. Call ``eligible`` first.
    """
    order = sorted((i for i, keep in enumerate(included) if keep), key=lambda i: _shape_class(params[i]))
    first = params[order[0]]
    total = sum(params[i].numel() for i in order)
    flat_params = torch.empty(total, dtype=first.dtype, device=first.device)
    flat_state = [torch.zeros(total, dtype=first.dtype, device=first.device) for _ in keys]
    offset = 0
    for i in order:
        p, n = params[i], params[i].numel()
        with torch.no_grad():
            flat_params[offset : offset + n].copy_(p.view(-1))
        p.data = flat_params[offset : offset + n].view_as(p)
        for key, flat in zip(keys, flat_state):
            if key in state[p]:
                flat[offset : offset + n].copy_(state[p][key].reshape(-1))
            state[p][key] = flat[offset : offset + n].view_as(p)
        offset += n
    blocks = _blocks(params, order, flat_params, flat_state, block_elements)
    ptrs = [params[i].data_ptr() for i in order]
    temporary = torch.empty(min(block_elements, total), dtype=first.dtype, device=first.device)
    return FlatGroup(list(params), list(included), order, ptrs, state, blocks, temporary)


def _blocks(
    params: list[torch.Tensor], order: list[int], flat_params: torch.Tensor, flat_state: list[torch.Tensor], limit: int
) -> list[_Block]:
    """Cut the buffers into blocks of about ``limit`` elements that stay in cache across a step's ops.

    Runs of tensors smaller than ``limit`` share a block, and gather their gradients into a
    scratch one cat per shape class; a larger tensor is read in place, piece by piece.
    """
    scratch = torch.empty(min(limit, flat_params.numel()), dtype=flat_params.dtype, device=flat_params.device)
    blocks: list[_Block] = []
    run: list[int] = []
    start = offset = 0

    def close_run() -> None:
        if not run:
            return
        gathers, at = [], 0
        for (dim, trailing), members in itertools.groupby(run, key=lambda i: _shape_class(params[i])):
            members = list(members)
            n = sum(params[i].numel() for i in members)
            rows = sum(params[i].shape[0] for i in members) if dim else len(members)
            gathers.append(_Gather(members, scratch[at : at + n].view(rows, *trailing), stack=dim == 0))
            at += n
        block_state = [f[start:offset] for f in flat_state]
        blocks.append(_Block(flat_params[start:offset], block_state, gathers, scratch[: offset - start]))
        run.clear()

    for i in order:
        n = params[i].numel()
        if n > limit:
            close_run()
            for a in range(0, n, limit):
                piece = slice(offset + a, offset + min(a + limit, n))
                state = [f[piece] for f in flat_state]
                blocks.append(_Block(flat_params[piece], state, [], member=i, piece=slice(a, min(a + limit, n))))
            offset += n
            start = offset
            continue
        if offset - start + n > limit:
            close_run()
            start = offset
        run.append(i)
        offset += n
    close_run()
    return blocks
