"""The search: an Optuna study driven by ask/tell, trials run by an executor.

``search`` opens the study (``autoopt.engine.study``), takes back trials a dead search left
RUNNING, calibrates the warm starts (``autoopt.engine.calibrate``), builds the executor
(``autoopt.executors.build``) and runs the phases (``autoopt.engine.phase_runs``) over the
ask/tell loop (``autoopt.engine.trial_loop``); what follows a failure is
``autoopt.engine.failure_policy``'s. Running the same search again resumes the study: finished
trials count toward ``--trials``, trials left RUNNING by a killed driver are marked
failed.

Several drivers may run the same study at once (``autoopt search`` on many machines):
each counts the study's finished search trials, freshly read, before it starts a trial,
so the study stops at ``--trials`` finished trials plus at most ``drivers x jobs - 1``
trials that were already running when the last slot was taken.
"""

from __future__ import annotations

import random
import warnings

import optuna
import torch

from autoopt.engine.calibrate import lr_range_test
from autoopt.training.data import Data
from autoopt.executors.build import make_executor
from autoopt.engine.failure_policy import DIVERGED_CONSTRAINT, MAX_CONSECUTIVE_FAILURES, OOM_CONSTRAINT
from autoopt.engine.fusion import fused_size
from autoopt.optimizers import registry
from autoopt.engine.phase_runs import SearchPhases
from autoopt.training.preflight import preflight
from autoopt.engine.search_progress import Progress, SilentProgress
from autoopt.training.runner import pick_device
from autoopt.engine.search_result import SearchResult
from autoopt.engine.space import default_params, suggest_config, warm_start_order
from autoopt.engine.spec import DEFAULT_EPOCHS, StudySpec
from autoopt.storage import DriverStorage, fail_stale_trials, open_storage, owner_tag, record
from autoopt.engine.study import counted_trials, open_study, stored_scale
from autoopt.training.task import Task, load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)

_Search = SearchPhases  # the name the fault tests drive the loop by


def _calibrate(spec: StudySpec, task: Task, data: Data | None, device: torch.device, study: optuna.Study,
               progress: Progress, result: SearchResult) -> float:  # fmt: skip
    """Run the learning-rate range test (``autoopt.engine.calibrate``); the factor for the warm starts."""
    if data is None:  # a bring-your-own loop trains itself: there is no loop to test with
        progress.note(f"no learning-rate range test: {task.path.name} trains itself with `train(trial)`, "
                      "so the screen starts at the published learning rates")  # fmt: skip
        return 1.0
    first = warm_start_order(spec.space)[0]
    params = default_params(spec.space, first)
    config = suggest_config(optuna.trial.FixedTrial(params), spec.space)
    default_lr = registry.get(first).defaults.get("lr")
    if default_lr is None:
        return 1.0
    seed = spec.seed if spec.seed is not None else random.randrange(2**31)
    # Swept around the published default even where the study fixes this optimizer's rate:
    # the factor is relative to the published defaults, which the other warm starts use.
    kwargs = {**config.optimizer_kwargs, "lr": default_lr}
    test = lr_range_test(task, data, device, first, kwargs, config.batch_size, seed)
    study.set_user_attr(record.LR_RANGE_TEST, test.to_json())
    result.epochs_trained += test.epochs
    progress.calibrated(test)
    return test.factor


def search(spec: StudySpec, *, progress: Progress | None = None) -> SearchResult:
    """Run (or resume) the search ``spec`` describes; return what happened."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # multivariate TPE
        # We drive ask/tell ourselves and write the heartbeats (see TrialLoop.keep_alive), which Optuna warns about.
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return _search(spec, progress or SilentProgress())


def _search(spec: StudySpec, progress: Progress) -> SearchResult:
    task = load_task(spec.model_file)
    epochs = spec.epochs or task.epochs or DEFAULT_EPOCHS
    storage = DriverStorage(open_storage(spec.storage, heartbeat=True), owner=owner_tag())
    device = pick_device()
    data = preflight(task, device)
    study, is_new = open_study(spec, task, epochs, storage)
    reclaimed = fail_stale_trials(study, retries=spec.retries)
    result = SearchResult(spec.study_name, spec.storage)
    progress.begin(spec, epochs, counted_trials(study), reclaimed)
    scale = 1.0
    if spec.warm_start and spec.calibrate:
        scale = stored_scale(study) if not is_new else _calibrate(spec, task, data, device, study, progress, result)
    fuse, least = fused_size(spec, task, data, device, epochs)
    with make_executor(spec, task, data, device, fuse=fuse, least=least) as executor:
        loop = SearchPhases(study, spec, executor, progress, epochs, result)
        try:
            if spec.warm_start:
                loop.run_screen_phase(scale)
            loop.run_search_phase()
            if spec.confirm_top and spec.confirm_seeds >= 2 and not result.timed_out:
                loop.run_confirm_phase()
            loop.plan(store=True)
        except BaseException:
            loop.drain()
            raise
    progress.end(result)
    return result


__all__ = ["DIVERGED_CONSTRAINT", "MAX_CONSECUTIVE_FAILURES", "OOM_CONSTRAINT", "SearchResult", "search"]
