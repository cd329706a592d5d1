"""Load a user's ``model.py`` and check it keeps the task contract.

The contract, all plain module-level names::

    def build_model() -> torch.nn.Module          # required (unless `train` is given)
    def datasets() -> tuple[Dataset, Dataset]     # required (unless `train` is given): (train, validation)
    def loss_fn(output, target) -> Tensor         # optional: cross-entropy for integer targets, else MSE
    def metric(output, target) -> float | Tensor  # optional: validation metric, batch mean
    direction = "maximize"                        # optional: direction of `metric` (default "minimize")
    metric_name = "accuracy"                      # optional: how to label `metric` (default: its name)
    epochs = 20                                   # optional: default epochs per trial
    def train(trial) -> float                     # optional: bring your own loop (see autoopt.training.runner)

Every mistake becomes a ``UserError`` naming the file and the fix.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from autoopt.errors import UserError

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Task:
    """The callables of one model file, checked."""

    path: Path
    build_model: Callable[[], Any] | None
    datasets: Callable[[], tuple[Any, Any]] | None
    loss_fn: Callable[[Any, Any], Any] | None
    metric: Callable[[Any, Any], Any] | None
    direction: str
    epochs: int | None
    train: Callable[[Any], float] | None
    metric_name: str = "val_loss"


def _import_file(path: Path) -> ModuleType:
    name = f"autoopt_user_{path.stem}_{abs(hash(str(path))) % 10**8}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path}: cannot be imported as Python; the model file must be a `.py` file.")
    module = importlib.util.module_from_spec(spec)
    # The user's local imports (`from mylib import Net`) resolve beside the model file.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise UserError(
            f"{path}:{exc.lineno}: is not valid Python ({exc.msg}). Fix the syntax error and run again."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any error in user code is reported, not raised
        last = traceback.extract_tb(exc.__traceback__)[-1]
        raise UserError(
            f"{path}: raised {type(exc).__name__} while being imported ({exc}) at "
            f"{last.filename}:{last.lineno}. Importing the model file must succeed on its own; "
            "fix the error, then run again."
        ) from None
    return module


def _optional_callable(module: ModuleType, path: Path, name: str) -> Callable[..., Any] | None:
    value = getattr(module, name, None)
    if value is not None and not callable(value):
        raise UserError(f"{path}: `{name}` must be a function, but it is a {type(value).__name__}.")
    return value


def check_model_path(path: str | Path) -> Path:
    """``path`` resolved, once it names an existing ``.py`` file (checked before anything heavy is imported)."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise UserError(f"{path}: no such model file. Pass the path of your model.py, e.g. `autoopt search model.py`.")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; pass the model file inside it, e.g. {path / 'model.py'}.")
    if path.suffix != ".py":
        raise UserError(f"{path}: is not a Python file; the model file must end in `.py`.")
    return path


def load_task(path: str | Path) -> Task:
    """Import ``path`` and return its checked ``Task``."""
    path = check_model_path(path)
    module = _import_file(path)
    train = _optional_callable(module, path, "train")
    build_model = _optional_callable(module, path, "build_model")
    datasets = _optional_callable(module, path, "datasets")
    if train is None:
        missing = [n for n, f in (("build_model", build_model), ("datasets", datasets)) if f is None]
        if missing:
            raise UserError(
                f"{path}: defines no {' and no '.join(f'`{m}()`' for m in missing)}. A model file needs "
                "`def build_model() -> torch.nn.Module` and `def datasets() -> (train, validation)`, "
                "or its own loop as `def train(trial) -> float`. See README.md, 'The model file'."
            )
    direction = getattr(module, "direction", "minimize")
    if direction not in DIRECTIONS:
        raise UserError(f"{path}: `direction` must be 'minimize' or 'maximize', but got {direction!r}.")
    metric = _optional_callable(module, path, "metric")
    if metric is None and direction == "maximize" and train is None:
        raise UserError(
            f"{path}: `direction = 'maximize'` needs a `metric(output, target)` to maximize; "
            "without one autoopt minimizes the validation loss."
        )
    epochs = getattr(module, "epochs", None)
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise UserError(f"{path}: `epochs` must be a positive integer, but got {epochs!r}.")
    label = getattr(module, "metric_name", None) or (getattr(metric, "__name__", "metric") if metric else "val_loss")
    return Task(
        metric_name=str(label),
        path=path,
        build_model=build_model,
        datasets=datasets,
        loss_fn=_optional_callable(module, path, "loss_fn"),
        metric=metric,
        direction=direction,
        epochs=epochs,
        train=train,
    )
