"""The Optuna study a search runs: its sampler and pruner, opening (or joining) it, what it has counted.

Several searches may open the same study at once (``autoopt search`` on many machines):
exactly one creates it, the others load it, and each reads the study's counts afresh.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from autoopt._version import __version__
from autoopt.errors import UserError
from autoopt.engine.pruning import make_pruner
from autoopt.engine.spec import StudySpec
from autoopt.storage import record
from autoopt.training.task import Task


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    # group=True splits the conditional space per optimizer branch, so each branch gets a
    # joint (multivariate) model of its own hyperparameters; constant_liar keeps parallel
    # workers from sampling the same point.
    return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, group=True, constant_liar=True)


def open_study(spec: StudySpec, task: Task, epochs: int, storage: optuna.storages.BaseStorage) -> tuple[optuna.Study, bool]:
    """The study ``spec`` names in ``storage``, created when it is new (the bool says so), its info attr written."""
    existing = {s.study_name: s for s in storage.get_all_studies()}
    old = existing.get(spec.study_name)
    if old is not None and old.direction.name.lower() != task.direction:
        raise UserError(
            f"study {spec.study_name!r} in --storage already exists and {old.direction.name.lower()}s, but "
            f"{task.path.name} asks to {task.direction}; pick another --study name."
        )
    sampler, pruner = make_sampler(spec), make_pruner(spec.pruner, epochs)
    try:  # of several searches starting the same study at once, exactly one creates it
        study = optuna.create_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=task.direction)  # fmt: skip
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.study_name, storage=storage, sampler=sampler, pruner=pruner)
        created = False
    info = {"version": __version__, "metric": task.metric_name, "direction": task.direction,
            "model_file": str(task.path), "epochs": epochs, "optimizers": list(spec.space.optimizers)}  # fmt: skip
    study.set_user_attr(record.STUDY_INFO, info)
    return study, created


def counted_trials(study: optuna.Study) -> int:
    """Finished (complete or pruned) search trials: what ``--trials`` counts."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sum(t.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_SEARCH for t in trials)


def epochs_spent(study: optuna.Study) -> float:
    """Epochs the whole study has trained (the range test included): what --budget counts."""
    trials = study.get_trials(deepcopy=False)
    test = study.user_attrs.get(record.LR_RANGE_TEST) or {}
    return float(test.get("epochs", 0.0)) + sum(t.user_attrs.get(record.EPOCHS_RUN, 0) for t in trials)


def stored_scale(study: optuna.Study) -> float:
    """The warm-start factor of the range test a new study ran (a resumed study screens at the same scale)."""
    return float((study.user_attrs.get(record.LR_RANGE_TEST) or {}).get("factor", 1.0))
