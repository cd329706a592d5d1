"""The search engine in-process (``autoopt.search``), on every storage autoopt supports."""

from __future__ import annotations

import time

import optuna
import pytest
from core_support import by_state, load_study, make_spec, model_path, trials_of
from optuna.trial import TrialState

import autoopt
from autoopt.engine.run import DIVERGED_CONSTRAINT
from autoopt.engine.trial_loop import next_common_seed, run_seed
from autoopt.training.runner import environment, pick_device
from autoopt.storage import record

# The engine silences this at import; pytest resets warning filters for each test.
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")


def outcomes(storage: str, study: str) -> list[tuple[str, dict, float | None]]:
    """What a run produced, comparable across studies: (state, params, value) per trial."""
    return [(t.state.name, t.params, t.value) for t in trials_of(storage, study)]


def test_search_runs_the_requested_trials_and_records_each(storage_url, study_name):
    result = autoopt.search(make_spec("blobs", storage_url, study_name, trials=5, pruner="none"))
    trials = trials_of(storage_url, study_name)
    assert (result.complete, result.pruned, result.failed) == (5, 0, 0)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert [t.user_attrs[record.OPTIMIZER] for t in trials[:2]] == ["adam", "sgd"]  # warm start: defaults first
    for t in trials:
        attrs = t.user_attrs
        assert attrs[record.OPTIMIZER] in ("adam", "sgd") and attrs[record.ROLE] == record.ROLE_SEARCH
        assert attrs[record.OPTIMIZER_KWARGS]["lr"] > 0 and attrs[record.BATCH_SIZE] in (16, 32, 64, 128, 256)
        assert record.LOOKAHEAD in attrs and isinstance(attrs[record.SEED], int)
        assert len(attrs[record.CURVE]) == len(attrs[record.TRAIN_LOSS]) == attrs[record.EPOCHS_RUN] == 3
        assert attrs[record.CURVE][-1] == t.value and attrs[record.WALL_TIME] > 0
        assert attrs[record.ENV] == environment(pick_device())
    info = load_study(storage_url, study_name).user_attrs[record.STUDY_INFO]
    assert info["metric"] == "val_loss" and info["epochs"] == 3 and info["optimizers"] == ["adam", "sgd"]
    assert info["model_file"] == str(model_path("blobs"))


@pytest.mark.parametrize(("pruner", "stored"), [("auto", [1, 3, 9]), ("none", [1, 9]), ("asha", list(range(1, 10)))])
def test_an_epoch_is_stored_where_a_pruner_reads_it_and_the_whole_curve_with_the_trial(sqlite_url, study_name,
                                                                                       pruner, stored):  # fmt: skip
    # Each stored epoch is a transaction: the default pruner reads only its rungs (E/9, E/3),
    # so the first epoch, the rungs and the last are stored (and one every 2 s of a long
    # trial); Optuna's own pruners read every epoch. The curve attribute holds them all.
    autoopt.search(make_spec("blobs", sqlite_url, study_name, trials=2, epochs=9, pruner=pruner))
    for t in trials_of(sqlite_url, study_name):
        # (An epoch that took over 2 s on an overloaded machine may add itself; none is left out.)
        assert set(stored) <= set(t.intermediate_values) and (pruner == "asha" or len(t.intermediate_values) < 9)
        assert len(t.user_attrs[record.CURVE]) == 9 and t.user_attrs[record.CURVE][-1] == t.value


def test_pruner_stops_trailing_trials_and_says_why(storage_url, study_name):
    result = autoopt.search(make_spec("blobs", storage_url, study_name, trials=9, epochs=4, pruner="asha"))
    pruned = by_state(trials_of(storage_url, study_name), TrialState.PRUNED)
    assert pruned and result.pruned == len(pruned)
    for t in pruned:
        assert t.user_attrs[record.PRUNE_REASON].startswith("pruned after epoch ")
        assert t.user_attrs[record.EPOCHS_RUN] < 4


def test_a_diverging_trial_is_pruned_infeasible_with_its_reason_and_the_search_goes_on(storage_url, study_name):
    spec = make_spec("line", storage_url, study_name, trials=6, pruner="none", space={"sgd": {"lr": [1e3, 1e4]}})
    result = autoopt.search(spec)
    trials = trials_of(storage_url, study_name)
    diverged = [t for t in by_state(trials, TrialState.PRUNED) if record.PRUNE_REASON in t.user_attrs]
    assert diverged and result.diverged == result.pruned == len(diverged) and result.failed == 0
    for t in diverged:
        assert t.user_attrs[record.OPTIMIZER] == "sgd"
        assert t.user_attrs[record.PRUNE_REASON].startswith("diverged: ")
        assert "inf" in t.user_attrs[record.PRUNE_REASON] or "nan" in t.user_attrs[record.PRUNE_REASON]
        assert t.constraints == {DIVERGED_CONSTRAINT: 1.0}  # so that TPE ranks it below every feasible trial
    # A diverged trial is a verdict on its configuration: it counts toward --trials, and is not retried.
    assert result.complete + result.pruned == len(trials) == 6 and result.retried == 0


def test_running_again_with_more_trials_resumes_the_study(storage_url, study_name):
    autoopt.search(make_spec("blobs", storage_url, study_name, trials=3))
    first = outcomes(storage_url, study_name)
    result = autoopt.search(make_spec("blobs", storage_url, study_name, trials=5))
    after = outcomes(storage_url, study_name)
    assert after[:3] == first
    assert result.complete + result.pruned == 2 and len(after) == 5


def test_same_seed_gives_the_same_trials_and_another_seed_does_not(storage_url, study_name):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        autoopt.search(make_spec("blobs", storage_url, f"{study_name}-{name}", trials=5, seed=seed))
        runs[name] = outcomes(storage_url, f"{study_name}-{name}")
    assert runs["a"] == runs["b"]
    assert [p for _, p, _ in runs["a"][:2]] == [p for _, p, _ in runs["c"][:2]]  # both screen the same defaults ...
    assert [v for _, _, v in runs["a"]] != [v for _, _, v in runs["c"]]  # ... on other seeds


def test_timeout_ends_the_search_cleanly(storage_url, study_name):
    start = time.monotonic()
    # Neither the trial count nor the budget may end it first: on a quiet machine the default
    # budget of 30 trainings of this tiny model fits in well under the timeout.
    result = autoopt.search(make_spec("blobs", storage_url, study_name, trials=10_000, budget=10_000, timeout=1.5))
    elapsed = time.monotonic() - start
    trials = trials_of(storage_url, study_name)
    assert result.timed_out and elapsed < 15
    assert 0 < result.complete + result.pruned < 10_000
    assert not by_state(trials, TrialState.RUNNING)


def test_parallel_workers_complete_every_trial(sqlite_url, study_name):
    # SQLite only: workers never touch storage (the driver alone writes), and each worker
    # pays torch's start-up, which would double this test's time for no new coverage.
    result = autoopt.search(make_spec("blobs", sqlite_url, study_name, trials=4, jobs=2, pruner="none"))
    trials = trials_of(sqlite_url, study_name)
    assert result.complete == 4 and [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert all(t.user_attrs[record.EPOCHS_RUN] == 3 for t in trials)


def test_trial_whose_code_raises_fails_with_the_error_while_others_complete(storage_url, study_name):
    # No screen: TPE samples batch sizes from the first trial, so the buggy one comes up.
    spec = make_spec("crashy", storage_url, study_name, trials=6, pruner="none", warm_start=False,
                     space={"batch_size": [16, 64, 128]})  # fmt: skip
    result = autoopt.search(spec)
    trials = trials_of(storage_url, study_name)
    failed, complete = by_state(trials, TrialState.FAIL), by_state(trials, TrialState.COMPLETE)
    assert failed and result.failed == len(failed) and len(complete) == 6
    for t in failed:
        assert t.user_attrs[record.BATCH_SIZE] == 16
        reason = t.user_attrs[record.FAIL_REASON]
        assert reason.startswith("error: ValueError: a batch of 16 reached the buggy branch (at ")
        assert f"{model_path('crashy')}:" in reason
    assert all(t.user_attrs[record.BATCH_SIZE] in (64, 128) for t in complete)


def test_a_re_run_takes_the_first_common_seed_its_configuration_lacks():
    def run(seed: int) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(value=0.1, user_attrs={record.SEED: seed})

    first, second, third = (run_seed(7, n) for n in (1, 2, 3))
    assert next_common_seed(7, [run(run_seed(7, 0))]) == first
    assert next_common_seed(7, [run(run_seed(7, 0)), run(first)]) == second
    # The re-run on ``second`` failed (failed runs are not passed): its replacement trains on it.
    assert next_common_seed(7, [run(run_seed(7, 0)), run(first), run(third)]) == second
    # A study from before common seeds: its runs drew other seeds, and the common ones follow.
    assert next_common_seed(7, [run(123), run(456)]) == first


def test_a_resumed_search_without_a_seed_trains_on_the_seed_its_study_stored(storage_url, study_name):
    for trials in (2, 4):  # the second search resumes the study
        autoopt.search(make_spec("blobs", storage_url, study_name, trials=trials, seed=None, pruner="none"))
    trials = trials_of(storage_url, study_name)
    base = load_study(storage_url, study_name).user_attrs[record.SEED_BASE]
    assert len(trials) >= 4 and {t.user_attrs[record.SEED] for t in trials} == {run_seed(base, 0)}


def test_best_configurations_are_confirmed_on_fresh_seeds_and_recommended(storage_url, study_name):
    spec = make_spec("blobs", storage_url, study_name, trials=4, pruner="none", confirm_top=2, confirm_seeds=2)
    autoopt.search(spec)
    trials = trials_of(storage_url, study_name)
    search = [t for t in trials if t.user_attrs[record.ROLE] == record.ROLE_SEARCH]
    confirms = [t for t in trials if t.user_attrs[record.ROLE] == record.ROLE_CONFIRM]
    # One candidate per surviving family (adam and sgd), each to 2 seeds, then both leaders to 4.
    family_best = [min((t for t in search if t.user_attrs[record.OPTIMIZER] == name), key=lambda t: t.value)
                   for name in ("adam", "sgd")]  # fmt: skip
    assert sorted(t.user_attrs[record.CONFIRM_OF] for t in confirms) == sorted([t.number for t in family_best] * 3)
    for t in confirms:
        original = trials[t.user_attrs[record.CONFIRM_OF]]
        assert t.params == original.params and t.user_attrs[record.SEED] != original.user_attrs[record.SEED]
        assert t.user_attrs[record.PHASE] == record.PHASE_CONFIRM
    # Common random numbers: every search trial trains on one seed, and both candidates' re-runs
    # on the same three more, so their values on a seed differ by the configuration alone.
    assert {t.user_attrs[record.SEED] for t in search} == {load_study(storage_url, study_name).user_attrs[record.SEED_BASE]}
    seeds = [sorted(t.user_attrs[record.SEED] for t in confirms if t.user_attrs[record.CONFIRM_OF] == best.number)
             for best in family_best]  # fmt: skip
    assert seeds[0] == seeds[1] and len(set(seeds[0])) == 3
    rec = autoopt.recommend(study_name, storage_url)
    chosen = trials[rec.trial_number]
    assert chosen in family_best and len(rec.confirmed_values) == 4 and rec.n_seeds == 4 and rec.confirmed
    assert rec.value == pytest.approx(sum(rec.confirmed_values) / 4)
    assert rec.optimizer_kwargs == chosen.user_attrs[record.OPTIMIZER_KWARGS] and rec.n_trials == len(trials)
