"""Aligned tensor lists cut into cache-sized blocks, for elementwise steps over many tensors.

An eager elementwise step reads and writes its tensors once per op. Run over all of a
model's tensors at once, each op streams everything through main memory; run block by
block, a block's parameters, gradients, state and temporaries stay in L2/L3 cache across
the ops, so main memory sees each tensor about once per step. Lion's foreach path and
Lookahead's slow-weight sync both step this way (benchmarks/optimizers.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

# A block's parameters, gradients, momenta and updates fit in L2/L3 cache across the
# four passes of a step. Read at each call, so tests can make it small to force cuts.
BLOCK_BYTES = 2 << 20


def cache_blocks(*tensor_lists: list[torch.Tensor]) -> Iterator[tuple[list[torch.Tensor], ...]]:
    """Regroup aligned tensor lists into blocks of about ``BLOCK_BYTES`` per list.

    Small tensors are batched together; a large tensor is cut into flat chunks when every
    list holds it contiguously (elementwise results do not depend on where it is cut).
    Off the CPU the lists stay whole: there each foreach op is one launch over all of them.
    """
    if tensor_lists[0][0].device.type != "cpu":
        yield tensor_lists
        return
    limit = max(1, BLOCK_BYTES // tensor_lists[0][0].element_size())
    block: tuple[list[torch.Tensor], ...] = tuple([] for _ in tensor_lists)
    size = 0
    for tensors in zip(*tensor_lists):
        if tensors[0].numel() > limit and all(t.is_contiguous() for t in tensors):
            pieces = zip(*(t.view(-1).split(limit) for t in tensors))
        else:
            pieces = [tensors]
        for piece in pieces:
            if size and size + piece[0].numel() > limit:
                yield block
                block, size = tuple([] for _ in tensor_lists), 0
            for bucket, tensor in zip(block, piece):
                bucket.append(tensor)
            size += piece[0].numel()
    if size:
        yield block
