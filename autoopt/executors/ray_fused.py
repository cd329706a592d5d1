"""Fused groups on a Ray cluster: ``--backend ray --fuse K``.

A group is the unit placed on the cluster: one long-lived actor per group slot, holding
one slot's ``--cpus-per-trial`` / ``--gpus-per-trial`` (a group is one training process,
whatever its size), loads the model file and the data once and trains group after group.
How many groups train at once is ``--jobs`` when above 1, else what the cluster holds.

Everything but the training is ``FusedExecutor``'s, on the driver: which trials form a
group, who joins at an epoch boundary, each member's ``Report``, answer and ``Finished``,
the records. The actor runs a ``GroupTrainer``, the same one the local executor runs in a
thread, so a member fails for the same reasons with the same words; one actor call per
epoch carries the group's losses and values back (members joining add one call each).
Trials that have no fused rule run alone on the same actors, as ``RayExecutor`` runs them.

Failures match ``RayExecutor``'s: an actor that dies with its node fails every member it
trained (and any that was joining) with "ray node/actor died ...", so the engine retries
them, and it is replaced; groups go only to actors that have started.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import ray
import torch
from ray.exceptions import RayError

from autoopt.errors import UserError
from autoopt.executors.base import Event, Finished, Report
from autoopt.executors.fused import FusedExecutor
from autoopt.executors.ray import SlotActors, TrialActor, died_reason
from autoopt.training.fused.group import GroupKey
from autoopt.training.fused.trainer import Epoch, GroupTrainer
from autoopt.outcome import FAIL, Cause, Failure, TrialOutcome
from autoopt.training.runner import TrialJob, environment
from autoopt.training.task import Task

if TYPE_CHECKING:  # the spec flows down as data; the executors import nothing of the search
    from autoopt.engine.spec import StudySpec


class GroupActor(TrialActor):
    """One group slot on the cluster: a ``GroupTrainer`` at a time, or a single trial as ``TrialActor`` runs it."""

    trainer: GroupTrainer | None = None

    def describe(self) -> dict[str, str]:
        """Where its members train: the node and the device, for their records."""
        return environment(self.device) | {"node": self.node}

    def open(self, key: GroupKey) -> None:
        self.trainer = GroupTrainer(self.task, self.data, self.device, key)

    def add(self, job: TrialJob) -> Failure | None:
        return self.trainer.add(job)

    def step(self) -> Epoch:
        return self.trainer.step()

    def keep(self, numbers: list[int]) -> None:
        self.trainer.keep(numbers)


@dataclass(frozen=True)
class _Placed:
    """An actor that has started, and where: its node and device."""

    actor: Any
    env: dict[str, str]


class RemoteTrainer:
    """A ``GroupTrainer`` driven from the search through a ``GroupActor``.

    Once the actor is gone, ``lost`` says why, and every member it held or that tries to
    join fails with that reason.
    """

    def __init__(self, placed: _Placed, key: GroupKey) -> None:
        self.actor, self.env = placed.actor, placed.env
        self.lost: Failure | None = None
        self._members = 0
        self.actor.open.remote(key)  # an actor runs one caller's calls in order: no wait

    def _get(self, ref: Any) -> Any:
        try:
            return ray.get(ref)
        except RayError as exc:
            self.lost = Failure(Cause.INFRASTRUCTURE, died_reason(self.env.get("node"), exc))
            return None

    def add(self, job: TrialJob) -> Failure | None:
        if self.lost is None:
            failure = self._get(self.actor.add.remote(job))
            if self.lost is None:
                self._members += failure is None
                return failure
        return self.lost

    def step(self) -> Epoch:
        result = self._get(self.actor.step.remote()) if self.lost is None else None
        if self.lost is not None:
            return Epoch.failed(self._members, self.lost)
        return result

    def keep(self, numbers: list[int]) -> None:
        self._members = len(numbers)
        if self.lost is None:
            self.actor.keep.remote(numbers)


class RayFusedExecutor(FusedExecutor):
    """``FusedExecutor`` whose groups train on Ray actors; each driver thread keeps one actor busy."""

    def __init__(self, spec: StudySpec, task: Task, *, size: int, least: int = 2, refill: bool = True) -> None:
        self._actors = SlotActors(spec, GroupActor)
        self._started: set[Any] = set()  # every actor alive or starting, to kill on close
        self._fatal: UserError | None = None
        super().__init__(task, None, torch.device("cpu"), size=size, workers=self._actors.count(),
                         least=least, refill=refill)  # fmt: skip

    def poll(self, timeout: float) -> list[Event]:
        if self._fatal is not None:
            raise self._fatal
        return super().poll(timeout)

    def close(self) -> None:
        self._closing = True
        with self._lock:  # a thread waiting on a killed actor's epoch gets its error at once
            for actor in self._started:
                ray.kill(actor, no_restart=True)
        super().close()
        self._actors.close()

    def _work(self) -> None:
        placed = None
        while (placed := placed or self._place()) is not None and (slots := self._jobs.get()) is not None:
            if slots.alone:
                lost = self._relay_alone(placed, self._take_alone(slots))
            else:
                trainer = self._run_group(slots, partial(RemoteTrainer, placed))
                lost = trainer is not None and trainer.lost is not None
            if lost:
                self._forget(placed.actor)
                placed = None

    def _place(self) -> _Placed | None:
        """A new actor once it has started (None when closing, or when the model file fails to load there)."""
        while not self._closing:
            actor = self._actors.spawn()
            with self._lock:
                self._started.add(actor)
            ready = actor.describe.remote()
            while not self._closing and not ray.wait([ready], timeout=0.5)[0]:
                pass  # a replacement that cannot be placed (its node is gone) waits here, holding no group
            try:
                return None if self._closing else _Placed(actor, ray.get(ready))
            except RayError as exc:
                self._forget(actor)
                try:
                    self._actors.check_loaded(exc)
                except UserError as error:
                    self._fatal = error  # raised by the next poll, in the search's thread
                    return None
        return None

    def _forget(self, actor: Any) -> None:
        ray.kill(actor, no_restart=True)
        with self._lock:
            self._started.discard(actor)

    def _relay_alone(self, placed: _Placed, job: TrialJob) -> bool:
        """Run ``job`` alone on the actor, relaying its reports and answers; whether the actor was lost."""
        answers = self._answers[job.number]
        try:
            event = ray.get(placed.actor.start.remote(job))
            while isinstance(event, Report):
                self._events.put(event)
                event = ray.get(placed.actor.answer.remote(answers.get()))
        except RayError as exc:
            reason = died_reason(placed.env.get("node"), exc)
            outcome = TrialOutcome(state=FAIL, reason=reason, env=dict(placed.env), cause=Cause.INFRASTRUCTURE)
            self._events.put(Finished(job.number, outcome))
            return True
        self._events.put(event)
        return False
