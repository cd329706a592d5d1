"""The search: an Optuna study driven by ask/tell, trials run by an executor.

The driver is the only writer to storage: workers send per-epoch reports back and get
"go on" or "stop" answers, so SQLite never sees two writers and pruning is decided in
one place. Running the same search again resumes the study: finished trials count
toward ``--trials``, trials left RUNNING by a killed driver are marked failed.

Failures and what follows them:

- Infrastructure (a worker process died, a heartbeat stopped, a Ray node went away): the
  trial is queued again with the same params, up to ``--retries`` times (``autoopt.stale``).
- Out of memory: the trial fails with the reason and is re-run once at half its batch
  size. The search then avoids the batch sizes that did not fit: every later trial whose
  sampled ``batch_size`` is at or above the smallest one that ran out of memory (for any
  optimizer: activations, not optimizer state, dominate) trains at the largest batch size
  below it, which its ``batch_size`` user attr records. Optuna's TPE ignores FAIL trials,
  so it would keep sampling there; instead each such capped trial gets the constraint
  ``batch_size_fits = 1`` (``Trial.set_constraint``: infeasible), and TPE ranks infeasible
  trials below every feasible one, so it learns to sample smaller batch sizes. TPE reads
  constraints of COMPLETE and PRUNED trials only, which is why the capped trials, not the
  failed one, carry it. ``batch_size`` params of capped trials are what was sampled.
- Divergence (a NaN or inf loss or value): a verdict on the configuration, like pruning,
  so the trial is stored PRUNED with its reason, counts toward ``--trials`` and is not
  retried. Stored as FAIL, TPE would never see it and would keep sampling learning rates
  that blow up; as PRUNED with the constraint ``converges = 1`` (infeasible), TPE ranks it
  below every feasible trial. It still counts toward "10 trials in a row failed".
- User code errors fail the trial, reason recorded; never retried.

Several drivers may run the same study at once (``autoopt search`` on many machines):
each counts the study's finished search trials, freshly read, before it starts a trial,
so the study stops at ``--trials`` finished trials plus at most ``drivers x jobs - 1``
trials that were already running when the last slot was taken.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from dataclasses import dataclass, field, replace

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from autoopt import __version__, phases, record
from autoopt.errors import UserError
from autoopt.calibrate import lr_range_test
from autoopt.data import Data
from autoopt.executors.base import Executor, Finished, Report
from autoopt.executors.build import make_executor
from autoopt.optimizers import registry
from autoopt.fused.members import ask_member, fused_size, member_params
from autoopt.preflight import preflight
from autoopt.progress import Progress, SilentProgress
from autoopt.pruning import TrustedRungPruner, make_pruner
from autoopt.outcome import COMPLETE, FAIL, PRUNED, Cause, TrialOutcome, stored_cause
from autoopt.runner import TrialJob, pick_device
from autoopt.space import default_params, suggest_config, warm_start_order
from autoopt.spec import DEFAULT_EPOCHS, StudySpec
from autoopt.stale import fail_stale_trials, owner_tag, retry_trial
from autoopt.driver_storage import DriverStorage
from autoopt.storage import HEARTBEAT_SECONDS, open_storage, set_user_attrs
from autoopt.task import Task, load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)

MAX_CONSECUTIVE_FAILURES = 10
POLL_SECONDS = 0.25
REPORT_EVERY_S = 2.0  # an epoch no pruner judges is stored at most this often per trial (the live curve)
OOM_CONSTRAINT = "batch_size_fits"
DIVERGED_CONSTRAINT = "converges"
SCREEN_RETRIES = 2  # a family whose screen overshot (diverged, or blew up) is screened again this many times ...
SCREEN_STEP_DOWN = 10.0  # ... each time at a tenth of the learning rate


@dataclass
class SearchResult:
    study_name: str
    storage: str
    complete: int = 0
    pruned: int = 0  # diverged trials included
    diverged: int = 0
    failed: int = 0
    retried: int = 0
    epochs_trained: float = 0.0  # learning-rate range test included
    timed_out: bool = False
    failures: list[str] = field(default_factory=list)


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    # group=True splits the conditional space per optimizer branch, so each branch gets a
    # joint (multivariate) model of its own hyperparameters; constant_liar keeps parallel
    # workers from sampling the same point.
    return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, group=True, constant_liar=True)


def smallest_oom_batch_size(study: optuna.Study) -> int | None:
    """The smallest batch size that ran out of memory in this study so far."""
    sizes = [t.user_attrs[record.BATCH_SIZE] for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
             if stored_cause(t.user_attrs) is Cause.OUT_OF_MEMORY and record.BATCH_SIZE in t.user_attrs]  # fmt: skip
    return min(sizes, default=None)


def _open_study(spec: StudySpec, task: Task, epochs: int, storage: optuna.storages.BaseStorage) -> tuple[optuna.Study, bool]:
    existing = {s.study_name: s for s in storage.get_all_studies()}
    old = existing.get(spec.study_name)
    if old is not None and old.direction.name.lower() != task.direction:
        raise UserError(
            f"study {spec.study_name!r} in --storage already exists and {old.direction.name.lower()}s, but "
            f"{task.path.name} asks to {task.direction}; pick another --study name."
        )
    sampler, pruner = make_sampler(spec), make_pruner(spec.pruner, epochs)
    try:  # of several searches starting the same study at once, exactly one creates it
        study = optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=task.direction)  # fmt: skip
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner)
        created = False
    info = {"version": __version__, "metric": task.metric_name, "direction": task.direction,
            "model_file": str(task.path), "epochs": epochs, "optimizers": list(spec.space.optimizers)}  # fmt: skip
    study.set_user_attr(record.STUDY_INFO, info)
    return study, created


class _Search:
    """The ask/tell loop of one phase, over one executor."""

    def __init__(self, study: optuna.Study, spec: StudySpec, executor: Executor, progress: Progress,
                 epochs: int, result: SearchResult) -> None:  # fmt: skip
        self.study, self.spec, self.executor, self.progress = study, spec, executor, progress
        self.epochs, self.result = epochs, result
        self.running: dict[int, optuna.Trial] = {}
        self.interrupted: dict[int, str] = {}  # trials told to stop for a reason other than pruning
        self.reported_at: dict[int, float] = {}  # trial number -> when its last epoch was stored (monotonic)
        self.deadline = time.monotonic() + spec.timeout if spec.timeout else None
        self.seed_base = spec.seed if spec.seed is not None else random.randrange(2**31)
        self.consecutive_failures = 0
        self.last_heartbeat = self.last_stale_check = time.monotonic()
        self.oom_batch_size = smallest_oom_batch_size(study)
        self.maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        self._plan: tuple[int, phases.Plan] | None = None  # (finished trials it was read from, the plan)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def out_of_epochs(self) -> bool:
        return self.spec.epoch_budget is not None and self.result.epochs_trained >= self.spec.epoch_budget

    def start_trial(self, trial: optuna.Trial | None = None) -> None:
        trial = trial or self.study.ask()
        config = suggest_config(trial, self.spec.space)
        batch_size = self.batch_size_that_fits(trial.user_attrs.get(record.BATCH_SIZE, config.batch_size))
        if batch_size < config.batch_size:
            trial.set_constraint(OOM_CONSTRAINT, 1.0)
            config = replace(config, batch_size=batch_size)
        role = trial.user_attrs.get(record.ROLE, record.ROLE_SEARCH)
        phase = trial.user_attrs.get(record.PHASE) or (record.PHASE_SEARCH if role == record.ROLE_SEARCH else record.PHASE_CONFIRM)
        seed = (self.seed_base + 7919 * trial.number) % 2**31
        attrs = {record.OPTIMIZER: config.optimizer, record.OPTIMIZER_KWARGS: config.optimizer_kwargs,
                 record.LOOKAHEAD: config.lookahead, record.BATCH_SIZE: config.batch_size, record.SEED: seed,
                 record.ROLE: role, record.PHASE: phase}  # the owner was written with RUNNING (DriverStorage)  # fmt: skip
        set_user_attrs(trial, attrs, first_heartbeat=True)
        prunable = phase == record.PHASE_SEARCH
        job = TrialJob(trial.number, config, seed, self.epochs, prunable, self.spec.trial_timeout)
        self.running[trial.number] = trial
        self.executor.submit(job)
        self.progress.trial_started(trial.number, config, role)

    def batch_size_that_fits(self, size: int) -> int:
        """``size``, or the largest allowed batch size below the smallest one that ran out of memory."""
        limit = self.oom_batch_size
        if limit is None or size < limit or limit < 2:
            return size
        smaller = [b for b in self.spec.space.batch_sizes if b < limit]
        return max(smaller, default=max(1, limit // 2))

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
            self.interrupted[event.number] = f"{record.INTERRUPTED} after epoch {event.epoch}: the search's --timeout ran out"
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
        elif outcome.state == FAIL and outcome.cause is Cause.DIVERGED:
            outcome.state = PRUNED  # a verdict on the configuration: see the module docstring
        attrs = {record.CURVE: outcome.curve, record.TRAIN_LOSS: outcome.train_loss,
                 record.EPOCHS_RUN: len(outcome.curve), record.WALL_TIME: outcome.wall_time_s, record.ENV: outcome.env}
        if outcome.state == PRUNED and record.PRUNE_REASON not in trial.user_attrs:
            attrs[record.PRUNE_REASON] = outcome.reason or "stopped early"
        elif outcome.state == FAIL:
            attrs[record.FAIL_REASON] = outcome.reason or "failed"
        if outcome.state != COMPLETE:
            attrs[record.CAUSE] = outcome.cause.value
        attrs.update(self.executor.member_attrs(number))
        self.result.epochs_trained += len(outcome.curve)
        try:
            set_user_attrs(trial, attrs)
            if outcome.state == PRUNED and outcome.cause is Cause.DIVERGED:
                trial.set_constraint(DIVERGED_CONSTRAINT, 1.0)
            self.tell(trial, outcome)
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another search took this trial for stale (our heartbeats stopped longer than the grace
            # period, e.g. while the database was down): it was failed and retried there.
            self.result.failures.append(f"trial {number}: finished here, but another search had already failed it")
            return
        if outcome.state == FAIL:
            self.retry(self.study._storage.get_trial(trial._trial_id), outcome.cause)
        self.progress.trial_finished(number, outcome.state, outcome.value, outcome.reason, self.study)

    def tell(self, trial: optuna.Trial, outcome: TrialOutcome) -> None:
        if outcome.state == COMPLETE:
            self.study.tell(trial, outcome.value)
            self.result.complete += 1
            self.consecutive_failures = 0
        elif outcome.state == PRUNED:
            self.study.tell(trial, state=TrialState.PRUNED)
            self.result.pruned += 1
            if outcome.cause is Cause.DIVERGED:
                self.result.diverged += 1
                self.result.failures.append(f"trial {trial.number}: {outcome.reason}")
                self.consecutive_failures += 1
            else:
                self.consecutive_failures = 0
        else:
            self.study.tell(trial, state=TrialState.FAIL)
            self.result.failed += 1
            self.result.failures.append(f"trial {trial.number}: {outcome.reason}")
            if outcome.cause is not Cause.INFRASTRUCTURE:
                # A dead node fails a whole fused group at once; that says nothing of the model file.
                self.consecutive_failures += 1

    def retry(self, failed: FrozenTrial, cause: Cause) -> None:
        """Queue a re-run of a trial that failed for a reason other than its configuration."""
        if cause is Cause.INFRASTRUCTURE:
            self.result.retried += retry_trial(self.study, failed, self.spec.retries)
        elif cause is Cause.OUT_OF_MEMORY and record.OOM_RETRY_OF not in failed.user_attrs:
            size = failed.user_attrs[record.BATCH_SIZE]
            self.oom_batch_size = min(size, self.oom_batch_size or size)
            if size >= 2 and failed.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_SEARCH:
                attrs = {record.ROLE: record.ROLE_SEARCH, record.OOM_RETRY_OF: failed.number, record.BATCH_SIZE: size // 2,
                         record.PHASE: phases.phase_of(failed)}  # fmt: skip
                self.study.enqueue_trial(failed.params, user_attrs=attrs)
                self.result.retried += 1

    def pump(self) -> None:
        """Handle the executor's events once, and keep the running trials' heartbeats fresh."""
        for event in self.executor.poll(POLL_SECONDS):
            if isinstance(event, Report):
                self.on_report(event)
            elif isinstance(event, Finished):
                self.on_finished(event.number, event.outcome)
        storage = self.study._storage
        if time.monotonic() - self.last_heartbeat > 1.0 and isinstance(storage, optuna.storages._heartbeat.BaseHeartbeat):
            for trial in self.running.values():
                storage.record_heartbeat(trial._trial_id)
            self.last_heartbeat = time.monotonic()
        if time.monotonic() - self.last_stale_check > HEARTBEAT_SECONDS:
            # Another search on this study may have died: take its trials back within grace + interval.
            mine = {trial._trial_id for trial in self.running.values()}
            self.result.retried += fail_stale_trials(self.study, retries=self.spec.retries, skip=mine)
            self.last_stale_check = time.monotonic()
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            self.drain()
            raise UserError(
                f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed, so the search stopped. The last reason: "
                f"{self.result.failures[-1]}. Fix the model file, or narrow the space (e.g. lower learning "
                "rates), then run the same command again: finished trials are kept."
            )

    # ---- the phases (autoopt.phases decides, this loop runs) ----------------------------------

    def epochs_spent(self) -> float:
        """Epochs the whole study has trained (the range test included): what --budget counts."""
        trials = self.study.get_trials(deepcopy=False)
        test = self.study.user_attrs.get(record.LR_RANGE_TEST) or {}
        return float(test.get("epochs", 0.0)) + sum(t.user_attrs.get(record.EPOCHS_RUN, 0) for t in trials)

    def affordable(self, reserve: int = 0) -> bool:
        """Whether one more full training fits the budget, with ``reserve`` trainings kept for later phases
        and every running trial counted as if it trains to the end."""
        needed = (len(self.running) + 1 + reserve) * self.epochs
        return self.epochs_spent() + needed <= self.spec.budget * self.epochs + 1e-9

    def can_start(self, counted: int) -> bool:
        return (len(self.running) < self.executor.slots and not self.out_of_time() and not self.out_of_epochs()
                and (self.spec.trials is None or counted + len(self.running) < self.spec.trials))  # fmt: skip

    def confirm_reserve(self) -> int:
        """Trainings the confirm phase will want: a seed more for each candidate, then more for the leaders."""
        top, seeds = self.spec.confirm_top, self.spec.confirm_seeds
        if not top or seeds < 2:
            return 0
        return top * (seeds - 1) + phases.LEADERS * seeds

    def plan(self, *, store: bool = False) -> phases.Plan:
        """What the finished trials say now; recomputed only when another trial has finished, and
        written to the study (``search_plan``) only at the end of a phase: every write is a
        transaction that concurrent searches on SQLite queue behind."""
        trials = self.study.get_trials(deepcopy=False)
        finished = sum(t.state.is_finished() for t in trials)
        if self._plan is None or self._plan[0] != finished:
            plan = phases.plan_of(trials, budget=self.spec.budget, epochs=self.epochs, maximize=self.maximize,
                                  race=self.spec.race)  # fmt: skip
            self._plan = (finished, plan)
        if store:
            self.study.set_user_attr(record.SEARCH_PLAN, self._plan[1].to_json())
        return self._plan[1]

    def run_screen_phase(self, scale: float) -> None:
        """Every family at its calibrated defaults, the full epochs, never pruned; one not yet
        finished (never run, or interrupted) is run now, and one that diverged is screened again
        a decade lower (a family must not leave the race because the common scale overshot it)."""
        missing = self.screens_missing()
        self.progress.phase(f"screening {len(missing)} optimizers at their defaults, all {self.epochs} epochs",
                            len(missing))  # fmt: skip
        while missing or self.running:
            counted = self.counted(fresh=bool(missing) and len(self.running) < self.executor.slots)
            while missing and self.can_start(counted):
                name, diverged = missing.pop(0)
                params = default_params(self.spec.space, name, scale / SCREEN_STEP_DOWN**diverged)
                self.start_trial(ask_member(self.study, params, {record.ROLE: record.ROLE_SEARCH,
                                                                 record.PHASE: record.PHASE_SCREEN}))  # fmt: skip
            if not self.can_start(counted) and len(self.running) < self.executor.slots:
                break  # out of --trials or time: what ran is kept, a resumed search runs the rest
            if self.running:
                self.pump()
            if not missing:
                missing = self.screens_missing()  # the diverged ones, a decade lower
        self.plan(store=True)

    def screens_missing(self) -> list[tuple[str, int]]:
        """Families without a screen trial that completed, failed for its own reasons, or is under way (an
        interrupted one is missing again), each with how many of
        its screens overshot: diverged, or ended orders of magnitude worse than the others
        (``phases.overshot``). Up to ``SCREEN_RETRIES`` of those; after that the family is done."""
        trials = self.study.get_trials(deepcopy=False)
        screens = [t for t in trials if phases.phase_of(t) == record.PHASE_SCREEN]
        finals = [t.value for t in screens if t.state == TrialState.COMPLETE]
        done: set[str] = set()
        overshot: dict[str, int] = {}
        for t in screens:
            name = t.user_attrs.get(record.OPTIMIZER) or t.params.get("optimizer")
            if t.state == TrialState.PRUNED or (t.state == TrialState.COMPLETE and phases.overshot(t.value, finals, self.maximize)):
                overshot[name] = overshot.get(name, 0) + 1
            elif t.state != TrialState.FAIL or stored_cause(t.user_attrs) is not Cause.INTERRUPTED:
                # Failed for its own reasons (user error, timeout, out of memory; infrastructure
                # failures are queued again as retries): the family is out, not screened forever.
                done.add(name)
        return [(name, overshot.get(name, 0)) for name in warm_start_order(self.spec.space)
                if name not in done and overshot.get(name, 0) <= SCREEN_RETRIES]  # fmt: skip

    def run_search_phase(self) -> None:
        self.progress.phase("searching inside the surviving optimizers", 0)
        while True:
            counted = self.counted(fresh=len(self.running) < self.executor.slots)
            while self.can_start(counted) and self.affordable(self.confirm_reserve()):
                self.start_trial(self.next_search_trial())
            if not self.running:
                break
            self.pump()
        self.result.timed_out = self.out_of_time()
        self.plan(store=True)

    def next_search_trial(self) -> optuna.Trial | None:
        """A queued trial (a retry) first; else the next point inside the race's survivors; None: TPE's ask."""
        member = self.fused_member()
        if member is not None or not self.spec.warm_start:
            return member
        waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if any(record.RETRY_OF in t.user_attrs or record.OOM_RETRY_OF in t.user_attrs for t in waiting):
            return None  # ask() takes the queued retry (other WAITING trials are other searches' asks in flight)
        trials = self.study.get_trials(deepcopy=False)
        runs = phases.runs_of(trials)
        plan = self.plan()
        if not plan.survivors:
            return None
        searched = [t.user_attrs.get(record.OPTIMIZER) or t.params.get("optimizer") for t in trials
                    if phases.phase_of(t) == record.PHASE_SEARCH]  # fmt: skip
        family = phases.next_family(plan.survivors, runs, searched, self.maximize)
        tried = [t.params for t in trials if t.params.get("optimizer") == family and phases.phase_of(t) != record.PHASE_CONFIRM]
        params = phases.next_in_family(family, runs, tried, self.spec.space, self.maximize, plan.noise or 0.0)
        return ask_member(self.study, params, {record.ROLE: record.ROLE_SEARCH, record.PHASE: record.PHASE_SEARCH})

    def counted(self, *, fresh: bool) -> int:
        """Finished search trials of the whole study: other searches on it included, read now
        when a slot is free (the ``--trials`` decision), else as cached (at most a second old)."""
        storage = self.study._storage
        if fresh and isinstance(storage, DriverStorage):
            storage.refresh(self.study._study_id)
        return _counted(self.study)

    def fused_member(self) -> optuna.Trial | None:
        """A trial for a fused group's free slot (its family and batch size), or None."""
        # Queued trials (retries) come first: a running group is refilled only when none wait.
        waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        key = self.executor.wanted_key(refill=not waiting)
        if key is None:
            return None
        attrs = {record.ROLE: record.ROLE_SEARCH, record.PHASE: record.PHASE_SEARCH}
        return ask_member(self.study, member_params(key, self.spec.space), attrs)

    def run_confirm_phase(self) -> None:
        """Fresh seeds for the top configurations (one per surviving family among them), then for
        the leaders and whatever ties them, while the budget lasts."""
        top, seeds = self.spec.confirm_top, self.spec.confirm_seeds
        survivors = self.plan().survivors
        first = phases.confirm_round(self.study.get_trials(deepcopy=False), self.maximize, candidates=top, seeds=seeds,
                                     families=survivors)  # fmt: skip
        self.progress.phase(f"confirming the top {top} on {seeds} seeds each", len(first))
        self.run_confirmations(first)
        for _ in range(2):  # the leaders, then whatever still ties the leader
            trials = self.study.get_trials(deepcopy=False)
            tolerance = 2 * (phases.noise(trials, self.epochs, self.maximize) or 0.0) / math.sqrt(2 * seeds)
            more = phases.leaders_round(trials, self.maximize, seeds=2 * seeds, tolerance=tolerance)
            if not more or self.out_of_time() or not self.affordable():
                break
            self.progress.phase(f"confirming the leaders on {2 * seeds} seeds each", len(more))
            self.run_confirmations(more)

    def run_confirmations(self, pending: list[tuple[dict, int]]) -> None:
        while pending or self.running:
            while pending and len(self.running) < self.executor.slots and not self.out_of_time() and self.affordable():
                params, of = pending.pop(0)
                attrs = {record.ROLE: record.ROLE_CONFIRM, record.PHASE: record.PHASE_CONFIRM, record.CONFIRM_OF: of}
                # This very trial, not the oldest queued one.
                self.start_trial(ask_member(self.study, params, attrs))
            if self.out_of_time() or (pending and not self.running and not self.affordable()):
                pending.clear()
            if self.running:
                self.pump()

    def drain(self) -> None:
        """Fail what is still running (Ctrl-C, too many failures): nothing is left RUNNING."""
        for number, trial in list(self.running.items()):
            self.running.pop(number)
            try:
                trial.set_user_attr(record.FAIL_REASON, f"{record.INTERRUPTED}: the search was stopped while it ran")
                trial.set_user_attr(record.CAUSE, Cause.INTERRUPTED.value)
                self.study.tell(trial, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another search already failed it as stale


def _counted(study: optuna.Study) -> int:
    """Finished (complete or pruned) search trials: what ``--trials`` counts."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sum(t.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_SEARCH for t in trials)


def _calibrate(spec: StudySpec, task: Task, data: Data | None, device: torch.device, study: optuna.Study,
               progress: Progress, result: SearchResult) -> float:  # fmt: skip
    """Run the learning-rate range test (``autoopt.calibrate``); the factor for the warm starts."""
    if data is None:  # a bring-your-own loop trains itself: there is no loop to test with
        progress.note(f"no learning-rate range test: {task.path.name} trains itself with `train(trial)`, "
                      "so the screen starts at the published learning rates")  # fmt: skip
        return 1.0
    first = warm_start_order(spec.space)[0]
    params = default_params(spec.space, first)
    config = suggest_config(optuna.trial.FixedTrial(params), spec.space)
    default_lr = registry.get(first).defaults.get("lr")
    if default_lr is None:
        return 1.0
    seed = spec.seed if spec.seed is not None else random.randrange(2**31)
    # Swept around the published default even where the study fixes this optimizer's rate:
    # the factor is relative to the published defaults, which the other warm starts use.
    kwargs = {**config.optimizer_kwargs, "lr": default_lr}
    test = lr_range_test(task, data, device, first, kwargs, config.batch_size, seed)
    study.set_user_attr(record.LR_RANGE_TEST, test.to_json())
    result.epochs_trained += test.epochs
    progress.calibrated(test)
    return test.factor


def _stored_scale(study: optuna.Study) -> float:
    """The warm-start factor of the range test a new study ran (a resumed study screens at the same scale)."""
    return float((study.user_attrs.get(record.LR_RANGE_TEST) or {}).get("factor", 1.0))


def search(spec: StudySpec, *, progress: Progress | None = None) -> SearchResult:
    """Run (or resume) the search ``spec`` describes; return what happened."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # multivariate TPE
        # We drive ask/tell ourselves and write the heartbeats (see _Search.pump), which Optuna warns about.
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return _search(spec, progress or SilentProgress())


def _search(spec: StudySpec, progress: Progress) -> SearchResult:
    task = load_task(spec.model_file)
    epochs = spec.epochs or task.epochs or DEFAULT_EPOCHS
    storage = DriverStorage(open_storage(spec.storage, heartbeat=True), owner=owner_tag())
    device = pick_device()
    data = preflight(task, device)
    study, is_new = _open_study(spec, task, epochs, storage)
    reclaimed = fail_stale_trials(study, retries=spec.retries)
    result = SearchResult(spec.study_name, spec.storage)
    progress.begin(spec, epochs, _counted(study), reclaimed)
    scale = 1.0
    if spec.warm_start and spec.calibrate:
        scale = _stored_scale(study) if not is_new else _calibrate(spec, task, data, device, study, progress, result)
    fuse = fused_size(spec, task, data, device)
    with make_executor(spec, task, data, device, fuse=fuse) as executor:
        loop = _Search(study, spec, executor, progress, epochs, result)
        try:
            if spec.warm_start:
                loop.run_screen_phase(scale)
            loop.run_search_phase()
            if spec.confirm_top and spec.confirm_seeds >= 2 and not result.timed_out:
                loop.run_confirm_phase()
            loop.plan(store=True)
        except BaseException:
            loop.drain()
            raise
    progress.end(result)
    return result


__all__ = ["SearchResult", "search"]
