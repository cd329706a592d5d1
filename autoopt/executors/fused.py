"""Trials trained in fused groups: up to ``size`` members of one batch size (and Lookahead on or off) at once.

To the engine this is an executor like the others: jobs go in one by one, and every
member still sends one ``Report`` per epoch, waits for its own answer, and ends with its
own ``Finished``; pruning, storage and progress are per trial as before. Two things are
new, both hooks of ``Executor`` that do nothing elsewhere: ``wanted_key()`` tells the
engine which family and batch size the next trial should have so that it can join a
group, and ``member_attrs()`` gives what a member's record needs to say how it was
trained (its group and the group's size). Any families fuse in one group (each member
keeps its own rule, weights and batch order: ``autoopt.training.fused.group``), so the screen's
families, a round of confirmations or a family's search share their forward passes.

A group starts training at the engine's next ``poll`` after its first job, so the jobs the
engine submits in one go start together. While it trains, a member that is pruned,
fails or finishes frees its slot, and a job of the same key joins at the next epoch
boundary. A group admits at most
``REFILL_GENERATIONS * size`` members: refilling forever would pin the whole search to
the first family the sampler drew, so the sampler gets to choose a new family and batch
size at least every that many trials. Jobs the fused rules cannot train (an optimizer
without a rule, an option such as ``amsgrad``) run alone, as the inline executor runs them.

Where a group trains is the one thing subclasses change: here a ``GroupTrainer`` in a
thread of the search; with ``--backend ray`` (``autoopt.executors.ray_fused``) the same
trainer in an actor on the cluster, one per group, while this loop (joiners, reports,
answers, finishes) stays on the driver. The engine sees no difference.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from autoopt.training.data import Data
from autoopt.executors.base import Event, Finished, Report
from autoopt.executors.inline import InlineExecutor
from autoopt.training.fused.group import GroupKey
from autoopt.training.fused.rules import NotFusable, member_hyperparameters
from autoopt.training.fused.trainer import Epoch, GroupTrainer, Trainer
from autoopt.outcome import COMPLETE, DIVERGED_REASON, FAIL, PRUNED, Cause, Failure, TrialOutcome
from autoopt.training.runner import TrialJob, run_trial
from autoopt.trial_config import TrialConfig
from autoopt.training.task import Task

REFILL_GENERATIONS = 2


def group_key(config: TrialConfig) -> GroupKey:
    return GroupKey(config.optimizer, config.batch_size, config.lookahead is not None)


def fusable(config: TrialConfig) -> bool:
    try:
        member_hyperparameters(config.optimizer, config.optimizer_kwargs)
    except NotFusable:
        return False
    return True


@dataclass(eq=False)
class _Slots:
    """The executor's view of one group: who is waiting to join, how many train, how many were admitted."""

    key: GroupKey
    size: int
    leader: int = -1  # the first trial's number: the group's id
    alone: bool = False
    pending: list[TrialJob] = field(default_factory=list)
    training: int = 0
    admitted: int = 0
    closed: bool = False

    def accepts(self) -> bool:
        return (not self.alone and not self.closed and len(self.pending) + self.training < self.size
                and self.admitted < REFILL_GENERATIONS * self.size)  # fmt: skip


@dataclass
class _Member:
    job: TrialJob
    outcome: TrialOutcome
    started: float
    epoch: int = 0


class FusedExecutor(InlineExecutor):
    """Fused groups of up to ``size`` trials, ``workers`` groups training at once.

    Like the inline executor, groups train in threads of the driver process, and events
    and answers pass through its queues; what its job queue carries here is a whole group.
    With ``refill=False`` (the phased search, which submits what should train together in one
    go and never fills a group's free slots) a group that starts with fewer than ``least`` jobs
    trains them one at a time: a small group is slower than the plain loop
    (``autoopt.training.fused.payoff``).
    """

    def __init__(self, task: Task, data: Data, device: torch.device, *, size: int, least: int = 2,
                 workers: int = 1, refill: bool = True) -> None:  # fmt: skip
        self.size, self.least, self.refill, self._workers = size, least, refill, workers
        self._lock = threading.Lock()
        self._groups: list[_Slots] = []
        self._unlaunched: list[_Slots] = []
        self._attrs: dict[int, dict[str, int]] = {}
        self._closing = False
        super().__init__(task, data, device, slots=workers)
        self.slots = size * workers

    @property
    def workers(self) -> int:
        return self._workers

    # ---- the engine's side -------------------------------------------------------------

    def wanted_key(self, *, refill: bool = True) -> GroupKey | None:
        """The key of a group with a free slot, or None: then any trial may start a new group.

        ``refill=False`` offers only groups that have not started, so that trials the study
        has queued (warm starts) lead groups of their own before running groups grow.
        """
        with self._lock:
            open_groups = [g for g in self._groups if g.accepts() and (refill or g in self._unlaunched)]
            return open_groups[0].key if open_groups else None

    def member_attrs(self, number: int) -> dict[str, int]:
        """How trial ``number`` was trained: its group and the group's size."""
        return self._attrs.get(number, {})

    def submit(self, job: TrialJob) -> None:
        self._answers[job.number] = queue.Queue()
        key = group_key(job.config)
        with self._lock:
            alone = not fusable(job.config)
            group = None if alone else next((g for g in self._groups if g.key.admits(key) and g.accepts()), None)
            if group is None:
                group = _Slots(key, 1 if alone else self.size, leader=job.number, alone=alone)
                self._groups.append(group)
                self._unlaunched.append(group)
            group.pending.append(job)
            group.admitted += 1

    def poll(self, timeout: float) -> list[Event]:
        with self._lock:  # what the engine submitted since its last poll starts together
            for group in self._unlaunched:
                if group.alone or self.refill or len(group.pending) >= self.least:
                    self._jobs.put(group)
                    continue
                self._groups.remove(group)  # too few to pay: each trains alone
                for job in group.pending:
                    alone = _Slots(group.key, 1, leader=job.number, alone=True, pending=[job], admitted=1)
                    self._groups.append(alone)
                    self._jobs.put(alone)
            self._unlaunched.clear()
        return super().poll(timeout)

    def close(self) -> None:
        self._closing = True  # groups take no more members; the answers released below end them
        super().close()

    # ---- the workers' side -------------------------------------------------------------

    def _work(self) -> None:
        while (slots := self._jobs.get()) is not None:
            if slots.alone:
                self._run_alone(slots)
            else:
                self._run_group(slots, self._trainer)

    def _trainer(self, key: GroupKey) -> GroupTrainer:
        return GroupTrainer(self.task, self.data, self.device, key)

    def _take_alone(self, slots: _Slots) -> TrialJob:
        """The one job of a group that runs alone; the group is done with."""
        with self._lock:
            slots.closed = True
            self._groups.remove(slots)
            return slots.pending.pop()

    def _run_alone(self, slots: _Slots) -> None:
        job = self._take_alone(slots)
        answers = self._answers[job.number]

        def reporter(epoch: int, value: float, train_loss: float) -> bool:
            self._events.put(Report(job.number, epoch, value, train_loss))
            return answers.get()

        self._events.put(Finished(job.number, run_trial(self.task, self.data, job, reporter, device=self.device)))

    def _take_joiners(self, slots: _Slots, training: int) -> list[TrialJob] | None:
        """Jobs waiting to join; None once the group is empty with none waiting (closed atomically with submit)."""
        with self._lock:
            joining, slots.pending = slots.pending, []
            if self._closing or (not joining and not training):
                slots.closed = True
                if slots in self._groups:
                    self._groups.remove(slots)
                return None
            slots.training += len(joining)
            return joining

    def _run_group(self, slots: _Slots, open_trainer: Callable[[GroupKey], Trainer]) -> Trainer | None:
        """Train ``slots``' group to its end with a trainer ``open_trainer(key)`` opens; return it."""
        trainer: Trainer | None = None
        members: list[_Member] = []
        while (joining := self._take_joiners(slots, len(members))) is not None:
            for job in joining:
                trainer = trainer or open_trainer(slots.key)
                members += self._admit(trainer, slots, job)
            if not members:
                continue
            members = self._end_epoch(members, trainer.step())
            trainer.keep([member.job.number for member in members])
            with self._lock:
                slots.training = len(members)
        return trainer

    def _admit(self, trainer: Trainer, slots: _Slots, job: TrialJob) -> list[_Member]:
        member = _Member(job, TrialOutcome(state=COMPLETE, env=dict(trainer.env)), time.perf_counter())
        self._attrs[job.number] = {"fused_group": slots.leader, "fused_size": slots.size}
        if (failure := trainer.add(job)) is not None:
            self._fail(member, failure)
            return []
        return [member]

    def _end_epoch(self, members: list[_Member], epoch: Epoch) -> list[_Member]:
        """Report each member's epoch, take the answers, finish who is done; the members going on."""
        asked = []
        for member, loss, value in zip(members, epoch.losses, epoch.values):
            member.epoch += 1
            job, out = member.job, member.outcome
            if epoch.failure:
                self._fail(member, epoch.failure)
            elif not math.isfinite(loss):
                self._fail(member, Failure(Cause.DIVERGED, f"{DIVERGED_REASON}: training loss became {loss} in epoch {member.epoch}"))
            elif not math.isfinite(value):
                self._fail(member, Failure(Cause.DIVERGED, f"{DIVERGED_REASON}: validation value became {value} after epoch {member.epoch}"))
            elif job.time_limit_s and time.perf_counter() - member.started > job.time_limit_s:
                self._fail(member, Failure(Cause.TIMEOUT, f"timeout: exceeded the per-trial limit of {job.time_limit_s:g} s at epoch {member.epoch}"))
            else:
                out.curve.append(value)
                out.train_loss.append(loss)
                self._events.put(Report(job.number, member.epoch, value, loss))
                asked.append(member)
        going_on = []
        for member in asked:  # every report is out before any answer is awaited: the engine answers in a batch
            if self._answers[member.job.number].get():
                self._finish(member, PRUNED, Cause.PRUNED, f"stopped early by the pruner after epoch {member.epoch}")
            elif member.epoch >= member.job.epochs:
                self._finish(member, COMPLETE, Cause.COMPLETED, None)
            else:
                going_on.append(member)
        return going_on

    def _fail(self, member: _Member, failure: Failure) -> None:
        self._finish(member, FAIL, failure.cause, failure.reason)

    def _finish(self, member: _Member, state: str, cause: Cause, reason: str | None) -> None:
        out = member.outcome
        out.state, out.cause, out.reason = state, cause, reason
        out.value = out.curve[-1] if out.curve and state != FAIL else None
        out.wall_time_s = time.perf_counter() - member.started
        self._events.put(Finished(member.job.number, out))

