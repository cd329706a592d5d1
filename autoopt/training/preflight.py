"""One batch forward and backward before any trial, so a broken model file fails once, clearly."""

from __future__ import annotations

import math
import traceback
from typing import Any

import torch

from autoopt.training.data import Data, load_data
from autoopt.errors import UserError
from autoopt.training.runner import default_loss
from autoopt.training.task import Task

PREFLIGHT_BATCH = 8


def _user_call(task: Task, what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported as the user's error, with its place
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise UserError(
            f"{task.path}: {what} raised {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno}). "
            "Fix it so that one batch trains, then run again."
        ) from None


def _check_shapes(task: Task, output: Any, target: Any) -> None:
    if task.loss_fn is not None or not isinstance(output, torch.Tensor) or not isinstance(target, torch.Tensor):
        return
    if target.is_floating_point() and output.shape != target.shape:
        raise UserError(
            f"{task.path}: the model's output has shape {tuple(output.shape)} but the float target has shape "
            f"{tuple(target.shape)}; the default MSE loss would broadcast them silently. Make the shapes match "
            "(e.g. return targets of shape (N, 1)), or define `loss_fn(output, target)`."
        )
    if not target.is_floating_point() and not _class_indices_fit(output, target):
        raise UserError(
            f"{task.path}: for integer targets the default loss is cross-entropy, which needs model output "
            "(N, classes) with targets (N,), or (N, classes, d1, ...) with targets (N, d1, ...) for sequences and "
            f"images, but got output {tuple(output.shape)} and target {tuple(target.shape)}. "
            "Fix the shapes, or define `loss_fn(output, target)`."
        )


def _class_indices_fit(output: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether ``F.cross_entropy(output, target)`` takes these shapes as logits and class indices."""
    return output.dim() >= 2 and target.shape == output.shape[:1] + output.shape[2:]


def _scalar(task: Task, what: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise UserError(
            f"{task.path}: {what} must return a scalar, but returned a tensor of shape {tuple(value.shape)}; "
            "reduce it, e.g. with `.mean()`."
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{task.path}: {what} must return a number, but returned {type(value).__name__}.") from None


def preflight(task: Task, device: torch.device) -> Data | None:
    """Load the data and train one batch with Adam; raise ``UserError`` on any contract breach."""
    if task.train is not None:
        return None  # a user's own loop is checked by its first trial
    data = load_data(_user_call(task, "`datasets()`", task.datasets), task.path).to(device)
    torch.manual_seed(0)
    model = _user_call(task, "`build_model()`", task.build_model)
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{task.path}: `build_model()` must return a torch.nn.Module, but returned {type(model).__name__}.")
    model = model.to(device)
    inputs, targets = next(data.train.batches(PREFLIGHT_BATCH, generator=None))
    output = _user_call(task, "the model's forward pass", model, inputs)
    _check_shapes(task, output, targets)
    loss = _user_call(task, "`loss_fn`" if task.loss_fn else "the default loss", task.loss_fn or default_loss,
                      output, targets)  # fmt: skip
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise UserError(f"{task.path}: the loss must be a scalar tensor, but it is {shape}; reduce it with `.mean()`.")
    if not loss.requires_grad:
        raise UserError(f"{task.path}: the loss does not depend on the model's parameters (no gradient); "
                        "compute it from the model's output.")  # fmt: skip
    if not math.isfinite(loss.item()):
        raise UserError(f"{task.path}: the loss of the first batch is {loss.item()} before any training; "
                        "check the data and the loss function.")  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters())
    _user_call(task, "the backward pass", loss.backward)
    optimizer.step()
    if task.metric is not None:
        model.eval()
        with torch.no_grad():
            v_in, v_target = next(data.valid.batches(PREFLIGHT_BATCH, generator=None))
            _scalar(task, "`metric(output, target)`", _user_call(task, "`metric`", task.metric, model(v_in), v_target))
    return data
