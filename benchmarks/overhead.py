"""Per-trial overhead of autoopt against plain Optuna on the same storage.

Trivial trials (no training) so the time is sampling, storage and process handling.
Both sides use TPE on a space of the same size; autoopt also stores its per-trial
record (config, curve, env, ...). Run: python benchmarks/overhead.py [--trials 200]
[--postgres URL]. Prints ms/trial and the difference per trial.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import optuna

import autoopt
from autoopt.storage import open_storage

HERE = Path(__file__).parent
optuna.logging.set_verbosity(optuna.logging.WARNING)


def plain_optuna(url: str, trials: int) -> float:
    storage = open_storage(url)
    name = f"bench-optuna-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=storage,
                                sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, group=True))  # fmt: skip

    def objective(trial: optuna.Trial) -> float:
        name = trial.suggest_categorical("optimizer", ["adam", "sgd", "lion"])
        trial.suggest_float(f"{name}.lr", 1e-5, 1e-1, log=True)
        trial.suggest_float(f"{name}.beta1", 0.8, 0.99)
        trial.suggest_categorical("batch_size", [32, 64, 128])
        trial.report(0.5, 1)
        return 0.5

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    elapsed = time.perf_counter() - start
    optuna.delete_study(study_name=name, storage=storage)
    return elapsed / trials


def ours(url: str, trials: int, jobs: int) -> float:
    name = f"bench-autoopt-{uuid.uuid4().hex[:8]}"
    spec = autoopt.build_spec(HERE / "trivial_model.py", overrides={
        "study": name, "storage": url, "trials": trials, "seed": 0, "jobs": jobs, "confirm_top": 0,
        "warm_start": False}, space_table={"optimizers": ["adam", "sgd", "lion"], "lookahead": "off",
        "batch_size": [32, 64, 128], "adam": {"beta2": 0.999}, "lion": {"beta2": 0.99}})  # fmt: skip
    start = time.perf_counter()
    autoopt.search(spec)
    elapsed = time.perf_counter() - start
    optuna.delete_study(study_name=name, storage=open_storage(url))
    return elapsed / trials


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="also measure on this PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = {"sqlite": f"sqlite:///{folder}/bench.db"}
        if args.postgres:
            urls["postgresql"] = args.postgres
        print(f"{args.trials} trivial trials, median of {args.repeats} runs, interleaved")
        print(f"{'storage':<11} {'optuna ms':>10} {'autoopt ms':>11} {'extra ms':>9} {'ratio':>6}")
        for label, url in urls.items():
            base, mine = [], []
            for _ in range(args.repeats):
                base.append(plain_optuna(url, args.trials) * 1e3)
                mine.append(ours(url, args.trials, jobs=1) * 1e3)
            b, m = statistics.median(base), statistics.median(mine)
            print(f"{label:<11} {b:>10.2f} {m:>11.2f} {m - b:>9.2f} {m / b:>6.2f}")


if __name__ == "__main__":
    main()
