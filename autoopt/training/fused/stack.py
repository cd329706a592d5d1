"""K copies of one model as rows of a flat ``[K, P]`` parameter tensor, trained with ``torch.func``.

``torch.func.stack_module_state`` would give one ``[K, ...]`` tensor per parameter; one flat
row per member instead lets every optimizer rule update all parameters of all members in
a few whole-tensor ops, and makes adding or dropping a member one ``cat`` or one index.
Inside ``vmap`` each row is cut back into the module's parameters (views, no copies) and
the module runs through ``functional_call``; ``grad_and_value`` gives each member the
gradient of its own loss only, so members never mix, whatever one of them computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, grad_and_value, vmap

LossFn = Callable[[Any, Any], Tensor]


class StackedModel:
    """The layout of ``template``'s parameters in a row, and vmapped loss/gradient and forward."""

    def __init__(self, template: torch.nn.Module, loss_fn: LossFn) -> None:
        self.template, self.loss_fn = template, loss_fn
        named = list(template.named_parameters())
        self.names = [name for name, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.width = sum(self.sizes)
        self.buffer_names = [name for name, _ in template.named_buffers()]
        # Dropout and other random layers draw independently per member, as separate trials would.
        self._loss_and_grad = vmap(grad_and_value(self._member_loss), in_dims=(0, 0, 0, 0), randomness="different")
        self._forward = vmap(self._member_forward, in_dims=(0, 0, None), randomness="different")

    def row(self, module: torch.nn.Module) -> tuple[Tensor, dict[str, Tensor]]:
        """``module``'s parameters as one flat row, and its buffers."""
        params = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
        return params, {name: b.detach().clone() for name, b in module.named_buffers()}

    def _tensors(self, row: Tensor, buffers: dict[str, Tensor]) -> dict[str, Tensor]:
        pieces = row.split(self.sizes)
        return {**{n: piece.view(shape) for n, piece, shape in zip(self.names, pieces, self.shapes)}, **buffers}

    def _member_forward(self, row: Tensor, buffers: dict[str, Tensor], inputs: Any) -> Tensor:
        return functional_call(self.template, self._tensors(row, buffers), (inputs,))

    def _member_loss(self, row: Tensor, buffers: dict[str, Tensor], inputs: Any, targets: Any) -> Tensor:
        return self.loss_fn(self._member_forward(row, buffers, inputs), targets)

    def loss_and_grad(self, params: Tensor, buffers: dict[str, Tensor], inputs: Any, targets: Any) -> tuple[Tensor, Tensor]:
        """Each member's gradient ``[K, P]`` and loss ``[K]``, each on its own batch (``inputs`` and
        ``targets`` lead with the member dimension)."""
        return self._loss_and_grad(params, buffers, inputs, targets)

    def forward(self, params: Tensor, buffers: dict[str, Tensor], inputs: Any) -> Tensor:
        """Each member's output on one shared batch: ``[K, *output]``."""
        return self._forward(params, buffers, inputs)


def evaluate_members(stack: StackedModel, params: Tensor, buffers: dict[str, Tensor], batches: Any,
                     measure: Callable[[Any, Any], Any]) -> list[float]:  # fmt: skip
    """Each member's validation metric (or loss), weighted by batch size as ``runner.evaluate`` does."""
    totals, count = [0.0] * len(params), 0
    stack.template.eval()
    with torch.no_grad():
        for inputs, targets in batches:
            outputs = stack.forward(params, buffers, inputs)
            for index in range(len(params)):  # the user's metric runs unvectorized: it need not support vmap
                totals[index] += float(measure(outputs[index], targets)) * len(targets)
            count += len(targets)
    stack.template.train()
    return [total / count if count else math.nan for total in totals]
