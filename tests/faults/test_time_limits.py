"""--trial-timeout fails only the trials that run too long; --timeout ends a search cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import autoopt
from autoopt.training.data import load_data
from autoopt.training.runner import FAIL, TrialJob, run_trial
from autoopt.trial_config import TrialConfig
from autoopt.storage import record
from autoopt.training.task import Task
from fault_support import MODELS, census, finish, search_command, start, trials_of


def test_trial_timeout_fails_only_the_slow_trials_with_the_reason(sqlite_url, study_name):
    spec = autoopt.build_spec(MODELS / "slow_sgd.py", overrides={
        "storage": sqlite_url, "study": study_name, "trials": 4, "seed": 0, "confirm_top": 0, "pruner": "none",
        "trial_timeout": 0.5, "warm_start": True}, space_table={"optimizers": ["adam", "sgd"]})  # fmt: skip
    result = autoopt.search(spec)
    counted = census("trial timeout", sqlite_url, study_name, 0, [])
    trials = trials_of(sqlite_url, study_name)
    slow = [t for t in trials if t.user_attrs[record.OPTIMIZER] == "sgd"]
    assert result.complete == 4 and counted.lost == 0
    assert slow and all(t.state.name == "FAIL" for t in slow)
    assert all(t.user_attrs[record.FAIL_REASON].startswith("timeout: exceeded the per-trial limit of 0.5 s")
               for t in slow)  # fmt: skip
    assert counted.failed_with_reason == len(slow) and result.retried == 0  # a timeout is not retried


def test_trial_timeout_stops_autoopts_own_loop_within_a_step():
    class Slow(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            time.sleep(0.02)
            return self.linear(x)

    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    task = Task(path=Path("slow.py"), build_model=Slow, datasets=None, loss_fn=None, metric=None,
                direction="minimize", epochs=None, train=None)  # fmt: skip
    data = load_data((TensorDataset(x, y), TensorDataset(x, y)), task.path)
    config = TrialConfig("adam", {"lr": 1e-3}, None, 8)
    start_time = time.monotonic()
    outcome = run_trial(task, data, TrialJob(0, config, 0, 50, time_limit_s=0.2), lambda *_: False,
                        device=torch.device("cpu"))  # fmt: skip
    assert outcome.state == FAIL and outcome.reason.startswith("timeout: exceeded the per-trial limit of 0.2 s")
    assert time.monotonic() - start_time < 5  # 50 epochs would take 8 s


@pytest.mark.e2e
def test_search_timeout_ends_cleanly_through_the_cli(sqlite_url, study_name, tmp_path):
    process = start(search_command("sleepy", sqlite_url, study_name, "--trials", "1000", "--timeout", "2"), tmp_path,
                    AUTOOPT_FAULT_EPOCH_S="0.3")  # fmt: skip
    code, output = finish(process, timeout=120)
    counted = census("search timeout", sqlite_url, study_name, 0, [])
    assert code == 0, output
    assert "Traceback" not in output and "stopped by --timeout" in output
    assert counted.lost == 0 and 0 < counted.finished < 1000
    interrupted = [t for t in trials_of(sqlite_url, study_name) if t.state.name == "FAIL"]
    assert all("--timeout ran out" in t.user_attrs[record.FAIL_REASON] for t in interrupted)
