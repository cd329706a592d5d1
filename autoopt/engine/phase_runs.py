"""The phases run over the trial loop: screen, search (the race inside it), confirm.

``autoopt.engine.phases`` decides (pure functions of the finished trials); this runs what it
decides, within ``--trials``, ``--budget``, ``--timeout`` and the executor's slots.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import TrialState

from autoopt.engine import confirmations

from autoopt.engine import pattern_search

from autoopt.engine import phases
from autoopt.executors.base import Executor
from autoopt.engine.fusion import ask_member, member_params
from autoopt.outcome import Cause
from autoopt.engine.search_progress import Progress
from autoopt.engine.search_result import SearchResult
from autoopt.engine.space import default_params, warm_start_order
from autoopt.engine.spec import StudySpec
from autoopt.storage import record, stored_cause
from autoopt.engine.study import epochs_spent
from autoopt.engine.trial_loop import TrialLoop

SCREEN_RETRIES = 4  # a family whose screen overshot (diverged, or blew up) is screened again this many times ...
SCREEN_STEP_DOWN = math.sqrt(10)  # ... each time half a decade lower (a decade skipped momentum SGD's best rate)


class SearchPhases(TrialLoop):
    """The trial loop, driven phase by phase."""

    def __init__(self, study: optuna.Study, spec: StudySpec, executor: Executor, progress: Progress,
                 epochs: int, result: SearchResult) -> None:  # fmt: skip
        super().__init__(study, spec, executor, progress, epochs, result)
        self._plan: tuple[int, phases.Plan] | None = None  # (finished trials it was read from, the plan)

    def affordable(self, reserve: int = 0) -> bool:
        """Whether one more full training fits the budget, with ``reserve`` trainings kept for later phases
        and every running trial counted as if it trains to the end."""
        needed = (len(self.running) + 1 + reserve) * self.epochs
        return epochs_spent(self.study) + needed <= self.spec.budget * self.epochs + 1e-9

    def confirm_reserve(self) -> int:
        """Trainings the confirm phase will want: a seed more for each candidate, then more for the leaders."""
        top, seeds = self.spec.confirm_top, self.spec.confirm_seeds
        if not top or seeds < 2:
            return 0
        return top * (seeds - 1) + confirmations.LEADERS * seeds

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
        half a decade lower (a family must not leave the race because the common scale overshot it)."""
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
                missing = self.screens_missing()  # the diverged ones, half a decade lower
        self.plan(store=True)

    def screens_missing(self) -> list[tuple[str, int]]:
        """Families without a screen trial that completed, failed for its own reasons, or is under way (an
        interrupted one is missing again), each with how many of
        its screens overshot: diverged, or blew up to orders of magnitude worse than the others
        (``phases.overshot``; one that ends near its own best is slow, not unstable, and is done). Up to ``SCREEN_RETRIES`` of those; after that the family is done."""
        trials = self.study.get_trials(deepcopy=False)
        screens = [t for t in trials if phases.phase_of(t) == record.PHASE_SCREEN]
        finals = [t.value for t in screens if t.state == TrialState.COMPLETE]
        done: set[str] = set()
        overshot: dict[str, int] = {}
        for t in screens:
            name = t.user_attrs.get(record.OPTIMIZER) or t.params.get("optimizer")
            curve = t.user_attrs.get(record.CURVE) or ()
            if t.state == TrialState.PRUNED or (t.state == TrialState.COMPLETE
                                                and phases.overshot(t.value, finals, self.maximize, curve)):
                overshot[name] = overshot.get(name, 0) + 1
            elif t.state != TrialState.FAIL or stored_cause(t.user_attrs) is not Cause.INTERRUPTED:
                # Failed for its own reasons (user error, timeout, out of memory; infrastructure
                # failures are queued again as retries): the family is out, not screened forever.
                done.add(name)
        return [(name, overshot.get(name, 0)) for name in warm_start_order(self.spec.space)
                if name not in done and overshot.get(name, 0) <= SCREEN_RETRIES]  # fmt: skip

    def run_search_phase(self) -> None:
        self.progress.phase("searching inside the surviving optimizers", 0)
        # The phased search steps from each result, so it starts as many trials as train side by side
        # (not a fused executor's every slot: those would be chosen before any result is back).
        width = self.executor.workers if self.spec.warm_start else self.executor.slots
        while True:
            counted = self.counted(fresh=len(self.running) < width)
            while self.can_start(counted) and len(self.running) < width and self.affordable(self.confirm_reserve()):
                self.start_trial(self.next_search_trial())
            if not self.running:
                break
            self.pump()
        self.result.timed_out = self.out_of_time()
        self.plan(store=True)

    def next_search_trial(self) -> optuna.Trial | None:
        """A queued trial (a retry) first; else the next point inside the race's survivors; None: TPE's ask."""
        if not self.spec.warm_start:
            return self.fused_member()
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
        family = pattern_search.next_family(plan.survivors, runs, searched, self.maximize)
        tried = [t.params for t in trials if t.params.get("optimizer") == family and phases.phase_of(t) != record.PHASE_CONFIRM]
        params = pattern_search.next_in_family(family, runs, tried, self.spec.space, self.maximize, plan.noise or 0.0,
                                               phases.blown_up(trials, self.maximize))  # fmt: skip
        return ask_member(self.study, params, {record.ROLE: record.ROLE_SEARCH, record.PHASE: record.PHASE_SEARCH})

    def fused_member(self) -> optuna.Trial | None:
        """Without the phases (TPE alone): a trial for a fused group's free slot (its family and batch size), or None."""
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
        first = confirmations.confirm_round(self.study.get_trials(deepcopy=False), self.maximize, candidates=top, seeds=seeds,
                                     families=survivors)  # fmt: skip
        self.progress.phase(f"confirming the top {top} on {seeds} seeds each", len(first))
        self.run_confirmations(first)
        for _ in range(2):  # the leaders, then whatever still ties the leader
            trials = self.study.get_trials(deepcopy=False)
            tolerance = 2 * (phases.noise(trials, self.epochs, self.maximize) or 0.0) / math.sqrt(2 * seeds)
            more = confirmations.leaders_round(trials, self.maximize, seeds=2 * seeds, tolerance=tolerance)
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
