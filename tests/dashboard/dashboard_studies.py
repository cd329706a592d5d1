"""Storages filled the way a real autoopt search fills them, built directly with Optuna.

``build_study`` asks and tells trials for several optimizers (with and without
Lookahead, several batch sizes), pruned and failed trials with their reasons, a
confirmation run and a trial still running. Values follow a smooth function of the
learning rate plus seeded noise, so the pictures look like a real search and the tests
are deterministic. (A module of its own, not conftest.py: test folders without
``__init__.py`` would each import "conftest" under the same name.)
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import optuna

from autoopt.storage import record

optuna.logging.set_verbosity(optuna.logging.WARNING)

# optimizer -> (learning rate where it does best, best reachable score) for two tasks
MNIST = {"adamw": (2e-3, 0.975), "sgd": (8e-2, 0.962), "radam": (3e-3, 0.971), "lion": (2e-4, 0.968)}
CIFAR = {"sgd": (1e-1, 0.915), "adamw": (1e-3, 0.902), "lion": (1e-4, 0.897)}
EPOCHS = 8
ENV = {"torch": "2.5.1", "python": "3.11.9", "device": "cpu", "host": "ci-runner"}
HOSTILE_NAME = "<script>document.title='pwned'</script><img src=x onerror=\"document.body.dataset.pwned=1\">"
HOSTILE_REASON = "<b>bold</b><script>document.title='pwned-reason'</script>"


@dataclass(frozen=True)
class Task:
    optima: dict[str, tuple[float, float]]
    metric: str = "val_accuracy"
    maximize: bool = True


def _score(rng: random.Random, task: Task, optimizer: str, lr: float, lookahead: bool, batch_size: int) -> float:
    best_lr, peak = task.optima[optimizer]
    distance = math.log10(lr / best_lr)
    score = peak - 0.05 * distance**2 - 0.004 * math.log2(batch_size / 32) + 0.003 * lookahead
    return min(0.999, score + rng.gauss(0, 0.003))


def _value(task: Task, score: float) -> float:
    """Accuracy as is; a loss for minimised tasks."""
    return round(score if task.maximize else 1.2 - score, 6)


def _curve(task: Task, final: float, epochs: int) -> list[float]:
    if task.maximize:
        return [round(final * (1 - 0.5 * math.exp(-epoch)), 6) for epoch in range(epochs)]
    return [round(final * (1 + math.exp(-epoch)), 6) for epoch in range(epochs)]


def _configure(study: optuna.Study, rng: random.Random, task: Task, optimizer: str) -> tuple[optuna.Trial, float, bool, int]:
    """Ask a trial whose Optuna params and user attributes follow autoopt's layout."""
    best_lr, _ = task.optima[optimizer]
    lr = float(f"{best_lr * 10 ** rng.uniform(-1.5, 1.5):.3g}")
    lookahead = rng.random() < 0.4
    batch_size = rng.choice([32, 64, 128])
    study.enqueue_trial({"optimizer": optimizer, f"{optimizer}.lr": lr, "lookahead": lookahead, "batch_size": batch_size})
    trial = study.ask()
    trial.suggest_categorical("optimizer", sorted(task.optima))
    trial.suggest_float(f"{optimizer}.lr", best_lr / 100, best_lr * 100, log=True)
    trial.suggest_categorical("lookahead", [False, True])
    trial.suggest_categorical("batch_size", [32, 64, 128])
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": 0.01}
    if optimizer == "sgd":
        kwargs.update(momentum=0.9, nesterov=False)
    else:
        kwargs["betas"] = [0.9, 0.999]
    trial.set_user_attr(record.OPTIMIZER, optimizer)
    trial.set_user_attr(record.OPTIMIZER_KWARGS, kwargs)
    trial.set_user_attr(record.LOOKAHEAD, {"k": 5, "alpha": 0.5} if lookahead else None)
    trial.set_user_attr(record.BATCH_SIZE, batch_size)
    trial.set_user_attr(record.SEED, rng.randrange(2**31))
    trial.set_user_attr(record.ENV, ENV)
    trial.set_user_attr(record.ROLE, record.ROLE_SEARCH)
    return trial, lr, lookahead, batch_size


def _report(trial: optuna.Trial, curve: list[float]) -> None:
    for epoch, value in enumerate(curve):
        trial.report(value, epoch)
    trial.set_user_attr(record.CURVE, curve)
    trial.set_user_attr(record.TRAIN_LOSS, [round(abs(math.log(max(v, 1e-3))) + 0.05, 6) for v in curve])
    trial.set_user_attr(record.EPOCHS_RUN, len(curve))
    trial.set_user_attr(record.WALL_TIME, round(1.7 * len(curve), 2))


def _search_trial(study: optuna.Study, rng: random.Random, task: Task, optimizer: str, number: int) -> None:
    trial, lr, lookahead, batch_size = _configure(study, rng, task, optimizer)
    final = _value(task, _score(rng, task, optimizer, lr, lookahead, batch_size))
    if number % 5 == 3:  # every fifth trial of an optimizer is pruned early
        curve = _curve(task, _value(task, 0.7), 3)
        _report(trial, curve)
        reason = f"pruned at epoch 2: {curve[-1]:.4f} is worse than the median of earlier trials"
        trial.set_user_attr(record.PRUNE_REASON, reason)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    elif number % 6 == 5:  # diverged, stored as the engine stores it now (pruned) or did before (failed)
        _report(trial, _curve(task, final, 2))
        reason = f"diverged: training loss became nan at epoch 2 (lr={lr:g})"
        if number % 12 == 5:
            trial.set_user_attr(record.FAIL_REASON, reason)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            trial.set_user_attr(record.PRUNE_REASON, reason)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        curve = _curve(task, final, EPOCHS)
        _report(trial, curve)
        study.tell(trial, curve[-1])


def _confirm_best(study: optuna.Study, rng: random.Random, task: Task) -> None:
    best = study.best_trial
    trial = study.ask()
    for key in (record.OPTIMIZER, record.OPTIMIZER_KWARGS, record.LOOKAHEAD, record.BATCH_SIZE, record.ENV):
        trial.set_user_attr(key, best.user_attrs[key])
    trial.set_user_attr(record.SEED, rng.randrange(2**31))
    trial.set_user_attr(record.ROLE, record.ROLE_CONFIRM)
    trial.set_user_attr(record.CONFIRM_OF, best.number)
    # Worse than the trial it re-checks, so a leaderboard that counted it would show it.
    curve = _curve(task, best.value - 0.002 if task.maximize else best.value + 0.002, EPOCHS)
    _report(trial, curve)
    study.tell(trial, curve[-1])


def build_study(
    storage: str | optuna.storages.BaseStorage,
    name: str,
    *,
    task: Task = Task(MNIST),
    trials_per_optimizer: int = 6,
    seed: int = 0,
    running: bool = True,
    confirm: bool = True,
) -> optuna.Study:
    """A study shaped like autoopt's search output, written to ``storage``.

    Trials are asked and told in memory, then copied into ``storage`` in one pass: the
    same rows a search writes, without one SQL transaction per attribute (seconds).
    """
    rng = random.Random(seed)
    study = optuna.create_study(study_name=name, direction="maximize" if task.maximize else "minimize")
    study.set_user_attr(
        record.STUDY_INFO,
        {
            "version": "0.1.0",
            "metric": task.metric,
            "direction": "maximize" if task.maximize else "minimize",
            "model_file": f"examples/{name.split('-')[0]}.py",
            "epochs": EPOCHS,
            "optimizers": list(task.optima),
        },
    )
    for number in range(trials_per_optimizer):
        for optimizer in task.optima:
            _search_trial(study, rng, task, optimizer, number)
    if confirm and trials_per_optimizer:
        _confirm_best(study, rng, task)
    if running:
        trial, *_ = _configure(study, rng, task, next(iter(task.optima)))
        trial.report(_value(task, 0.61), 0)
    optuna.copy_study(from_study_name=name, from_storage=study._storage, to_storage=storage)
    return optuna.load_study(study_name=name, storage=storage)


def best_search_values(study: optuna.Study) -> dict[str, float]:
    """The oracle for the leaderboard: best COMPLETE search value of each optimizer."""
    pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    values: dict[str, list[float]] = {}
    for trial in study.get_trials(states=[optuna.trial.TrialState.COMPLETE]):
        if trial.user_attrs.get(record.ROLE) != record.ROLE_CONFIRM:
            values.setdefault(trial.user_attrs[record.OPTIMIZER], []).append(trial.value)
    return {name: pick(v) for name, v in values.items()}


@dataclass
class Populated:
    """A storage holding the studies the tests read, by role."""

    url: str
    mnist: optuna.Study
    cifar: optuna.Study
    hostile: optuna.Study  # a <script> study name and a <script> failure reason
    empty: optuna.Study  # created, no trial yet
    created: list[str] = field(default_factory=list)

    def study_id(self, study: optuna.Study) -> int:
        return study._study_id


def fill_storage(url: str) -> Populated:
    """The studies the dashboard tests read, written to the storage at ``url``."""
    tag = uuid.uuid4().hex[:6]  # PostgreSQL is shared between runs: names must not clash
    storage = optuna.storages.RDBStorage(url)  # creates the tables, as a search does; one pool for all writes
    mnist = build_study(storage, f"mnist-mlp-{tag}")
    cifar_task = Task(CIFAR, metric="val_loss", maximize=False)
    cifar = build_study(storage, f"cifar-resnet-{tag}", task=cifar_task, trials_per_optimizer=4, seed=1)
    hostile_task = Task({"adamw": MNIST["adamw"]})
    hostile = build_study(storage, HOSTILE_NAME + tag, task=hostile_task, trials_per_optimizer=2, running=False)
    failed = hostile.ask()
    failed.set_user_attr(record.OPTIMIZER, "adamw")
    failed.set_user_attr(record.FAIL_REASON, HOSTILE_REASON)
    hostile.tell(failed, state=optuna.trial.TrialState.FAIL)
    empty = optuna.create_study(study_name=f"empty-{tag}", storage=storage)
    studies = [mnist, cifar, hostile, empty]
    return Populated(url, mnist, cifar, hostile, empty, [s.study_name for s in studies])
