"""A trial that diverges, raises, or runs out of memory ends alone, with its reason recorded."""

from __future__ import annotations

import subprocess

import optuna

import autoopt
from autoopt.engine.run import MAX_CONSECUTIVE_FAILURES, OOM_CONSTRAINT, SearchResult, _Search
from autoopt.executors.inline import InlineExecutor
from autoopt.outcome import FAIL, Cause, TrialOutcome
from autoopt.engine.search_progress import SilentProgress
from autoopt.storage import record
from fault_support import MODELS, census, env, search_command, trials_of


def spec(model: str, url: str, study: str, *, optimizers=("adam", "sgd"), space=None, **settings):
    overrides = {"storage": url, "study": study, "seed": 0, "confirm_top": 0, "pruner": "none", **settings}
    table = {"optimizers": list(optimizers), **(space or {})}
    return autoopt.build_spec(MODELS / f"{model}.py", overrides=overrides, space_table=table)


def test_nan_inf_and_exceptions_end_only_their_trials_with_the_reason(sqlite_url, study_name):
    result = autoopt.search(spec("broken", sqlite_url, study_name, trials=6,
                                 optimizers=("adam", "sgd", "adagrad", "rmsprop")))  # fmt: skip
    counted = census("bad trials", sqlite_url, study_name, 0, [])
    trials = trials_of(sqlite_url, study_name)
    # Diverged trials are verdicts (pruned, counted toward --trials); user errors fail; neither is retried.
    assert result.complete + result.pruned == 6 and counted.lost == 0 and result.retried == 0
    assert counted.failed_with_reason == result.failed >= 1 and result.diverged == result.pruned >= 2
    failed = [t.user_attrs[record.FAIL_REASON] for t in trials if t.state.name == "FAIL"]
    assert failed and all(r.startswith("error: KeyError") for r in failed)
    diverged = [t.user_attrs[record.PRUNE_REASON] for t in trials if t.state.name == "PRUNED"]
    assert any(r.startswith("diverged: reported value became nan") for r in diverged)
    assert any(r.startswith("diverged: train(trial) returned inf") for r in diverged)


def test_out_of_memory_is_retried_once_at_half_the_batch_size_and_then_avoided(sqlite_url, study_name):
    # No screen (it trains at the size nearest 32): TPE samples 64 from the first trial.
    result = autoopt.search(spec("hungry", sqlite_url, study_name, trials=8, warm_start=False,
                                 space={"batch_size": [16, 32, 64]}))  # fmt: skip
    trials = trials_of(sqlite_url, study_name)
    counted = census("oom", sqlite_url, study_name, 0, [])
    assert result.complete == 8 and counted.lost == 0
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and all(t.user_attrs[record.FAIL_REASON].startswith("out of memory at batch size 64") for t in failed)
    assert len(failed) == 1  # once seen, 64 is never trained again
    retry = next(t for t in trials if t.user_attrs.get(record.OOM_RETRY_OF) == failed[0].number)
    assert retry.params == failed[0].params and retry.user_attrs[record.BATCH_SIZE] == 32
    assert retry.state.name == "COMPLETE"
    later = [t for t in trials if t.number > failed[0].number and t.params["batch_size"] == 64]
    assert all(t.user_attrs[record.BATCH_SIZE] == 32 and t.constraints == {OOM_CONSTRAINT: 1.0} for t in later)


def test_a_run_of_infrastructure_failures_does_not_stop_the_search(sqlite_url, study_name):
    """A dead node fails a whole fused group at once: that is not "10 trials in a row failed"."""
    spec = autoopt.build_spec(MODELS / "quick.py", overrides={"storage": sqlite_url, "study": study_name})
    study = optuna.create_study(study_name=study_name, storage=sqlite_url)
    executor = InlineExecutor(None, None, None)  # type: ignore[arg-type]  # never submitted to
    loop = _Search(study, spec, executor, SilentProgress(), 3, SearchResult(study_name, sqlite_url))
    for _ in range(MAX_CONSECUTIVE_FAILURES + 2):
        loop.tell(study.ask(), TrialOutcome(FAIL, reason="ray node/actor died on node x", cause=Cause.INFRASTRUCTURE))
    assert loop.policy.consecutive_failures == 0
    for _ in range(2):
        loop.tell(study.ask(), TrialOutcome(FAIL, reason="ValueError: bad", cause=Cause.USER_ERROR))
    assert loop.policy.consecutive_failures == 2


def test_a_model_that_always_diverges_stops_the_search_with_the_reason(sqlite_url, study_name, tmp_path):
    """Diverged trials are pruned, not failed, yet ten in a row still mean the model file is broken."""
    command = search_command("always_nan", sqlite_url, study_name, "--trials", "40")
    done = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed" in done.stderr
    assert "diverged: reported value became nan" in done.stderr and "Traceback" not in done.stderr
    trials = trials_of(sqlite_url, study_name)
    assert len(trials) == MAX_CONSECUTIVE_FAILURES and all(t.state.name == "PRUNED" for t in trials)
