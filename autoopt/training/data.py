"""Turn a task's datasets into tensors once, so a trial's epoch is a few index operations.

A ``DataLoader`` costs tens of microseconds per item in Python; the small models autoopt
tunes train in less than that. Datasets whose items are (input, target) pairs are stacked
into four tensors when they fit in memory; anything else keeps a ``DataLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils._pytree import tree_map

from autoopt.errors import UserError

# Above this many items a dataset is streamed through a DataLoader instead of stacked.
MAX_STACKED_ITEMS = 2_000_000


@dataclass
class Split:
    """One split: stacked tensors, or the raw dataset when it cannot be stacked."""

    inputs: torch.Tensor | None
    targets: torch.Tensor | None
    dataset: Any

    def __len__(self) -> int:
        return len(self.inputs) if self.inputs is not None else len(self.dataset)

    def to(self, device: torch.device) -> Split:
        if self.inputs is None or self.inputs.device == device:
            return self
        return Split(self.inputs.to(device), self.targets.to(device), self.dataset)

    def batches(self, batch_size: int, *, generator: torch.Generator | None) -> Iterator[tuple[Any, Any]]:
        """Yield (input, target) batches, shuffled when a generator is given."""
        if self.inputs is None:
            loader = torch.utils.data.DataLoader(
                self.dataset, batch_size=batch_size, shuffle=generator is not None, generator=generator
            )
            yield from loader
            return
        n = len(self.inputs)
        order = torch.randperm(n, generator=generator).to(self.inputs.device) if generator is not None else None
        for start in range(0, n, batch_size):
            if order is None:
                yield self.inputs[start : start + batch_size], self.targets[start : start + batch_size]
            else:
                index = order[start : start + batch_size]
                yield self.inputs[index], self.targets[index]

    def member_batches(self, batch_size: int, generators: list[torch.Generator]) -> Iterator[tuple[Any, Any, int]]:
        """One epoch of several trials at once, each over its own order: ``(inputs, targets, size)``
        with a leading member dimension, and how many items each member's batch holds. Member
        ``k``'s batches are the ones ``batches(batch_size, generator=generators[k])`` yields."""
        if self.inputs is None:
            streams = [self.batches(batch_size, generator=g) for g in generators]
            for batch in zip(*streams):
                inputs = tree_map(lambda *xs: torch.stack(xs), *(b[0] for b in batch))
                targets = tree_map(lambda *xs: torch.stack(xs), *(b[1] for b in batch))
                yield inputs, targets, len(batch[0][1])
            return
        n = len(self.inputs)
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(self.inputs.device)
        for start in range(0, n, batch_size):
            index = orders[:, start : start + batch_size]
            yield self.inputs[index], self.targets[index], index.shape[1]


@dataclass
class Data:
    train: Split
    valid: Split

    def to(self, device: torch.device) -> Data:
        return Data(self.train.to(device), self.valid.to(device))


def _stack(dataset: Any, path: Path, which: str) -> Split:
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) == 2:
        return Split(tensors[0], tensors[1], dataset)
    if len(dataset) > MAX_STACKED_ITEMS:
        return Split(None, None, dataset)
    items = []
    for i in range(len(dataset)):
        try:
            items.append(dataset[i])
        except Exception as exc:  # noqa: BLE001 - the user's __getitem__, reported with its index
            raise UserError(
                f"{path}: the {which} dataset has length {len(dataset)}, but reading item {i} raised "
                f"{type(exc).__name__}: {exc}. Make its __len__ and __getitem__ agree."
            ) from None
    if not (isinstance(items[0], (tuple, list)) and len(items[0]) == 2):
        raise UserError(
            f"{path}: the {which} dataset's items must be (input, target) pairs, but item 0 is "
            f"{type(items[0]).__name__}{f' of length {len(items[0])}' if isinstance(items[0], (tuple, list)) else ''}. "
            "Return e.g. torch.utils.data.TensorDataset(x, y)."
        )
    try:
        inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
        targets = torch.stack([torch.as_tensor(item[1]) for item in items])
    except (TypeError, RuntimeError, ValueError):
        return Split(None, None, dataset)  # items of varying shape: stream them instead
    return Split(inputs, targets, dataset)


def load_data(datasets: Any, path: Path) -> Data:
    """Call the task's ``datasets()`` result checks and stack both splits."""
    if not (isinstance(datasets, (tuple, list)) and len(datasets) == 2):
        raise UserError(
            f"{path}: `datasets()` must return (train, validation), two datasets, but returned "
            f"{type(datasets).__name__}{'' if not hasattr(datasets, '__len__') else f' of length {len(datasets)}'}."
        )
    splits = []
    for dataset, which in zip(datasets, ("training", "validation")):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise UserError(
                f"{path}: the {which} dataset must be a map-style Dataset (with __len__ and __getitem__), "
                f"but got {type(dataset).__name__}."
            )
        if len(dataset) == 0:
            raise UserError(f"{path}: the {which} dataset is empty; `datasets()` must return data to train on.")
        splits.append(_stack(dataset, path, which))
    return Data(*splits)
