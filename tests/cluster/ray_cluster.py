"""Real Ray clusters on loopback (a head and worker nodes as separate processes), and a model to search.

Every node gets one CPU and a small object store, so three nodes fit a 2-core machine. The
health checks are tightened so a killed node is declared dead in about two seconds, not fifteen.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
from ray.cluster_utils import Cluster

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20, "node_ip_address": "127.0.0.1"}
FAST_HEALTH_CHECKS = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                      "health_check_failure_threshold": 3}  # fmt: skip

# A bring-your-own-loop model: each epoch sleeps, so trials overlap and a node can die mid-trial.
MODEL = textwrap.dedent(
    """
    import time
    from helpers import score          # a local import: it must travel with the model file

    epochs = 3
    EPOCH_SECONDS = {epoch_seconds}

    def train(trial):
        if "runtime_resources" not in __file__:
            raise RuntimeError(f"ran from {{__file__}}, not from the folder Ray shipped")
        for epoch in range(1, trial.epochs + 1):
            time.sleep(EPOCH_SECONDS)
            trial.report(score(trial.config.optimizer_kwargs.get("lr", 0.01), epoch), epoch)
        return trial.curve[-1]
    """
)
HELPERS = "def score(lr, epoch):\n    return abs(lr - 1e-3) / epoch\n"


def write_model(folder: Path, *, epoch_seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpers.py").write_text(HELPERS)
    model = folder / "model.py"
    model.write_text(MODEL.format(epoch_seconds=epoch_seconds))
    return model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cluster(workers: int, **head: object) -> Cluster:
    # Ray would swap 127.0.0.1 for the machine's address; this keeps the nodes and drivers on loopback.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    # The nodes' workers and Ray jobs run `autoopt` from this interpreter's environment.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    head_args = NODE | {"include_dashboard": False, "_system_config": FAST_HEALTH_CHECKS} | head
    cluster = Cluster(initialize_head=True, head_node_args=head_args)
    for _ in range(workers):
        cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    return cluster


def autoopt_command(*args: str) -> list[str]:
    script = shutil.which("autoopt", path=str(Path(sys.executable).parent))
    return [script, *args] if script else [sys.executable, "-m", "autoopt.cli", *args]


def run_autoopt(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(autoopt_command(*args), capture_output=True, text=True, timeout=timeout)


def load(study: str, url: str) -> optuna.Study:
    """``study`` as the searches wrote it to the PostgreSQL server at ``url``."""
    return optuna.load_study(study_name=study, storage=url.replace("postgresql://", "postgresql+psycopg://"))
