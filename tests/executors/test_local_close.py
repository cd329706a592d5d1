"""The local executor's workers and the signals around them: closed mid-trial they leave at once instead of
training on until killed; a Ctrl-C while they start does not kill them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from autoopt.executors.base import Report
from autoopt.executors.local import LocalExecutor
from autoopt.training.runner import TrialJob
from autoopt.trial_config import TrialConfig

SLOW = Path(__file__).resolve().parents[1] / "core" / "models" / "slow.py"  # 20 ms a batch


def test_a_worker_waiting_for_its_answer_exits_on_close_instead_of_being_killed():
    executor = LocalExecutor(SLOW, slots=1)
    try:
        executor.submit(TrialJob(0, TrialConfig("adam", {"lr": 1e-3}, None, 16), seed=0, epochs=20))
        deadline = time.monotonic() + 120
        while not any(isinstance(event, Report) for event in executor.poll(0.5)):
            assert time.monotonic() < deadline, "no epoch reported"
        worker = executor._workers[0]  # noqa: SLF001 - which process, to read how it ended
    finally:
        executor.close()
    # Before, the worker read the close as "go on", trained until close() killed it (-9).
    assert worker.process.exitcode == 0


def test_a_ctrl_c_while_a_worker_starts_does_not_kill_it():
    # Ctrl-C reaches the whole process group. A worker still importing torch used to die of it
    # with a KeyboardInterrupt traceback on the user's terminal (seen in CI's Ctrl-C test).
    executor = LocalExecutor(SLOW, slots=1)
    try:
        worker = executor._workers[0]  # noqa: SLF001 - signal this very process
        os.kill(worker.process.pid, signal.SIGINT)  # at once: it is still starting up
        assert worker.conn.poll(120) and worker.conn.recv() == ("ready",)
        assert worker.process.is_alive()
    finally:
        executor.close()
