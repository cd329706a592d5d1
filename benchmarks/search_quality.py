"""Search quality: autoopt against a brute-force grid, Optuna's default TPE and random search.

For each example in studies/ (digits: accuracy, diabetes: MSE):
1. A grid over optimizer x learning rate x batch size, every point trained for the full
   epochs. Its best point, re-trained on 3 fresh seeds, is the target.
2. Each method searches with the same total budget of epochs, over several search seeds:
   - autoopt with its defaults (warm start, TPE per optimizer branch, ASHA, confirmation)
   - Optuna's default TPE, and TPE with Optuna's default MedianPruner, on the raw space
     (optimizer x one shared log lr range x batch size), as an Optuna user would write it
   - random search on that raw space
3. Reported: epochs until the best finished trial is within 2% of the grid's best (median
   over search seeds), the value of each method's final pick re-trained on 3 fresh seeds,
   and the epochs spent on trials that diverged (NaN or inf: waste; mean over seeds).

Run: python benchmarks/search_quality.py [--seeds 10] [--tasks digits,diabetes]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path

import optuna
import torch

import autoopt
from autoopt import record
from autoopt.data import load_data
from autoopt.errors import UserError
from autoopt.optimizers import registry
from autoopt.runner import COMPLETE, TrialJob, run_trial
from autoopt.space import TrialConfig
from autoopt.task import Task, load_task

STUDIES = Path(__file__).resolve().parent.parent / "studies"
OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam", "radam", "lion")
LR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)  # around each optimizer's default learning rate
RETRAIN_SEEDS = (1001, 1002, 1003)
# Few epochs per trial, so that the optimizer and its learning rate decide the outcome (with
# the studies' own epoch counts nearly every sane configuration converges on these small sets).
TASKS = {"digits": {"batch_sizes": (32, 64, 128), "epochs": 4, "budget": 400},
         "diabetes": {"batch_sizes": (16, 32, 64), "epochs": 8, "budget": 800}}  # fmt: skip
optuna.logging.set_verbosity(optuna.logging.WARNING)
torch.set_num_threads(1)


class Trainer:
    """Train a configuration of one task for its full epochs; cached data."""

    def __init__(self, name: str, epochs: int) -> None:
        self.task: Task = load_task(STUDIES / f"{name}.py")
        self.data = load_data(self.task.datasets(), self.task.path)
        self.epochs = epochs
        self.maximize = self.task.direction == "maximize"

    def train(self, config: TrialConfig, seed: int,
              report: Callable[[int, float], bool] | None = None) -> tuple[float | None, int, bool]:  # fmt: skip
        """The value (None unless complete), the epochs it took, and whether it diverged."""
        job = TrialJob(0, config, seed, self.epochs)
        out = run_trial(self.task, self.data, job, lambda e, v, t: bool(report and report(e, v)), device=torch.device("cpu"))
        value = out.value if out.state == COMPLETE else None
        return value, max(len(out.curve), 1), record.diverged(out.reason)

    def retrained(self, config: TrialConfig) -> float:
        values = [self.train(config, seed)[0] for seed in RETRAIN_SEEDS]
        worst = -math.inf if self.maximize else math.inf
        return statistics.fmean(v if v is not None else worst for v in values)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximize else a < b

    def within(self, value: float, target: float, tolerance: float = 0.02) -> bool:
        return value >= target * (1 - tolerance) if self.maximize else value <= target * (1 + tolerance)


def config_of(name: str, lr: float, batch_size: int) -> TrialConfig:
    info = registry.get(name)
    kwargs = {**dict(info.defaults), "lr": lr}
    return TrialConfig(name, {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}, None, batch_size)


def grid(trainer: Trainer, batch_sizes: tuple[int, ...]) -> tuple[TrialConfig, float, int]:
    best, best_value, epochs = None, None, 0
    for name in OPTIMIZERS:
        default_lr = registry.get(name).defaults["lr"]
        for factor in LR_FACTORS:
            for batch_size in batch_sizes:
                config = config_of(name, default_lr * factor, batch_size)
                value, used, _ = trainer.train(config, seed=0)
                epochs += used
                if value is not None and (best_value is None or trainer.better(value, best_value)):
                    best, best_value = config, value
    return best, best_value, epochs


def trajectory_to_target(points: list[tuple[int, float]], trainer: Trainer, target: float) -> int | None:
    """Cumulative epochs at which the best finished value first comes within 2% of the target."""
    for epochs, value in points:
        if trainer.within(value, target):
            return epochs
    return None


def run_autoopt(trainer: Trainer, name: str, seed: int, budget: int, batch_sizes: tuple[int, ...],
                folder: str, **overrides: object) -> tuple[list[tuple[int, float]], TrialConfig, int, int]:  # fmt: skip
    """autoopt with its defaults; the search phase gets the budget less its confirmation runs."""
    url = f"sqlite:///{folder}/{name}-{seed}.db"
    confirm_cost = 3 * 2 * trainer.epochs
    settings = {"storage": url, "trials": 100_000, "seed": seed, "epochs": trainer.epochs,
                "epoch_budget": budget - confirm_cost, **overrides}  # fmt: skip
    spec = autoopt.build_spec(STUDIES / f"{name}.py", overrides=settings, space_table={"batch_size": list(batch_sizes)})
    try:
        autoopt.search(spec)
    except UserError as stop:  # e.g. 10 diverged trials in a row: what was stored still counts
        print(f"  seed {seed}: the search stopped early: {str(stop)[:120]}")
    study = optuna.load_study(study_name=spec.study_name, storage=url)
    # The learning-rate range test before the warm starts is training too: it counts first.
    total: float = study.user_attrs.get("lr_range_test", {}).get("epochs", 0.0)
    points, best, diverged = [], None, 0
    for t in sorted(study.trials, key=lambda t: t.datetime_complete or t.datetime_start):
        total += t.user_attrs.get("epochs_run", 0)
        reason = t.user_attrs.get(record.PRUNE_REASON) or t.user_attrs.get(record.FAIL_REASON)
        diverged += t.user_attrs.get(record.EPOCHS_RUN, 0) if record.diverged(reason) else 0
        if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs.get("role") == "search":
            if best is None or trainer.better(t.value, best):
                best = t.value
            points.append((total, best))
    rec = autoopt.recommend(spec.study_name, url)
    pick = TrialConfig(rec.optimizer, rec.optimizer_kwargs, rec.lookahead, rec.batch_size)
    return points, pick, total, diverged


def run_optuna(trainer: Trainer, sampler: optuna.samplers.BaseSampler, budget: int, batch_sizes: tuple[int, ...],
               pruner: optuna.pruners.BasePruner | None) -> tuple[list[tuple[int, float]], TrialConfig, int, int]:  # fmt: skip
    """What an Optuna user writes: optimizer, one log lr range, batch size; other settings default."""
    study = optuna.create_study(direction="maximize" if trainer.maximize else "minimize", sampler=sampler,
                                pruner=pruner or optuna.pruners.NopPruner())  # fmt: skip
    points, total, best, best_config, wasted = [], 0, None, None, 0
    while total < budget:
        trial = study.ask()
        config = config_of(trial.suggest_categorical("optimizer", list(OPTIMIZERS)),
                           trial.suggest_float("lr", 1e-5, 1.0, log=True),
                           trial.suggest_categorical("batch_size", list(batch_sizes)))  # fmt: skip

        def report(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            return pruner is not None and trial.should_prune()

        value, used, diverged = trainer.train(config, seed=trial.number, report=report)
        total += used
        if diverged:  # what Optuna does with a NaN objective
            wasted += used
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        study.tell(trial, value)
        if best is None or trainer.better(value, best):
            best, best_config = value, config
        points.append((total, best))
    return points, best_config, total, wasted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tasks", default="digits,diabetes")
    parser.add_argument("--methods", default=None, help="comma-separated subset of the methods")
    args = parser.parse_args()
    for name in args.tasks.split(","):
        settings = TASKS[name]
        trainer = Trainer(name, settings["epochs"])
        start = time.perf_counter()
        best_config, grid_best, grid_epochs = grid(trainer, settings["batch_sizes"])
        target = trainer.retrained(best_config)
        print(f"\n== {name} ({trainer.task.metric_name}, {'max' if trainer.maximize else 'min'}imize, "
              f"{trainer.epochs} epochs/trial) ==")  # fmt: skip
        print(f"grid: {len(OPTIMIZERS) * len(LR_FACTORS) * len(settings['batch_sizes'])} points, {grid_epochs} epochs, "
              f"best {best_config.optimizer} lr={best_config.optimizer_kwargs['lr']:.3g} bs={best_config.batch_size}: "
              f"{grid_best:.4f} (re-trained on 3 seeds: {target:.4f}) [{time.perf_counter() - start:.0f}s]")  # fmt: skip
        methods: dict[str, Callable[[int, str], tuple[list[tuple[int, float]], TrialConfig, int, int]]] = {
            "autoopt": lambda s, f: run_autoopt(trainer, name, s, settings["budget"], settings["batch_sizes"], f),
            "autoopt no LR test": lambda s, f: run_autoopt(trainer, name, s, settings["budget"], settings["batch_sizes"], f,
                                                           calibrate=False),
            "autoopt hyperband": lambda s, f: run_autoopt(trainer, name, s, settings["budget"], settings["batch_sizes"], f,
                                                          pruner="hyperband"),
            "autoopt no pruning": lambda s, f: run_autoopt(trainer, name, s, settings["budget"], settings["batch_sizes"], f,
                                                           pruner="none"),
            "optuna-tpe": lambda s, f: run_optuna(trainer, optuna.samplers.TPESampler(seed=s), settings["budget"],
                                                  settings["batch_sizes"], None),
            "optuna-tpe+median": lambda s, f: run_optuna(trainer, optuna.samplers.TPESampler(seed=s), settings["budget"],
                                                         settings["batch_sizes"], optuna.pruners.MedianPruner()),
            "random": lambda s, f: run_optuna(trainer, optuna.samplers.RandomSampler(seed=s), settings["budget"],
                                              settings["batch_sizes"], None),
        }  # fmt: skip
        print(f"{'method':<18} {'epochs to 2% (median)':>22} {'reached':>8} {'pick re-trained':>16} {'epochs used':>12} "
              f"{'on diverged':>12}")  # fmt: skip
        summary = {}
        chosen = args.methods.split(",") if args.methods else list(methods)
        for method, run in ((m, methods[m]) for m in chosen):
            start = time.perf_counter()
            hits, picks, used, wasted = [], [], [], []
            for seed in range(args.seeds):
                with tempfile.TemporaryDirectory() as folder:
                    points, pick, total, diverged = run(seed, folder)
                hits.append(trajectory_to_target(points, trainer, target))
                picks.append(trainer.retrained(pick))
                used.append(total)
                wasted.append(diverged)
            reached = [h for h in hits if h is not None]
            # An unreached target counts as the whole budget (a lower bound on the true need).
            med = statistics.median([h if h is not None else max(used) for h in hits])
            summary[method] = med
            print(f"{method:<18} {med:>22.1f} {len(reached):>5}/{args.seeds} {statistics.fmean(picks):>16.4f} "
                  f"{statistics.fmean(used):>12.0f} {statistics.fmean(wasted):>12.1f}  "
                  f"[{time.perf_counter() - start:.0f}s]")  # fmt: skip
        if {"autoopt", "optuna-tpe", "random"} <= set(summary):
            print(f"epochs-to-target ratio autoopt / optuna-tpe: {summary['autoopt'] / summary['optuna-tpe']:.2f} "
                  f"(goal <= 0.33); autoopt / random: {summary['autoopt'] / summary['random']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
