"""Trials on a Ray cluster: ``--backend ray [--address auto | ray://HEAD:10001]``.

One long-lived actor per slot imports the model file and loads the data once, then runs
job after job, as the local workers do. The model file's folder travels to the cluster as
the actors' ``working_dir``, so the nodes need no shared filesystem (only autoopt itself
installed). The driver stays the single writer to storage: an actor runs the trial in a
thread and each actor call returns the trial's next event, a per-epoch ``Report`` or its
``Finished`` outcome, so one round trip per epoch carries the report and the answer.

Slots: ``--jobs N`` when N > 1, else as many trials as the cluster's resources hold at
``--cpus-per-trial`` / ``--gpus-per-trial`` when the search starts.

Failures: an actor that dies with its node fails only the trial it held, with the reason
("ray node/actor died: ..."), and is replaced; the engine then samples a new trial in its
place, so the study still reaches ``--trials``. Jobs go only to actors that have started,
so a replacement that cannot be placed (its node is gone) holds no trial hostage.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayError

from autoopt.errors import UserError
from autoopt.executors.base import Event, Executor, Finished, Report
from autoopt.outcome import FAIL, Cause, TrialOutcome
from autoopt.training.runner import TrialJob, pick_device, run_trial

if TYPE_CHECKING:  # the spec flows down as data; the executors import nothing of the search
    from autoopt.engine.spec import StudySpec

JOB_CONFIG_VARIABLE = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray in a job's driver

# What the model file's folder does not need to ship: caches, environments, databases, weights.
WORKING_DIR_EXCLUDES = [
    ".git", ".venv", "venv", "env", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "node_modules",
    "*.db", "*.db-wal", "*.db-shm", "*.sqlite", "*.sqlite3", "*.pt", "*.pth", "*.ckpt", "*.safetensors",
    "wandb", "mlruns", "lightning_logs", "ray_results",
]  # fmt: skip


def runtime_env_for(folder: Path) -> dict[str, Any]:
    """The runtime_env that ships ``folder`` (a model's or study file's) to the cluster's workers."""
    return {"working_dir": str(folder), "excludes": WORKING_DIR_EXCLUDES}


def connect(address: str | None, folder: Path) -> Path:
    """Connect to the cluster at ``address`` (None: start a Ray of our own here, unless
    ``$RAY_ADDRESS`` names one or this driver is a Ray job); return the folder the actors run in.

    Ray takes a local working_dir only for a whole driver, so ``folder`` is shipped here,
    unless this driver is a Ray job (``autoopt sweep``), whose working_dir, our cwd, already
    travels. Whatever Ray starts binds to 127.0.0.1: its ports run code for anyone who reaches them.
    """
    options: dict[str, Any] = {"logging_level": logging.WARNING}
    in_job = JOB_CONFIG_VARIABLE in os.environ
    if not in_job:
        options["runtime_env"] = runtime_env_for(folder)
    if address is None and not in_job and not os.environ.get("RAY_ADDRESS"):
        # A Ray of our own, as --help promises: ray.init() with no address would join whatever
        # cluster `ray start` left on this machine. --address auto joins that one on purpose.
        address = "local"
    if address in (None, "local"):
        options |= {"include_dashboard": False, "dashboard_host": "127.0.0.1"}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"--address {address!r}: cannot connect to a Ray cluster ({exc}). Check that the cluster "
                        "is up (`ray status`) and pass `auto` on a node of it, or ray://HEAD:10001.") from None  # fmt: skip
    return Path.cwd() if in_job else folder


def shipped_path(model_file: Path, *, shipped: Path) -> str:
    """Where the actors find ``model_file``: relative to the shipped folder, their working directory."""
    try:
        return str(model_file.relative_to(shipped))
    except ValueError:
        return str(model_file)  # not shipped: only a cluster on this machine can read it


class TrialActor:
    """One slot on the cluster: the model file loaded once, trials run in a thread."""

    def __init__(self, model_path: str, threads: int) -> None:
        import torch

        from autoopt.training.data import load_data
        from autoopt.training.task import load_task

        torch.set_num_threads(threads)
        self.task = load_task(Path.cwd() / model_path)  # cwd is the shipped folder; an absolute path wins
        self.device = pick_device()
        self.data = load_data(self.task.datasets(), self.task.path).to(self.device) if self.task.train is None else None
        context = ray.get_runtime_context()
        self.node = f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:12]}"
        self.events: queue.Queue[Event] = queue.Queue()
        self.answers: queue.Queue[bool] = queue.Queue()

    def where(self) -> str:
        return self.node

    def start(self, job: TrialJob) -> Event:
        """Run ``job``; return its first event."""
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return self.events.get()

    def answer(self, stop: bool) -> Event:
        """Answer the last report; return the trial's next event."""
        self.answers.put(stop)
        return self.events.get()

    def _run(self, job: TrialJob) -> None:
        def reporter(epoch: int, value: float, train_loss: float) -> bool:
            self.events.put(Report(job.number, epoch, value, train_loss))
            return self.answers.get()

        outcome = run_trial(self.task, self.data, job, reporter, device=self.device)
        outcome.env["node"] = self.node
        self.events.put(Finished(job.number, outcome))


@dataclass
class _Slot:
    actor: Any
    ready: Any  # ObjectRef of where(): resolves once the actor has loaded the model
    node: str | None = None
    job: TrialJob | None = None


class SlotActors:
    """A search's connection to the cluster and the actors it starts, each holding one slot's resources."""

    def __init__(self, spec: StudySpec, actor: type) -> None:
        self.model_file = Path(spec.model_file).resolve()
        # A caller that connected Ray itself (a benchmark, a notebook) chose what travels; we run from its cwd.
        self._owns_ray = not ray.is_initialized()
        shipped = connect(spec.address, self.model_file.parent) if self._owns_ray else Path.cwd()
        self._model_path = shipped_path(self.model_file, shipped=shipped)
        resources = {"num_cpus": spec.cpus_per_trial, "num_gpus": spec.gpus_per_trial}
        self._class = ray.remote(max_restarts=0, **resources)(actor)
        self._threads = max(1, math.floor(spec.cpus_per_trial))
        self._spec = spec

    def count(self) -> int:
        """How many actors run at once: ``--jobs`` when above 1, else as many as the cluster holds."""
        return self._spec.jobs if self._spec.jobs > 1 else slots_for(ray.cluster_resources(), self._spec)

    def spawn(self) -> Any:
        """A new actor; it loads the model file as soon as the cluster places it."""
        return self._class.remote(self._model_path, self._threads)

    def check_loaded(self, exc: RayError) -> None:
        """Raise the user's error when ``exc``, from a new actor, says the model file failed to load there."""
        if _is_load_error(exc):
            raise UserError(f"{self.model_file.name} failed to load on the Ray cluster: {last_line(exc)}. "
                            "Every node needs autoopt and the model's packages installed.") from None  # fmt: skip

    def close(self) -> None:
        if self._owns_ray:
            ray.shutdown()


def died_reason(node: str | None, exc: RayError) -> str:
    """A trial's fail reason when its actor or node died (its cause: ``Cause.INFRASTRUCTURE``, retried)."""
    where = f" on node {node}" if node else ""
    return f"ray node/actor died{where}: {first_line(exc)}"


class RayExecutor(Executor):
    def __init__(self, spec: StudySpec, *, slots: int | None = None) -> None:
        self._actors = SlotActors(spec, TrialActor)
        self.slots = slots or self._actors.count()
        self._slots = [self._spawn() for _ in range(self.slots)]
        self._pending: list[TrialJob] = []
        self._waiting: dict[Any, _Slot] = {}  # ObjectRef of a start/answer call -> its slot

    def _spawn(self) -> _Slot:
        actor = self._actors.spawn()
        return _Slot(actor, actor.where.remote())

    def submit(self, job: TrialJob) -> None:
        self._pending.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in self._slots:
            if self._pending and slot.node is not None and slot.job is None:
                slot.job = self._pending.pop(0)
                self._waiting[slot.actor.start.remote(slot.job)] = slot

    def poll(self, timeout: float) -> list[Event]:
        starting = {slot.ready: slot for slot in self._slots if slot.node is None}
        refs = list(self._waiting) + list(starting)
        if not refs:
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:  # take every other result that is in too
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        events: list[Event] = []
        for ref in ready:
            if ref in starting:
                events.extend(self._started(starting[ref]))
            elif (slot := self._waiting.pop(ref, None)) is not None:  # None: its actor was replaced
                events.extend(self._receive(slot, ref))
        self._dispatch()
        return events

    def _started(self, slot: _Slot) -> list[Event]:
        try:
            slot.node = ray.get(slot.ready)
        except RayError as exc:
            return self._replace(slot, exc)
        return []

    def _receive(self, slot: _Slot, ref: Any) -> list[Event]:
        try:
            event = ray.get(ref)
        except RayError as exc:
            return self._replace(slot, exc)
        if isinstance(event, Finished):
            slot.job = None
        return [event]

    def _replace(self, slot: _Slot, exc: RayError) -> list[Event]:
        if slot not in self._slots:
            return []
        ray.kill(slot.actor, no_restart=True)
        self._slots[self._slots.index(slot)] = self._spawn()
        self._waiting = {ref: s for ref, s in self._waiting.items() if s is not slot}
        if slot.job is None:
            if slot.node is None:
                self._actors.check_loaded(exc)
            return []
        outcome = TrialOutcome(state=FAIL, reason=died_reason(slot.node, exc), env={"node": slot.node or "?"},
                               cause=Cause.INFRASTRUCTURE)  # fmt: skip
        return [Finished(slot.job.number, outcome)]

    def answer(self, number: int, stop: bool) -> None:
        for slot in self._slots:
            if slot.job is not None and slot.job.number == number:
                self._waiting[slot.actor.answer.remote(stop)] = slot

    def close(self) -> None:
        for slot in self._slots:
            ray.kill(slot.actor, no_restart=True)
        self._slots, self._waiting = [], {}
        self._actors.close()


def slots_for(resources: dict[str, float], spec: StudySpec) -> int:
    """How many trials the cluster holds at once with each trial's CPUs and GPUs."""
    fits = [resources.get("CPU", 0.0) / spec.cpus_per_trial]
    if spec.gpus_per_trial > 0:
        fits.append(resources.get("GPU", 0.0) / spec.gpus_per_trial)
    slots = math.floor(min(fits) + 1e-9)
    if slots < 1:
        have = f"{resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs"
        raise UserError(f"the Ray cluster has {have}, too few for one trial at --cpus-per-trial "
                        f"{spec.cpus_per_trial:g} --gpus-per-trial {spec.gpus_per_trial:g}; lower them or add nodes.")  # fmt: skip
    return slots


def _is_load_error(exc: RayError) -> bool:
    return "ActorDiedError" in type(exc).__name__ and "__init__" in str(exc)


def last_line(exc: BaseException) -> str:
    """The cause at the bottom of a remote traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__
