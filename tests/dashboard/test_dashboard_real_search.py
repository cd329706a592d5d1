"""End to end: a real `autoopt search`, then `autoopt dashboard`, both as the user runs them,
and the study page read in headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from dashboard_http import leaderboard_rows

from autoopt.storage import record

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Some regimes for parameter:UserWarning")]

MODEL = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 2
direction = "maximize"
metric_name = "accuracy"


def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorDataset(x[:180], y[:180]), TensorDataset(x[180:], y[180:])


def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


def metric(output, target):
    return (output.argmax(1) == target).float().mean()
'''
OPTIMIZERS = ["adam", "sgd", "lion", "rmsprop"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autoopt.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AUTOOPT_STORAGE": ""})  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"autoopt dashboard exited: {process.stdout.read() if process.stdout else ''}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"autoopt dashboard did not answer at {url}")


def test_dashboard_shows_a_real_searchs_leaderboard(tmp_path, chromium):
    (tmp_path / "model.py").write_text(MODEL)
    url = f"sqlite:///{tmp_path / 'trials.db'}"
    search = _cli("search", "model.py", "--storage", url, "--trials", str(len(OPTIMIZERS) + 2), "--seed", "0",
                  "--optimizers", ",".join(OPTIMIZERS), "--pruner", "none", "--confirm-top", "1", cwd=tmp_path)  # fmt: skip
    assert search.returncode == 0, search.stderr
    study = optuna.load_study(study_name="model", storage=url)
    search_trials = [t for t in study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
                     if t.user_attrs[record.ROLE] == record.ROLE_SEARCH]  # fmt: skip
    expected = {}
    for trial in search_trials:
        name = trial.user_attrs[record.OPTIMIZER]
        expected[name] = max(expected.get(name, trial.value), trial.value)
    assert set(expected) == set(OPTIMIZERS)  # the warm start tried every optimizer

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "autoopt.cli", "dashboard", "--storage", url, "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base + "/", server)
        screenshot = tmp_path / "real-search-study.png"
        dom = chromium(f"{base}/studies/{study._study_id}", screenshot=screenshot, height=2600)
    finally:
        server.terminate()
        server.wait(timeout=10)
    shown = leaderboard_rows(dom)
    assert set(shown) == set(OPTIMIZERS)
    for name, best in expected.items():
        assert shown[name] == pytest.approx(best, rel=1e-6), name
    assert dom.count('class="main-svg"') >= 3, "plotly did not draw the figures"
    assert screenshot.stat().st_size > 50_000
