"""The executor contract: a trial ends the same way, with the same records, wherever it runs.

The same scenarios run on every executor: in a thread of the search (inline), in worker
processes (local), in fused groups, and on a real Ray cluster, one trial per actor or a
fused group per actor. One model file
(models/fates.py) gives every ending, chosen by the batch sizes a scenario's space
allows; each scenario's search is real, small and seeded, runs once per executor, and is
shared by the tests that read it, the per-executor ones and the cross-executor ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from executor_support import Executor, every_executor
from optuna.trial import FrozenTrial, TrialState

import autoopt
from autoopt.engine.run import DIVERGED_CONSTRAINT, SearchResult
from autoopt.outcome import Cause
from autoopt.cli.progress import SilentProgress
from autoopt.storage import open_storage, record, stored_cause

MODEL = Path(__file__).parent / "models" / "fates.py"
EPOCHS = 2
# Seed 0 makes the random sampler's first trial take the smaller of two batch sizes: the failing one.
SETTINGS = {"seed": 0, "sampler": "random", "pruner": "none", "warm_start": False, "confirm_top": 0, "epochs": EPOCHS}
# scenario -> (the [space] table, more settings); fates.py says what each batch size does.
SCENARIOS = {
    "completes": ({"batch_size": [32]}, {"trials": 2}),
    "diverges": ({"batch_size": [24]}, {"trials": 1}),
    "raises": ({"batch_size": [16, 32]}, {"trials": 1}),
    "times out": ({"batch_size": [12, 32]}, {"trials": 1, "trial_timeout": 1.0}),
    "runs out of memory": ({"batch_size": [64]}, {"trials": 1}),
}
# What a fused member's record says besides (autoopt.executors.fused.FusedExecutor.member_attrs).
FUSED_ATTRS = {"fused_group", "fused_size"}


def cause_of(trial: FrozenTrial) -> Cause | None:
    """The stored cause; a complete trial stores none."""
    return Cause.COMPLETED if trial.state == TrialState.COMPLETE else stored_cause(trial.user_attrs)


@dataclass(frozen=True)
class Run:
    result: SearchResult
    trials: list[FrozenTrial]

    def ended(self, state: TrialState, cause: Cause) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state == state and cause_of(t) is cause]

    def endings(self) -> set[tuple[str, str]]:
        return {(t.state.name, cause_of(t).value) for t in self.trials}


def spec_for(executor: Executor, url: str, study: str, space: dict, **settings) -> autoopt.StudySpec:
    overrides = {**SETTINGS, **settings, **executor.settings, "storage": url, "study": study}
    return autoopt.build_spec(MODEL, overrides=overrides, space_table={"optimizers": ["adam"], **space})


def trials_of(url: str, study: str) -> list[FrozenTrial]:
    storage = open_storage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials()
    finally:
        storage.engine.dispose()


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Executor, str], Run]:
    """``search(executor, scenario)``: the scenario's search on that executor, run once per module."""
    runs: dict[tuple[str, str], Run] = {}

    def run(executor: Executor, scenario: str) -> Run:
        if (executor.name, scenario) not in runs:
            url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'trials.db'}"
            space, settings = SCENARIOS[scenario]
            result = autoopt.search(spec_for(executor, url, "contract", space, **settings))
            runs[executor.name, scenario] = Run(result, trials_of(url, "contract"))
        return runs[executor.name, scenario]

    return run


def test_a_trial_that_completes_stores_its_value_curve_and_where_it_ran(executor: Executor, search) -> None:
    run = search(executor, "completes")
    assert run.result.complete == 2 and len(run.trials) == 2
    for trial in run.ended(TrialState.COMPLETE, Cause.COMPLETED):
        curve = trial.user_attrs[record.CURVE]
        assert len(curve) == len(trial.user_attrs[record.TRAIN_LOSS]) == trial.user_attrs[record.EPOCHS_RUN] == EPOCHS
        assert trial.value == curve[-1] and trial.user_attrs[record.BATCH_SIZE] == 32
        assert trial.user_attrs[record.WALL_TIME] > 0 and trial.user_attrs[record.ENV]["torch"]
    assert len(run.ended(TrialState.COMPLETE, Cause.COMPLETED)) == 2
    fused = [t for t in run.trials if "fused_group" in t.user_attrs]
    assert len(fused) == (2 if executor.fused else 0)  # the fused cases really trained fused
    on_nodes = [t for t in run.trials if "node" in t.user_attrs[record.ENV]]
    assert len(on_nodes) == (2 if executor.on_ray else 0)


def test_every_executor_records_the_same_user_attrs(request: pytest.FixtureRequest, search) -> None:
    executors = every_executor(request)
    keys = {e.name: {k for t in search(e, "completes").trials for k in t.user_attrs} for e in executors}
    assert keys == {e.name: keys["inline"] | (FUSED_ATTRS if e.fused else set()) for e in executors}


def test_a_trial_that_diverges_is_pruned_as_diverged(executor: Executor, search) -> None:
    run = search(executor, "diverges")
    [trial] = run.trials
    assert stored_cause(trial.user_attrs) is Cause.DIVERGED and trial.state == TrialState.PRUNED
    assert trial.user_attrs[record.PRUNE_REASON].startswith("diverged: training loss became nan")
    assert trial.constraints == {DIVERGED_CONSTRAINT: 1.0}  # TPE ranks it below every feasible trial
    assert run.result.diverged == run.result.pruned == 1


def assert_failed_alone_and_the_search_went_on(run: Run, cause: Cause, reason: str, batch_size: int) -> None:
    """Every failed trial failed with ``cause`` at ``batch_size``; then a trial at 32 completed; none was retried."""
    failed = [t for t in run.trials if t.state == TrialState.FAIL]
    assert failed and failed == run.ended(TrialState.FAIL, cause)
    assert all(t.user_attrs[record.FAIL_REASON].startswith(reason) and t.user_attrs[record.BATCH_SIZE] == batch_size
               for t in failed)  # fmt: skip
    [complete] = run.ended(TrialState.COMPLETE, Cause.COMPLETED)
    assert complete.user_attrs[record.BATCH_SIZE] == 32 and complete.number > min(t.number for t in failed)
    assert run.result.failed == len(failed) and run.result.retried == 0


def test_a_model_that_raises_fails_its_trial_as_a_user_error_and_the_search_goes_on(executor: Executor, search) -> None:
    run = search(executor, "raises")
    reason = "error: ValueError: a batch of 16 reached the buggy branch (at "
    assert_failed_alone_and_the_search_went_on(run, Cause.USER_ERROR, reason, 16)


def test_a_trial_over_the_trial_timeout_ends_as_a_timeout(executor: Executor, search) -> None:
    run = search(executor, "times out")
    reason = "timeout: exceeded the per-trial limit of 1 s"
    assert_failed_alone_and_the_search_went_on(run, Cause.TIMEOUT, reason, 12)


def test_out_of_memory_in_the_second_epoch_is_retried_once_at_half_the_batch_size(executor: Executor, search) -> None:
    run = search(executor, "runs out of memory")
    [failed] = [t for t in run.trials if t.state == TrialState.FAIL]
    assert stored_cause(failed.user_attrs) is Cause.OUT_OF_MEMORY, failed.user_attrs[record.FAIL_REASON]
    assert failed.user_attrs[record.FAIL_REASON].startswith("out of memory at batch size 64: CUDA out of memory.")
    assert len(failed.user_attrs[record.CURVE]) == 1  # it finished its first epoch
    [retry] = [t for t in run.trials if t.user_attrs.get(record.OOM_RETRY_OF) == failed.number]
    assert retry.params == failed.params and retry.user_attrs[record.BATCH_SIZE] == 32
    assert retry.state == TrialState.COMPLETE and run.result.retried == 1


class CtrlC(SilentProgress):
    """Interrupts the search as Ctrl-C does (KeyboardInterrupt in the search's thread) at the first epoch."""

    def trial_epoch(self, number: int, epoch: int, epochs: int, value: float) -> None:
        raise KeyboardInterrupt


def test_an_interrupted_search_leaves_no_running_trial_and_resumes(executor: Executor, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trials.db'}"
    spec = spec_for(executor, url, "interrupted", {"batch_size": [32]}, trials=2)
    with pytest.raises(KeyboardInterrupt):
        autoopt.search(spec, progress=CtrlC())
    stopped = trials_of(url, "interrupted")
    assert stopped and all(t.state == TrialState.FAIL for t in stopped)  # none left RUNNING, none finished
    assert all(stored_cause(t.user_attrs) is Cause.INTERRUPTED for t in stopped)

    result = autoopt.search(spec)
    resumed = trials_of(url, "interrupted")
    assert result.complete == 2 and resumed[: len(stopped)] == stopped  # what was recorded stays
    assert [t.state for t in resumed[len(stopped) :]] == [TrialState.COMPLETE] * 2


def test_every_executor_ends_each_scenario_the_same_way(request: pytest.FixtureRequest, search) -> None:
    for scenario in SCENARIOS:
        endings = {e.name: search(e, scenario).endings() for e in every_executor(request)}
        assert len({frozenset(ending) for ending in endings.values()}) == 1, (scenario, endings)
