"""Can this task train fused? One vmapped step checked against the same step unfused, before the search.

A model is refused, with the reason, when it trains in its own loop (``train(trial)``),
when training changes its buffers (BatchNorm's running statistics: a functional call
would drop the update), when its parameters differ in dtype or device (they share one flat
row), or when two members' vmapped losses and gradients differ from the same members
run one at a time (an op vmap does not support, an RNN kernel, a data-dependent Python
branch); the search then runs ordinary trials.
"""

from __future__ import annotations

import traceback
import warnings

import torch
from torch.utils._pytree import tree_map

from autoopt.training.data import Data
from autoopt.training.fused.stack import StackedModel
from autoopt.training.runner import default_loss
from autoopt.training.task import Task

CHECK_BATCH = 8
CHECK_SEEDS = (0, 1)


def fusion_blocker(task: Task, data: Data | None, device: torch.device) -> str | None:
    """Why ``task`` cannot train fused, in a few words; None when it can."""
    if task.train is not None or data is None:
        return "the model file trains in its own loop (train(trial))"
    try:
        return _compare_one_step(task, data, device)
    except Exception as exc:  # noqa: BLE001 - any failure of the vmapped step means "train unfused"
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"one vmapped training step raised {type(exc).__name__}: {message[:160]} (at {where.filename}:{where.lineno})"


def _compare_one_step(task: Task, data: Data, device: torch.device) -> str | None:
    loss_fn = task.loss_fn or default_loss
    inputs, targets = next(data.train.batches(CHECK_BATCH, generator=None))
    models = []
    for seed in CHECK_SEEDS:
        torch.manual_seed(seed)
        models.append(task.build_model().to(device).train())
    params = list(models[0].parameters())
    if not params:
        return "the model has no parameters"
    if len({(p.dtype, p.device) for p in params}) > 1:
        return "its parameters differ in dtype or device"
    buffers_before = [b.clone() for b in models[0].buffers()]
    expected = []
    for model in models:
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        expected.append((loss.detach(), torch.cat([p.grad.reshape(-1) for p in model.parameters()])))
    if any(not torch.equal(before, after) for before, after in zip(buffers_before, models[0].buffers())):
        return "training changes its buffers (e.g. BatchNorm running statistics)"
    stack = StackedModel(models[0], loss_fn)
    rows = [stack.row(model) for model in models]
    buffers = {name: torch.stack([row[1][name] for row in rows]) for name in stack.buffer_names}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        each = tree_map(lambda x: x.expand(len(models), *x.shape), (inputs, targets))  # one batch for both
        grads, losses = stack.loss_and_grad(torch.stack([row[0] for row in rows]), buffers, *each)
    unbatched = [str(w.message) for w in caught if "batching rule" in str(w.message)]
    if unbatched:  # vmap would loop over the members one by one: no gain, and slower than plain trials
        op = unbatched[0].split("batching rule for ")[-1].split(".")[0]
        return f"vmap has no batching rule for {op}"
    for index, (loss, grad) in enumerate(expected):
        if not (torch.allclose(losses[index], loss, rtol=1e-3, atol=1e-5) and torch.allclose(grads[index], grad, rtol=1e-3, atol=1e-5)):
            return "its vmapped loss or gradients differ from the unfused ones (a data-dependent step?)"
    return None
