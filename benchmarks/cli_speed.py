"""How fast the command line answers, beside ``optuna --help`` in the same run.

Times ``autoopt --help``, each command's ``--help``, and the mistakes that need no model
(a missing model file, an unknown flag, a bad storage URL, a missing SQLite file, an
unknown study) against ``optuna --help``: each command is run --repeat times, round
robin so that load on the machine falls on all alike, and the median wall time is
compared. The goal is every ratio within 1.5. Run: python benchmarks/cli_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.5  # at most this many times optuna --help
BIN = Path(sys.executable).parent  # the console scripts of this environment


def commands(folder: Path) -> dict[str, list[str]]:
    """Label -> command line; run in ``folder``, which holds ``kept.db`` with one study."""
    autoopt = [str(BIN / "autoopt")]
    kept = f"sqlite:///{folder / 'kept.db'}"
    return {
        "optuna --help": [str(BIN / "optuna"), "--help"],
        "autoopt --help": [*autoopt, "--help"],
        **{f"autoopt {name} --help": [*autoopt, name, "--help"]
           for name in ("search", "recommend", "studies", "trials", "report", "dashboard", "sweep")},
        "missing model file": [*autoopt, "search", "missing.py"],
        "unknown flag": [*autoopt, "search", "model.py", "--no-such-flag"],
        "bad storage URL": [*autoopt, "studies", "--storage", "not a url"],
        "missing SQLite file": [*autoopt, "studies", "--storage", "sqlite:///typo.db"],
        "unknown study (recommend)": [*autoopt, "recommend", "nosuch", "--storage", kept],
        "unknown study (report)": [*autoopt, "report", "nosuch", "--storage", kept],
    }  # fmt: skip


def run_once(command: list[str], folder: Path) -> float:
    env = {**os.environ, "AUTOOPT_STORAGE": ""}
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "model.py").write_text("def train(trial):\n    return 0.0\n")
        subprocess.run([sys.executable, "-c", "import optuna; optuna.create_study(study_name='kept', "
                        f"storage='sqlite:///{folder / 'kept.db'}')"], check=True, capture_output=True)  # fmt: skip
        lines = commands(folder)
        times: dict[str, list[float]] = {label: [] for label in lines}
        for label, command in lines.items():  # a first, unmeasured run fills the disk cache
            run_once(command, folder)
        for _ in range(args.repeat):
            for label, command in lines.items():
                times[label].append(run_once(command, folder))
    baseline = statistics.median(times["optuna --help"])
    print(f"median of {args.repeat} runs each; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'command':<28} {'median s':>9} {'vs optuna --help':>17}")
    worst = 0.0
    for label, values in times.items():
        median = statistics.median(values)
        ratio = median / baseline
        if label != "optuna --help":
            worst = max(worst, ratio)
        print(f"{label:<28} {median:>9.3f} {ratio:>16.2f}x")
    print(f"worst ratio {worst:.2f}x: {'within' if worst <= GOAL else 'OVER'} the goal of {GOAL}x")


if __name__ == "__main__":
    main()
