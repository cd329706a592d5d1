"""How fast the dashboard's pages answer on a study with thousands of trials.

    python benchmarks/dashboard.py --trials 3000 --db /tmp/autoopt-bench.db

The first run fills the SQLite file (Optuna writes about 20 trials a second, so 3000
trials take minutes); later runs reuse it. It prints the time of each page the first
time (the storage is read) and again (finished trials are cached), and the size sent.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import optuna

from autoopt.dashboard import create_app
from autoopt.storage import record

OPTIMIZERS = {"adamw": 2e-3, "sgd": 8e-2, "radam": 3e-3, "lion": 2e-4, "adam": 1e-3, "rmsprop": 5e-4}
EPOCHS = 20


def _trial(rng: random.Random) -> optuna.trial.FrozenTrial:
    optimizer = rng.choice(sorted(OPTIMIZERS))
    lr = OPTIMIZERS[optimizer] * 10 ** rng.uniform(-1.5, 1.5)
    final = 0.97 - 0.05 * math.log10(lr / OPTIMIZERS[optimizer]) ** 2 + rng.gauss(0, 0.004)
    pruned = rng.random() < 0.3
    epochs = 3 if pruned else EPOCHS
    curve = [round(final * (1 - 0.5 * math.exp(-e)), 6) for e in range(epochs)]
    attrs = {
        record.OPTIMIZER: optimizer,
        record.OPTIMIZER_KWARGS: {"lr": lr, "weight_decay": 0.01},
        record.LOOKAHEAD: {"k": 5, "alpha": 0.5} if rng.random() < 0.3 else None,
        record.BATCH_SIZE: rng.choice([32, 64, 128, 256]),
        record.ROLE: record.ROLE_SEARCH,
        record.CURVE: curve,
        record.TRAIN_LOSS: [round(-math.log(v), 6) for v in curve],
        record.EPOCHS_RUN: epochs,
    }
    if pruned:
        attrs[record.PRUNE_REASON] = "pruned at epoch 2: below the median of earlier trials"
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
        value=None if pruned else curve[-1],
        intermediate_values=dict(enumerate(curve)),
        user_attrs=attrs,
    )


def fill(url: str, name: str, trials: int) -> None:
    study = optuna.create_study(study_name=name, storage=url, direction="maximize", load_if_exists=True)
    missing = trials - len(study.trials)
    if missing <= 0:
        return
    study.set_user_attr(record.STUDY_INFO, {"metric": "val_accuracy", "direction": "maximize", "epochs": EPOCHS})
    rng = random.Random(len(study.trials))
    started = time.perf_counter()
    study.add_trials([_trial(rng) for _ in range(missing)])
    print(f"wrote {missing} trials in {time.perf_counter() - started:.0f} s")


def get(app, path: str) -> tuple[int, float]:  # noqa: ANN001
    environ: dict = {}
    setup_testing_defaults(environ)
    route, _, query = path.partition("?")
    environ.update(PATH_INFO=route, QUERY_STRING=query)
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in app(environ, lambda status, headers, exc=None: None))
    return size, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/autoopt-bench.db"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{args.db}"
    fill(url, "bench", args.trials)
    app = create_app(url)
    study_id = optuna.storages.RDBStorage(url).get_study_id_from_name("bench")
    for path in ("/", f"/studies/{study_id}", f"/studies/{study_id}?page=40", "/compare"):
        for label in ("first", "again"):
            size, seconds = get(app, path)
            print(f"{path:<24} {label}: {seconds * 1000:7.0f} ms, {size / 1024:6.0f} KiB")


if __name__ == "__main__":
    main()
