"""The ask/tell loop over one executor: start trials, answer their reports, tell the study how they ended.

The driver is the only writer to storage: workers send per-epoch reports back and get
"go on" or "stop" answers, so SQLite never sees two writers and pruning is decided in
one place. What follows a failure is ``autoopt.engine.failure_policy``'s; which trials to start
is the phases' (``autoopt.engine.phase_runs``).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterable
from functools import partial

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoopt.executors.base import Executor, Finished, Report
from autoopt.engine.failure_policy import FailurePolicy
from autoopt.outcome import COMPLETE, FAIL, INTERRUPTED_REASON, PRUNED, Cause, TrialOutcome
from autoopt.engine.search_progress import Progress
from autoopt.engine.pruning import TrustedRungPruner
from autoopt.training.runner import TrialJob
from autoopt.engine.search_result import SearchResult
from autoopt.engine.space import suggest_config
from autoopt.engine.spec import StudySpec
from autoopt.storage import (
    HEARTBEAT_SECONDS,
    fail_stale_trials,
    read_others_now,
    record,
    record_heartbeats,
    set_user_attrs,
    stored_trial,
    trial_id_of,
)
from autoopt.engine.study import counted_trials

POLL_SECONDS = 0.25
SEED_STRIDE = 7919  # the n-th seed of every configuration: the study's base seed + n x this
REPORT_EVERY_S = 2.0  # an epoch no pruner judges is stored at most this often per trial (the live curve)


def run_seed(base: int, replicate: int) -> int:
    """The seed of every configuration's ``replicate``-th run (0: its first).

    Common random numbers, as SMAC's intensification compares a challenger with the incumbent
    on the same seeds: two configurations' values on one seed differ by the configurations,
    not by the draw of initial weights and batch order, which moves every configuration alike
    (on 7 of the suite's 8 tasks the per-seed values of two configurations correlate 0.5 to
    0.9; 0.1 to 0.2 on the digits MLP)."""
    return (base + SEED_STRIDE * replicate) % 2**31


def next_common_seed(base: int, runs: Iterable[FrozenTrial]) -> int:
    """The seed of a configuration's next re-run: the first of the common re-run seeds that none
    of its finished or running ``runs`` trained on, so a re-run that failed is replaced on its seed."""
    used = {run.user_attrs.get(record.SEED) for run in runs}
    return next(seed for seed in map(partial(run_seed, base), itertools.count(1)) if seed not in used)


class TrialLoop:
    """The ask/tell loop of one phase, over one executor."""

    def __init__(self, study: optuna.Study, spec: StudySpec, executor: Executor, progress: Progress,
                 epochs: int, result: SearchResult) -> None:  # fmt: skip
        self.study, self.spec, self.executor, self.progress = study, spec, executor, progress
        self.epochs, self.result = epochs, result
        self.policy = FailurePolicy(study, spec, result)
        self.running: dict[int, optuna.Trial] = {}
        self.interrupted: dict[int, str] = {}  # trials told to stop for a reason other than pruning
        self.reported_at: dict[int, float] = {}  # trial number -> when its last epoch was stored (monotonic)
        self.deadline = time.monotonic() + spec.timeout if spec.timeout else None
        self.seed_base = self._seed_base(study, spec.seed)
        self.last_heartbeat = self.last_stale_check = time.monotonic()
        self.maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE

    @staticmethod
    def _seed_base(study: optuna.Study, seed: int | None) -> int:
        """``--seed``, else the study's own (stored by its first search, so that every worker and
        every resumed search draws the same seeds), else a fresh one, stored."""
        stored = study.user_attrs.get(record.SEED_BASE)
        if seed is None and isinstance(stored, int) and not isinstance(stored, bool):
            return stored
        seed = random.randrange(2**31) if seed is None else seed
        if stored is None:
            study.set_user_attr(record.SEED_BASE, seed)
        return seed

    def seed_of(self, trial: optuna.Trial, phase: str) -> int:
        """``run_seed`` for this trial: a confirmation takes the next common seed of the
        configuration it re-trains, any other trial the study's base seed."""
        if phase != record.PHASE_CONFIRM:
            return run_seed(self.seed_base, 0)
        of = trial.user_attrs.get(record.CONFIRM_OF)
        runs = [t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
                if t.number != trial.number and (t.number == of or t.user_attrs.get(record.CONFIRM_OF) == of)]  # fmt: skip
        return next_common_seed(self.seed_base, runs)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def out_of_epochs(self) -> bool:
        return self.spec.epoch_budget is not None and self.result.epochs_trained >= self.spec.epoch_budget

    def can_start(self, counted: int) -> bool:
        return (len(self.running) < self.executor.slots and not self.out_of_time() and not self.out_of_epochs()
                and (self.spec.trials is None or counted + len(self.running) < self.spec.trials))  # fmt: skip

    def counted(self, *, fresh: bool) -> int:
        """Finished search trials of the whole study: other searches on it included, read now
        when a slot is free (the ``--trials`` decision), else as cached (at most a second old)."""
        if fresh:
            read_others_now(self.study)
        return counted_trials(self.study)

    def start_trial(self, trial: optuna.Trial | None = None) -> None:
        trial = trial or self.study.ask()
        config = self.policy.fitting(trial, suggest_config(trial, self.spec.space))
        role = trial.user_attrs.get(record.ROLE, record.ROLE_SEARCH)
        phase = trial.user_attrs.get(record.PHASE) or (record.PHASE_SEARCH if role == record.ROLE_SEARCH else record.PHASE_CONFIRM)
        seed = self.seed_of(trial, phase)
        attrs = {record.OPTIMIZER: config.optimizer, record.OPTIMIZER_KWARGS: config.optimizer_kwargs,
                 record.LOOKAHEAD: config.lookahead, record.BATCH_SIZE: config.batch_size, record.SEED: seed,
                 record.ROLE: role, record.PHASE: phase}  # the owner was written with RUNNING (DriverStorage)  # fmt: skip
        set_user_attrs(trial, attrs, first_heartbeat=True)
        prunable = phase == record.PHASE_SEARCH
        job = TrialJob(trial.number, config, seed, self.epochs, prunable, self.spec.trial_timeout)
        self.running[trial.number] = trial
        self.executor.submit(job)
        self.progress.trial_started(trial.number, config, role)

    def stores(self, event: Report) -> bool:
        """Whether an epoch's value is written to storage now: every epoch for Optuna's pruners;
        for the default pruner (and none) only the epochs it judges, the last one, and otherwise
        at most every ``REPORT_EVERY_S`` per trial. Each write is a transaction (on SQLite, a
        synced commit), and on small tasks per-epoch writes took a sixth of the search's time;
        the whole curve is stored with the finished trial either way."""
        pruner = self.study.pruner
        if not isinstance(pruner, (TrustedRungPruner, optuna.pruners.NopPruner)):
            return True
        if event.epoch >= self.epochs or (isinstance(pruner, TrustedRungPruner) and event.epoch in pruner.rungs):
            return True
        return time.monotonic() - self.reported_at.get(event.number, -math.inf) >= REPORT_EVERY_S

    def on_report(self, event: Report) -> None:
        trial = self.running.get(event.number)
        if trial is None:
            return
        stored = self.stores(event)
        if stored:
            try:
                trial.report(event.value, event.epoch)
            except optuna.exceptions.UpdateFinishedTrialError:
                # Another search took it for stale (our heartbeats were late, e.g. on an overloaded
                # machine): it failed it and queued its retry there, so this copy stops here.
                self.running.pop(event.number)
                self.executor.answer(event.number, True)
                self.result.failures.append(f"trial {event.number}: stopped here, another search had already failed it")
                return
            self.reported_at[event.number] = time.monotonic()
        stop = False
        if self.out_of_time():
            # Not a verdict on the configuration: stored as failed, so it does not count toward
            # --trials and a resumed search runs a trial in its place.
            stop = True
            self.interrupted[event.number] = f"{INTERRUPTED_REASON} after epoch {event.epoch}: the search's --timeout ran out"
        elif stored and trial.user_attrs.get(record.PHASE) == record.PHASE_SEARCH and trial.should_prune():
            stop = True
            pruner = self.study.pruner
            reason = pruner.reason if isinstance(pruner, TrustedRungPruner) else (
                f"pruned after epoch {event.epoch}: {event.value:.4g} trailed the trials that reached this epoch "
                f"({type(pruner).__name__})")  # fmt: skip
            trial.set_user_attr(record.PRUNE_REASON, reason)
        self.executor.answer(event.number, stop)
        self.progress.trial_epoch(event.number, event.epoch, self.epochs, event.value)

    def on_finished(self, number: int, outcome: TrialOutcome) -> None:
        self.reported_at.pop(number, None)
        trial = self.running.pop(number, None)
        if trial is None:
            return
        if number in self.interrupted:
            outcome.state, outcome.cause, outcome.reason = FAIL, Cause.INTERRUPTED, self.interrupted.pop(number)
        self.policy.judge(outcome)
        self.result.epochs_trained += len(outcome.curve)
        try:
            set_user_attrs(trial, self.finished_attrs(trial, number, outcome))
            self.policy.constrain(trial, outcome)
            self.tell(trial, outcome)
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another search took this trial for stale (our heartbeats stopped longer than the grace
            # period, e.g. while the database was down): it was failed and retried there.
            self.result.failures.append(f"trial {number}: finished here, but another search had already failed it")
            return
        if outcome.state == FAIL:
            self.policy.retry(stored_trial(self.study, trial), outcome.cause)
        self.progress.trial_finished(number, outcome, self.study)

    def finished_attrs(self, trial: optuna.Trial, number: int, outcome: TrialOutcome) -> dict[str, object]:
        """What a finished trial's record says: its curve, where and how long it ran, why it ended."""
        attrs = {record.CURVE: outcome.curve, record.TRAIN_LOSS: outcome.train_loss,
                 record.EPOCHS_RUN: len(outcome.curve), record.WALL_TIME: outcome.wall_time_s, record.ENV: outcome.env}
        if outcome.state == PRUNED and record.PRUNE_REASON not in trial.user_attrs:
            attrs[record.PRUNE_REASON] = outcome.reason or "stopped early"
        elif outcome.state == FAIL:
            attrs[record.FAIL_REASON] = outcome.reason or "failed"
        if outcome.state != COMPLETE:
            attrs[record.CAUSE] = outcome.cause.value
        attrs.update(self.executor.member_attrs(number))
        return attrs

    def tell(self, trial: optuna.Trial, outcome: TrialOutcome) -> None:
        if outcome.state == COMPLETE:
            self.study.tell(trial, outcome.value)
        elif outcome.state == PRUNED:
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        self.policy.count(trial.number, outcome)

    def pump(self) -> None:
        """Handle the executor's events once, and keep the running trials' heartbeats fresh."""
        for event in self.executor.poll(POLL_SECONDS):
            if isinstance(event, Report):
                self.on_report(event)
            elif isinstance(event, Finished):
                self.on_finished(event.number, event.outcome)
        self.keep_alive()
        if (error := self.policy.gave_up()) is not None:
            self.drain()
            raise error

    def keep_alive(self) -> None:
        """Write the running trials' heartbeats (every second), and take back a dead sibling's trials."""
        if time.monotonic() - self.last_heartbeat > 1.0 and record_heartbeats(self.study, self.running.values()):
            self.last_heartbeat = time.monotonic()
        if time.monotonic() - self.last_stale_check > HEARTBEAT_SECONDS:
            # Another search on this study may have died: take its trials back within grace + interval.
            mine = {trial_id_of(trial) for trial in self.running.values()}
            self.result.retried += fail_stale_trials(self.study, retries=self.spec.retries, skip=mine)
            self.last_stale_check = time.monotonic()

    def drain(self) -> None:
        """Fail what is still running (Ctrl-C, too many failures): nothing is left RUNNING."""
        for number, trial in list(self.running.items()):
            self.running.pop(number)
            try:
                trial.set_user_attr(record.FAIL_REASON, f"{INTERRUPTED_REASON}: the search was stopped while it ran")
                trial.set_user_attr(record.CAUSE, Cause.INTERRUPTED.value)
                self.study.tell(trial, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another search already failed it as stale
