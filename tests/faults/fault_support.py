"""Fault injection for autoopt: run real searches, break them for real, count what is left.

Each scenario runs ``autoopt search`` in subprocesses (real processes, real signals, the
real database), injects its fault ``injections`` times, and returns a ``Census``: trials
finished, trials failed with a recorded reason, and trials lost. A trial is lost when it
is left RUNNING or WAITING at the end, failed without a reason, or was finished before an
injection and is missing or changed after it. The tests assert the census; the benchmark
(benchmarks/faults.py) prints it per scenario.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoopt.storage import open_storage, record

MODELS = Path(__file__).parent / "models"
POSTGRES_ENV = "AUTOOPT_TEST_DATABASE_URL"
# --trials, not the budget, ends these searches: they count trials across crashes and writers.
FAST = ("--optimizers", "adam,sgd", "--sampler", "random", "--pruner", "none", "--confirm-top", "0", "--seed", "0",
        "--budget", "100000")  # fmt: skip


@dataclass
class Census:
    scenario: str
    injections: int = 0
    finished: int = 0
    failed_with_reason: int = 0
    lost: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def trials_of(url: str, study: str) -> list[FrozenTrial]:
    storage = open_storage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    finally:
        storage.engine.dispose()


def snapshot(url: str, study: str) -> dict[int, tuple]:
    """The finished trials now: number -> (state, value, params)."""
    try:
        trials = trials_of(url, study)
    except KeyError:
        return {}
    return {t.number: (t.state, t.value, t.params) for t in trials if t.state.is_finished()}


def census(scenario: str, url: str, study: str, injections: int, before: list[dict[int, tuple]]) -> Census:
    trials = trials_of(url, study)
    result = Census(scenario, injections)
    by_number = {t.number: t for t in trials}
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            result.finished += 1
        elif t.state == TrialState.FAIL and t.user_attrs.get(record.FAIL_REASON):
            result.failed_with_reason += 1
            kind = t.user_attrs[record.FAIL_REASON].split(":")[0].split(" (")[0]
            result.reasons[kind] = result.reasons.get(kind, 0) + 1
        else:
            result.lost += 1  # RUNNING, WAITING, or FAIL without a reason
    for finished in before:
        for number, kept in finished.items():
            now = by_number.get(number)
            if now is None or (now.state, now.value, now.params) != kept:
                result.lost += 1
    if len({t.number for t in trials}) != len(trials):
        result.lost += len(trials) - len({t.number for t in trials})
    return result


def env(marks: Path | None = None, **extra: str) -> dict[str, str]:
    values = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", **extra}
    if marks is not None:
        values["AUTOOPT_FAULT_MARKS"] = str(marks)
    return values


def search_command(model: str, url: str, study: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "autoopt.cli", "search", str(MODELS / f"{model}.py"), "--storage", url,
            "--study", study, *FAST, *args]  # fmt: skip


def _ctrl_c_as_on_a_terminal() -> None:
    """Ctrl-C's default action, in the child before it execs. A shell runs a background job
    (``pytest &``, ``nohup ... &``) with SIGINT ignored, an ignored signal stays ignored across
    exec, and Python then installs no KeyboardInterrupt handler: the search would never see the
    Ctrl-C this suite sends, as a search started from a terminal does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(command: list[str], cwd: Path, marks: Path | None = None, **extra: str) -> subprocess.Popen[str]:
    """A search in its own process group (so Ctrl-C can reach it the way a terminal sends it)."""
    return subprocess.Popen(command, cwd=cwd, env=env(marks, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_as_on_a_terminal)  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    """Wait for a search; its exit code and everything it printed."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return -1, out + err + "\n(test harness: killed after the timeout)"
    return process.returncode, out + err


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def running_trial_with_pid(url: str, study: str, marks: Path, exclude: set[int] = frozenset()) -> tuple[int, int] | None:
    """(trial number, pid of the process training it) of a trial that reported an epoch."""
    try:
        trials = trials_of(url, study)
    except KeyError:
        return None
    for t in trials:
        pid_file = marks / f"{t.number}.pid"
        if t.state == TrialState.RUNNING and t.intermediate_values and t.number not in exclude and pid_file.exists():
            return t.number, int(pid_file.read_text())
    return None


def retries_of(trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    return [t for t in trials if t.user_attrs.get(record.RETRY_OF) == number]


# ---- the scenarios ----------------------------------------------------------------------


def worker_kills(url: str, cwd: Path, study: str, kills: int) -> Census:
    """SIGKILL the worker process of a running trial, ``kills`` times, during one search."""
    marks = cwd / f"marks-{study}"
    marks.mkdir()
    trials = 4 + kills
    driver = start(search_command("sleepy", url, study, "--jobs", "2", "--trials", str(trials), "--retries", "1"), cwd, marks)
    killed: set[int] = set()
    before = []
    try:
        for _ in range(kills):
            number, pid = wait_for(lambda: running_trial_with_pid(url, study, marks, killed), 120, "a running trial")
            before.append(snapshot(url, study))
            os.kill(pid, signal.SIGKILL)
            killed.add(number)
    finally:
        code, output = finish(driver)
    result = census("worker SIGKILL", url, study, kills, before)
    final = trials_of(url, study)
    for number in killed:
        failed = next(t for t in final if t.number == number)
        again = retries_of(final, number)
        # The retry ran to the end, unless a later kill hit the retry itself (then no third attempt).
        if not (failed.user_attrs.get(record.FAIL_REASON, "").startswith("worker process died") and len(again) == 1
                and again[0].params == failed.params
                and (again[0].state == TrialState.COMPLETE or again[0].number in killed)):  # fmt: skip
            result.notes.append(f"trial {number} was not failed and retried once with its params")
    if code != 0 or "Traceback" in output:
        result.notes.append(f"search exited {code}: {output[-2000:]}")
    return result


def driver_kills(url: str, cwd: Path, study: str, kills: int, *, trials: int = 4) -> Census:
    """SIGKILL the search itself mid-trial, ``kills`` times, running the same command after each."""
    marks = cwd / f"marks-{study}"
    marks.mkdir()
    command = search_command("sleepy", url, study, "--trials", str(trials), "--retries", "1")
    before, orphans = [], []
    for _ in range(kills):
        driver = start(command, cwd, marks)
        try:
            number, _ = wait_for(lambda: running_trial_with_pid(url, study, marks, set(orphans)), 120, "a running trial")
        finally:
            # Killed at once: on a loaded machine the trial could otherwise finish first (it runs ~1.6 s).
            os.killpg(driver.pid, signal.SIGKILL)
            finish(driver)
        before.append(snapshot(url, study))  # a killed search writes nothing more: same as just before
        orphans.append(number)
    code, output = finish(start(command, cwd, marks))
    result = census("driver SIGKILL + rerun", url, study, kills, before)
    final = {t.number: t for t in trials_of(url, study)}
    for number in orphans:
        if not final[number].user_attrs.get(record.FAIL_REASON, "").startswith("stale:"):
            result.notes.append(f"orphan trial {number} was not failed as stale")
    if code != 0 or "Traceback" in output:
        result.notes.append(f"resumed search exited {code}: {output[-2000:]}")
    return result


def ctrl_c(url: str, cwd: Path, study: str, interrupts: int, *, trials: int = 4) -> Census:
    """SIGINT to the search's process group (Ctrl-C in a terminal), then the same command again."""
    marks = cwd / f"marks-{study}"
    marks.mkdir()
    command = search_command("sleepy", url, study, "--jobs", "2", "--trials", str(trials))
    before, notes = [], []
    seen: set[int] = set()
    for _ in range(interrupts):
        driver = start(command, cwd, marks)
        number, _ = wait_for(lambda: running_trial_with_pid(url, study, marks, seen), 120, "a running trial")
        seen.add(number)
        before.append(snapshot(url, study))
        os.killpg(driver.pid, signal.SIGINT)
        code, output = finish(driver, timeout=60)
        if code != 130 or "run the same command again" not in output or "Traceback" in output:
            notes.append(f"Ctrl-C: exit {code}, output: {output[-2000:]}")
    code, output = finish(start(command, cwd, marks))
    result = census("Ctrl-C + rerun", url, study, interrupts, before)
    result.notes += notes
    if code != 0 or "Traceback" in output:
        result.notes.append(f"resumed search exited {code}: {output[-2000:]}")
    return result


def frozen_driver(url: str, cwd: Path, study: str) -> tuple[Census, float]:
    """SIGSTOP a search mid-trial (alive, but its heartbeats stop) while a second search runs:
    the second one fails and retries the frozen trial within grace + interval. Returns the census
    and the seconds from the freeze to the trial being failed."""
    marks = cwd / f"marks-{study}"
    marks.mkdir()
    frozen = start(search_command("sleepy", url, study, "--trials", "3"), cwd, marks)
    try:
        number, _ = wait_for(lambda: running_trial_with_pid(url, study, marks), 120, "a running trial")
        before = [snapshot(url, study)]
        os.killpg(frozen.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        second = start(search_command("sleepy", url, study, "--trials", "12"), cwd, marks)
        wait_for(lambda: next(t for t in trials_of(url, study) if t.number == number).state == TrialState.FAIL,
                 120, f"trial {number} to be failed as stale")  # fmt: skip
        detected_after = time.monotonic() - frozen_at
        code, output = finish(second)
    finally:
        os.killpg(frozen.pid, signal.SIGKILL)
        finish(frozen)
    result = census("driver frozen (no heartbeat)", url, study, 1, before)
    failed = next(t for t in trials_of(url, study) if t.number == number)
    if not failed.user_attrs.get(record.FAIL_REASON, "").startswith("stale: no heartbeat"):
        result.notes.append(f"trial {number}: {failed.user_attrs.get(record.FAIL_REASON)!r}")
    if code != 0 or "Traceback" in output:
        result.notes.append(f"second search exited {code}: {output[-2000:]}")
    return result, detected_after


def many_writers(url: str, cwd: Path, study: str, *, drivers: int = 8, trials: int = 200) -> Census:
    """``drivers`` searches on one study at once, ``trials`` finished trials wanted in all."""
    command = search_command("quick", url, study, "--trials", str(trials))
    processes = [start(command, cwd) for _ in range(drivers)]
    outputs = [finish(p, timeout=400) for p in processes]
    result = census(f"{drivers} writers", url, study, drivers, [])
    for code, output in outputs:
        if code != 0 or "Traceback" in output or "database is locked" in output:
            result.notes.append(f"a search exited {code}: {output[-2000:]}")
    if not trials <= result.finished <= trials + drivers - 1:
        result.notes.append(f"{result.finished} finished trials, wanted {trials} (+ at most {drivers - 1})")
    return result


def restart_postgres() -> None:
    subprocess.run(["pg_ctlcluster", "15", "main", "restart"], check=True, capture_output=True, timeout=120)


def ensure_postgres_up() -> None:
    status = subprocess.run(["pg_ctlcluster", "15", "main", "status"], capture_output=True)
    if status.returncode != 0:
        subprocess.run(["pg_ctlcluster", "15", "main", "start"], check=True, capture_output=True, timeout=120)


def postgres_restarts(url: str, cwd: Path, study: str, restarts: int) -> Census:
    """Restart the PostgreSQL server ``restarts`` times while a search runs on it."""
    marks = cwd / f"marks-{study}"
    marks.mkdir()
    trials = 3 + 3 * restarts
    driver = start(search_command("sleepy", url, study, "--jobs", "2", "--trials", str(trials)), cwd, marks)
    before, seen = [], set()
    try:
        for _ in range(restarts):
            number, _ = wait_for(lambda: running_trial_with_pid(url, study, marks, seen), 120, "a running trial")
            seen.add(number)
            before.append(snapshot(url, study))
            restart_postgres()
    finally:
        ensure_postgres_up()
        code, output = finish(driver)
    result = census("PostgreSQL restart", url, study, restarts, before)
    if code != 0 or "Traceback" in output:
        result.notes.append(f"search exited {code}: {output[-2000:]}")
    if result.finished < trials:
        result.notes.append(f"{result.finished} finished trials, wanted {trials}")
    return result
