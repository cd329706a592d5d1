"""The search's side of fused groups: how large they may be for a spec, and asking the trials
that fill one (its family and batch size fixed, the rest sampled). The groups themselves
train in ``autoopt.training.fused``; the executors run them (``autoopt.executors.fused``)."""

from __future__ import annotations

import sys
from typing import Any

import optuna
import torch
from optuna.trial import TrialState, create_trial

from autoopt.training.data import Data
from autoopt.training.fused.check import fusion_blocker
from autoopt.training.fused.group import GroupKey
from autoopt.training.fused.payoff import members_that_pay
from autoopt.engine.space import SearchSpace, warm_start_batch_size, warm_start_order
from autoopt.engine.spec import StudySpec
from autoopt.storage import take_new_trial
from autoopt.training.task import Task

# --fuse auto: models up to this many parameters are "small" (a step is launch- or overhead-bound) ...
AUTO_MAX_PARAMETERS = 1_000_000
# ... and get groups of at most this size, where they are measured to pay (autoopt.training.fused.payoff).
AUTO_SIZE = {"cpu": 16, "cuda": 64}


def fused_size(spec: StudySpec, task: Task, data: Data | None, device: torch.device, epochs: int = 1) -> tuple[int, int]:
    """How many trials to train per group at most, and at least (fewer train one at a time).

    ``--fuse K``: up to K, from 2; 1 with a one-line notice saying why when the model cannot
    fuse. ``auto``, the default: for small models in the phased search, the sizes measured to
    pay on this machine for a screen of ``epochs`` a family (``autoopt.training.fused.payoff``,
    which does not measure a screen too short to gain); 1, quietly, where none pays, the model
    cannot fuse, or TPE runs alone (``warm_start`` off: it would fill a group with trials of
    one family sampled before any of them is back, which cost quality in our benchmarks).
    """
    if spec.fuse == 1 or (spec.fuse == "auto" and not spec.warm_start):
        return 1, 1  # auto fuses what the phases choose together; TPE alone would fill groups with guesses
    blocker = fusion_blocker(task, data, device)
    if blocker is not None:
        if spec.fuse == "auto":  # the default: nothing was asked that could not be done
            return 1, 1
        return _notice(f"--fuse {spec.fuse}: {task.path.name} cannot train fused ({blocker}); trials run one at a time"), 1
    if spec.fuse != "auto":
        return int(spec.fuse), 2
    torch.manual_seed(0)
    parameters = sum(p.numel() for p in task.build_model().parameters())
    # On Ray the groups train where the actors are: on a GPU exactly when each is given one.
    trains_on = ("cuda" if spec.gpus_per_trial > 0 else "cpu") if spec.backend == "ray" else device.type
    if parameters > AUTO_MAX_PARAMETERS or trains_on not in AUTO_SIZE:
        return 1, 1
    if trains_on != device.type:  # measured where the groups will train, or not at all
        return AUTO_SIZE[trains_on], 2
    screen = len(warm_start_order(spec.space)) * epochs  # what groups would train together: the screen's epochs
    payoff = members_that_pay(task, data, device, warm_start_batch_size(spec.space), AUTO_SIZE[trains_on], screen)
    return (payoff.size, payoff.least) if payoff else (1, 1)


def _notice(message: str) -> int:
    print(f"autoopt: {message}", file=sys.stderr)
    return 1


def member_params(key: GroupKey, space: SearchSpace) -> dict[str, Any]:
    """The params a member of ``key``'s group must have; the sampler draws the others."""
    params: dict[str, Any] = {"optimizer": key.optimizer, "batch_size": key.batch_size}
    if space.lookahead == "search":  # otherwise Lookahead is no parameter at all
        params["lookahead"] = key.lookahead
    return params


def ask_member(study: optuna.Study, params: dict[str, Any], user_attrs: dict[str, Any]) -> optuna.Trial:
    """A new trial with ``params`` fixed and the rest sampled, taken now.

    This is ``study.enqueue_trial(params)`` followed by ``study.ask()``, except that ``ask``
    would first hand out any trials queued before (warm starts, confirmations) and the
    group would get a member of another family.
    """
    template = create_trial(state=TrialState.WAITING, system_attrs={"fixed_params": params}, user_attrs=user_attrs)
    return take_new_trial(study, template)
