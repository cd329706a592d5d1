"""One trial: seed, build, train, report each epoch, stop early when told, guard against NaN.

The runner knows nothing of Optuna or of where it runs: it gets a job and a ``reporter``
callback ``(epoch, value, train_loss) -> stop?`` and returns a ``TrialOutcome``.
"""

from __future__ import annotations

import math
import platform
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from autoopt.training.data import Data
from autoopt.optimizers import build
from autoopt.outcome import COMPLETE, DIVERGED_REASON, FAIL, PRUNED, Cause, Failure, TrialOutcome
from autoopt.training.task import Task
from autoopt.trial_config import TrialConfig

Reporter = Callable[[int, float, float], bool]
EVAL_BATCH = 4096
_SEEDED_BUILD = threading.Lock()  # see build_seeded
# What the allocators say when they raise a plain RuntimeError (torch before 1.13, MPS, the CPU allocator).
OUT_OF_MEMORY_MESSAGES = ("CUDA out of memory", "HIP out of memory", "MPS backend out of memory",
                          "DefaultCPUAllocator: can't allocate memory")  # fmt: skip


@dataclass(frozen=True)
class TrialJob:
    number: int
    config: TrialConfig
    seed: int
    epochs: int
    prunable: bool = True
    time_limit_s: float | None = None


class Pruned(Exception):
    """Raised by ``TrialContext.report`` when the search stops this trial early."""


class Diverged(Exception):
    pass


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device ran out of memory: torch's ``OutOfMemoryError``, a
    ``MemoryError``, or a ``RuntimeError`` in an allocator's words."""
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(words in str(exc) for words in OUT_OF_MEMORY_MESSAGES)


def user_code_failure(exc: Exception, batch_size: int) -> Failure:
    """Why a trial failed when the model file's code raised ``exc``, one trial or a fused group alike:
    out of memory (the failure policy retries it at half the batch size), else an error and where."""
    if is_out_of_memory(exc):
        return Failure(Cause.OUT_OF_MEMORY, f"out of memory at batch size {batch_size}: {exc}".strip())
    where = traceback.extract_tb(exc.__traceback__)[-1]
    return Failure(Cause.USER_ERROR, f"error: {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})")


def default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for integer targets, mean squared error otherwise."""
    if not target.is_floating_point():
        return F.cross_entropy(output, target)
    return F.mse_loss(output, target)


def environment(device: torch.device) -> dict[str, str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {"torch": torch.__version__, "python": platform.python_version(), "device": f"{device.type}: {name}",
            "host": socket.gethostname()}  # fmt: skip


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class TrialContext:
    """What a bring-your-own-loop ``train(trial)`` gets: the config, and a way to report."""

    def __init__(self, job: TrialJob, reporter: Reporter, device: torch.device) -> None:
        self.number, self.seed, self.epochs = job.number, job.seed, job.epochs
        self.config, self.batch_size, self.device = job.config, job.config.batch_size, device
        self.curve: list[float] = []
        self._reporter = reporter
        self._time_limit = job.time_limit_s
        self._deadline = time.monotonic() + job.time_limit_s if job.time_limit_s else math.inf

    def optimizer(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        return build(params, self.config.optimizer, self.config.optimizer_kwargs, lookahead=self.config.lookahead)

    def report(self, value: float, epoch: int | None = None, *, train_loss: float = math.nan) -> None:
        """Report this epoch's validation value; raises ``Pruned`` when the search stops the trial."""
        value = float(value)
        if not math.isfinite(value):
            raise Diverged(f"reported value became {value} at epoch {len(self.curve) + 1}")
        self.curve.append(value)
        if self._reporter(epoch if epoch is not None else len(self.curve), value, train_loss):
            raise Pruned(f"stopped early by the pruner after epoch {len(self.curve)}")
        if time.monotonic() > self._deadline:  # a user's loop is checked where it reports
            raise TimeoutError(f"exceeded the per-trial limit of {self._time_limit:g} s at epoch {len(self.curve)}")


def evaluate(model: torch.nn.Module, task: Task, data: Data) -> float:
    """Mean validation metric (or loss) over the validation split, weighted by batch size."""
    measure = task.metric or task.loss_fn or default_loss
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, targets in data.valid.batches(EVAL_BATCH, generator=None):
            value = measure(model(inputs), targets)
            total += float(value) * len(targets)
            count += len(targets)
    model.train()
    return total / count


def build_seeded(task: Task, seed: int, device: torch.device) -> torch.nn.Module:
    """``task.build_model()`` with its initial weights drawn under ``seed``.

    Torch's global generator is shared by the threads of a process (the inline and fused
    executors train in threads), so seeding and building happen under one lock: without it
    a trial could draw its weights from another trial's seed.
    """
    with _SEEDED_BUILD:
        torch.manual_seed(seed)
        return task.build_model().to(device)


def _train(task: Task, data: Data, job: TrialJob, reporter: Reporter, device: torch.device, out: TrialOutcome) -> None:
    model = build_seeded(task, job.seed, device)
    optimizer = build(model.parameters(), job.config.optimizer, job.config.optimizer_kwargs,
                      lookahead=job.config.lookahead)  # fmt: skip
    loss_fn = task.loss_fn or default_loss
    order = torch.Generator().manual_seed(job.seed)
    deadline = time.monotonic() + job.time_limit_s if job.time_limit_s else math.inf
    model.train()
    for epoch in range(1, job.epochs + 1):
        total, count = 0.0, 0
        for step, (inputs, targets) in enumerate(data.train.batches(job.config.batch_size, generator=order), 1):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            value = loss.item()
            if not math.isfinite(value):
                raise Diverged(f"training loss became {value} at epoch {epoch}, step {step}")
            loss.backward()
            optimizer.step()
            total += value * len(targets)
            count += len(targets)
            if time.monotonic() > deadline:
                raise TimeoutError(f"exceeded the per-trial limit of {job.time_limit_s:g} s at epoch {epoch}")
        score = evaluate(model, task, data)
        if not math.isfinite(score):
            raise Diverged(f"validation value became {score} after epoch {epoch}")
        out.curve.append(score)
        out.train_loss.append(total / count)
        if reporter(epoch, score, total / count):
            raise Pruned(f"stopped early by the pruner after epoch {epoch}")


def run_trial(task: Task, data: Data | None, job: TrialJob, reporter: Reporter, *, device: torch.device) -> TrialOutcome:
    """Train one configuration; every error in user code becomes a FAIL outcome with its reason."""
    out = TrialOutcome(state=COMPLETE, env=environment(device))
    start = time.perf_counter()
    try:
        if task.train is not None:
            context = TrialContext(job, reporter, device)
            try:
                final = task.train(context)
            finally:
                out.curve = context.curve
            out.value = float(final if final is not None else context.curve[-1])
            if not math.isfinite(out.value):
                raise Diverged(f"train(trial) returned {out.value}")
        else:
            _train(task, data, job, reporter, device, out)
            out.value = out.curve[-1]
    except Pruned as stop:
        out.state, out.cause, out.reason = PRUNED, Cause.PRUNED, str(stop)
        out.value = out.curve[-1] if out.curve else None
    except Diverged as exc:
        out.state, out.cause, out.reason = FAIL, Cause.DIVERGED, f"{DIVERGED_REASON}: {exc}"
    except TimeoutError as exc:
        out.state, out.cause, out.reason = FAIL, Cause.TIMEOUT, f"timeout: {exc}"
    except Exception as exc:  # noqa: BLE001 - a bug in user code (or OOM) fails its trial, not the search
        failure = user_code_failure(exc, job.config.batch_size)
        out.state, out.cause, out.reason = FAIL, failure.cause, failure.reason
    out.wall_time_s = time.perf_counter() - start
    return out
