"""Closing the local executor mid-trial: its workers leave at once, instead of training on until killed."""

from __future__ import annotations

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
