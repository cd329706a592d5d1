"""The real ``autoopt`` command line in subprocesses: search, recommend, studies, trials, --help."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import time

import pytest
from core_support import (
    by_state,
    cli_command,
    cli_env,
    make_spec,
    model_path,
    run_cli,
    run_cli_inprocess,
    run_cli_parallel,
    trials_of,
)
from optuna.trial import TrialState

import autoopt
from autoopt.storage import record
from autoopt.engine.trial_rows import TRIAL_COLUMNS

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")

SEARCH_ARGS = ("--optimizers", "adam,sgd", "--seed", "0")


@pytest.mark.e2e
def test_search_then_recommend_studies_and_trials(storage_url, study_name, tmp_path):
    where = ("--storage", storage_url)
    search = run_cli("search", str(model_path("blobs")), "--study", study_name, *where, "--trials", "4",
                     "--confirm-top", "1", "--confirm-seeds", "2", *SEARCH_ARGS, cwd=tmp_path)  # fmt: skip
    assert search.returncode == 0, search.stderr
    assert "Traceback" not in search.stderr and "Warning" not in search.stderr
    assert f"next: autoopt recommend '{study_name}' --storage {storage_url}" in search.stdout
    assert "done: " in search.stderr

    text, as_json, studies, table, as_csv, trials_json = run_cli_parallel(
        ["recommend", study_name, *where],
        ["recommend", study_name, *where, "--format", "json"],
        ["studies", *where],
        ["trials", study_name, *where],
        ["trials", study_name, *where, "--format", "csv"],
        ["trials", study_name, *where, "--format", "json"],
        cwd=tmp_path,
    )
    for done in (text, as_json, studies, table, as_csv, trials_json):
        assert done.returncode == 0 and "Traceback" not in done.stderr, (done.args, done.stderr)

    rec = json.loads(as_json.stdout)
    assert list(rec)[:8] == ["study", "optimizer", "optimizer_kwargs", "lookahead", "batch_size", "value",
                             "direction", "n_trials"]  # fmt: skip
    assert {"value_std", "n_seeds", "confirmed", "tied_with", "best_epoch"} <= set(rec)
    rows = json.loads(trials_json.stdout)
    # The one candidate gets a second seed, then (as the leader) four in all.
    assert rec["study"] == study_name and rec["direction"] == "minimize" and rec["n_trials"] == len(rows) == 7
    assert [row["role"] for row in rows].count("confirm") == 3 and rec["n_seeds"] == 4
    chosen = [row for row in rows if row["optimizer_kwargs"] == rec["optimizer_kwargs"]]
    assert rec["value"] == pytest.approx(sum(row["value"] for row in chosen) / len(chosen))

    line = autoopt.Recommendation(**{key: rec[key] for key in list(rec)[:8]}, trial_number=0).pytorch_line()
    assert f"optimizer = {line}" in text.stdout and f"batch_size = {rec['batch_size']}" in text.stdout
    assert f"study {study_name}: 7 trials, minimize → {rec['optimizer']}" in text.stdout
    assert "over 4 seeds, confirmed on fresh seeds)" in text.stdout

    assert study_name in studies.stdout and "minimize" in studies.stdout
    assert f"trials of {study_name}" in table.stdout and "complete (confirm)" in table.stdout
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(parsed[0]) == list(TRIAL_COLUMNS)
    assert [int(row["number"]) for row in parsed] == [row["number"] for row in rows]


@pytest.mark.e2e
def test_trials_left_running_by_a_killed_search_are_failed_on_the_next_run(storage_url, study_name, tmp_path):
    command = cli_command("search", str(model_path("slow")), "--study", study_name, "--storage", storage_url,
                          "--trials", "50", "--pruner", "none", "--confirm-top", "0", *SEARCH_ARGS)  # fmt: skip
    driver = subprocess.Popen(command, cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for line in driver.stderr:  # one line per finished trial
            if " complete" in line:
                break
        deadline = time.monotonic() + 60
        while not by_state(trials_of(storage_url, study_name), TrialState.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.1)  # the next trial (about 2 s long) is being asked for
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        driver.stderr.close()
    before = trials_of(storage_url, study_name)
    done, running = by_state(before, TrialState.COMPLETE), by_state(before, TrialState.RUNNING)
    assert done and running and len(done) + len(running) == len(before)

    result = autoopt.search(make_spec("slow", storage_url, study_name, trials=1))  # the finished trials count: none to add
    after = {t.number: t for t in trials_of(storage_url, study_name)}
    assert result.complete == 0 and not by_state(list(after.values()), TrialState.RUNNING)
    for t in done:
        assert (after[t.number].state, after[t.number].value, after[t.number].params) == (t.state, t.value, t.params)
    for t in running:
        assert after[t.number].state == TrialState.FAIL
        # Named by its dead owner process or, when the run comes later than the grace period, by its old heartbeat.
        assert after[t.number].user_attrs[record.FAIL_REASON].startswith(("stale: the search process that ran it (",
                                                                          "stale: no heartbeat from the process running it"))


@pytest.mark.parametrize("command", ["search", "recommend", "studies", "trials"])
def test_every_command_has_help_with_an_example(command, capsys, monkeypatch):
    code, out, _ = run_cli_inprocess([command, "--help"], capsys, monkeypatch)
    assert code == 0 and "Example" in out and f"autoopt {command}" in out


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "missing.py"], "missing.py: no such model file. Pass the path of your model.py"),
        (["search", str(model_path("blobs")), "--storage", "postgresql://postgres@127.0.0.1:1/x"],
         "cannot connect"),
    ],
)
def test_a_user_mistake_exits_2_with_one_message_and_no_traceback(args, message, tmp_path):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.e2e
def test_a_train_trial_model_says_in_its_first_lines_that_it_skips_the_range_test(write_model, tmp_path):
    path = write_model("""
        epochs = 1

        def train(trial):
            trial.report(1.0)
            return 1.0
    """, name="own_loop.py")  # fmt: skip
    done = run_cli("search", str(path), "--storage", f"sqlite:///{tmp_path / 't.db'}", "--trials", "1",
                   "--optimizers", "adam", "--confirm-top", "0", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1] == ("no learning-rate range test: own_loop.py trains itself with `train(trial)`, "
                                           "so the screen starts at the published learning rates")  # fmt: skip
