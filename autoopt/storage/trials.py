"""A trial's identity and writes that Optuna's public API has no call for.

Optuna's ``Trial`` and ``FrozenTrial`` keep their storage id private, and ``Study`` keeps
its storage private; the search needs both, so they are read here and nowhere else.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoopt.storage.driver_cache import DriverStorage
from autoopt.storage.heartbeats import keeps_heartbeats


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of ``trial`` (unique across studies, unlike ``trial.number``)."""
    return trial._trial_id


def stored_trial(study: optuna.Study, trial: optuna.Trial | FrozenTrial) -> FrozenTrial:
    """``trial`` as the storage holds it now."""
    return study._storage.get_trial(trial._trial_id)


def read_others_now(study: optuna.Study) -> None:
    """Read other searches' new and finished trials now, not at the driver's next refresh."""
    storage = study._storage
    if isinstance(storage, DriverStorage):
        storage.refresh(study._study_id)


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, object], *, first_heartbeat: bool = False) -> None:
    """Write several user attributes of a running trial at once (one transaction when the
    storage can: see ``DriverStorage.set_trial_user_attrs``)."""
    storage = trial.storage
    if isinstance(storage, DriverStorage):
        storage.set_trial_user_attrs(trial._trial_id, attrs, first_heartbeat=first_heartbeat)
        trial._cached_frozen_trial.user_attrs.update(attrs)
        return
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if first_heartbeat and keeps_heartbeats(storage):
        storage.record_heartbeat(trial._trial_id)


def take_new_trial(study: optuna.Study, template: FrozenTrial) -> optuna.Trial:
    """A new trial made from the WAITING ``template`` and taken (RUNNING) by this search now.

    Between its creation and taking it, another search's ``ask()`` may pop it as a queued
    trial: that search runs it (with the template's params), and this one makes another.
    """
    while True:
        new_id = study._storage.create_new_trial(study._study_id, template_trial=template)
        if study._storage.set_trial_state_values(new_id, state=TrialState.RUNNING):
            break
    study._thread_local.cached_all_trials = None  # as ask() does: the sampler sees the newest trials
    return optuna.Trial(study, new_id)
