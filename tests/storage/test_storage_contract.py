"""The storage contract: what the search driver's ``DriverStorage`` does, Optuna's plain RDBStorage does.

In the spirit of Optuna's ``StorageTestCase``: each test performs the same operations on a
plain ``optuna.storages.RDBStorage`` and on a ``DriverStorage`` (opened as the engine opens
it: heartbeats on, an owner tag) over the same database, and asserts that the two agree on
what they return, what they raise, and what a reader of the database finds. ``DriverStorage``
subclasses Optuna's private ``_CachedStorage`` and writes through its private session
helpers, so this suite is what tells whether a new Optuna still fits it.

Two differences are by design. The driver adds an ``owner`` user attribute to the trials it
runs (``autoopt.storage.stale`` reclaims trials by owner); views of a trial here leave it out, and
``test_the_driver_adds_only_its_owner_to_what_it_writes`` pins it down. And the params of
a running trial of the driver's reach the database with that trial's next write, so a
reader compares after such a write (every trial here ends in one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.storage import DriverStorage, open_storage, record

OWNER = "contract-test:1"
X = FloatDistribution(0.0, 1.0)
OPTIMIZER = CategoricalDistribution(["adam", "sgd", "lion"])
BATCH_SIZE = IntDistribution(16, 256, log=True)
OUTCOMES = [(TrialState.COMPLETE, [0.3]), (TrialState.PRUNED, None), (TrialState.FAIL, None), (TrialState.COMPLETE, [0.1])]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@pytest.fixture
def open_storages(storage_url: str) -> Iterator[Callable[..., BaseStorage]]:
    """Opens ``"plain"`` or ``"driver"`` storages on ``storage_url``; closes their connections after."""
    opened: list[RDBStorage] = []

    def open_(kind: str, **driver_options: Any) -> BaseStorage:
        backend = open_storage(storage_url, heartbeat=True)
        opened.append(backend)
        if kind == "plain":
            return backend
        return DriverStorage(backend, owner=OWNER, **driver_options)

    yield open_
    for backend in opened:
        backend.engine.dispose()


@pytest.fixture
def both(open_storages: Callable[..., BaseStorage]) -> dict[str, BaseStorage]:
    return {"plain": open_storages("plain"), "driver": open_storages("driver")}


def _view(trial: FrozenTrial) -> tuple:
    """Everything of a trial but its ids, its timestamps' values and the driver's owner tag."""
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k != record.OWNER}
    return (trial.number, trial.state, trial.values, trial.params, trial.distributions, trial.intermediate_values,
            user_attrs, trial.system_attrs, trial.datetime_start is None, trial.datetime_complete is None)  # fmt: skip


def _snapshot(storage: BaseStorage, study_id: int) -> dict[str, Any]:
    """What a reader of the study sees, through every read the samplers, pruners and CLI use."""
    trials = storage.get_all_trials(study_id)
    ids = [storage.get_trial_id_from_study_id_trial_number(study_id, t.number) for t in trials]
    return {
        "directions": storage.get_study_directions(study_id),
        "user_attrs": storage.get_study_user_attrs(study_id),
        "system_attrs": storage.get_study_system_attrs(study_id),
        "trials": [_view(t) for t in trials],
        "each trial": [_view(storage.get_trial(trial_id)) for trial_id in ids],
        "by state": {s.name: [t.number for t in storage.get_all_trials(study_id, states=(s,))] for s in TrialState},
        "finished": [t.number for t in storage.get_all_trials(study_id, deepcopy=False, states=FINISHED)],
        "counts": [storage.get_n_trials(study_id), storage.get_n_trials(study_id, TrialState.COMPLETE)],
        "best": _view(storage.get_best_trial(study_id)),
    }


def _waiting(params: dict[str, Any]) -> FrozenTrial:
    """A queued trial as ``Study.enqueue_trial`` creates it."""
    return optuna.trial.create_trial(state=TrialState.WAITING, system_attrs={"fixed_params": params})


def _search(storage: BaseStorage, name: str) -> tuple[int, list[Any]]:
    """A small search's storage calls, in the engine's order; returns the study id and what each call returned."""
    returned: list[Any] = []
    study_id = storage.create_new_study([StudyDirection.MINIMIZE], name)
    returned += [storage.get_study_id_from_name(name) == study_id, storage.get_study_name_from_id(study_id) == name]
    storage.set_study_user_attr(study_id, "spec", {"epochs": 3, "optimizers": ["adam", "sgd"]})
    storage.set_study_system_attr(study_id, "autoopt:schema", 1)
    for number, (state, values) in enumerate(OUTCOMES):
        trial_id = storage.create_new_trial(study_id)
        returned.append(storage.get_trial_number_from_id(trial_id) == number)
        storage.set_trial_param(trial_id, "optimizer", OPTIMIZER.to_internal_repr(["adam", "sgd"][number % 2]), OPTIMIZER)
        storage.set_trial_param(trial_id, "x", 0.25 * number, X)
        storage.set_trial_param(trial_id, "batch_size", 32.0, BATCH_SIZE)
        for step in range(number + 1):
            storage.set_trial_intermediate_value(trial_id, step, 1.0 / (step + 1) + number)
        storage.set_trial_user_attr(trial_id, "optimizer_kwargs", {"lr": 1e-3 * (number + 1), "betas": [0.9, 0.999]})
        storage.set_trial_system_attr(trial_id, "phase", "search")
        returned.append(_view(storage.get_trial(trial_id)))  # running, as its writer sees it
        returned.append(storage.get_trial_params(trial_id))
        returned.append(storage.set_trial_state_values(trial_id, TrialState.RUNNING))  # running already: False
        returned.append(storage.set_trial_state_values(trial_id, state, values))
    queued = [storage.create_new_trial(study_id, _waiting({"x": x, "optimizer": "lion"})) for x in (0.5, 0.75)]
    returned.append([t.number for t in storage.get_all_trials(study_id, states=(TrialState.WAITING,))])
    returned.append(storage.set_trial_state_values(queued[0], TrialState.RUNNING))  # popped, as Study.ask pops
    returned.append(storage.set_trial_state_values(queued[0], TrialState.RUNNING))  # a second pop finds it taken
    storage.set_trial_param(queued[0], "x", 0.5, X)
    storage.set_trial_param(queued[0], "optimizer", OPTIMIZER.to_internal_repr("lion"), OPTIMIZER)
    storage.set_trial_intermediate_value(queued[0], 0, 0.07)
    returned.append(storage.set_trial_state_values(queued[0], TrialState.COMPLETE, [0.05]))
    return study_id, returned


def test_the_same_search_returns_and_stores_the_same_on_both(both: dict[str, BaseStorage], study_name: str) -> None:
    results = {kind: _search(storage, f"{study_name}-{kind}") for kind, storage in both.items()}
    (plain_id, plain_returned), (driver_id, driver_returned) = results["plain"], results["driver"]
    assert driver_returned == plain_returned
    assert _snapshot(both["driver"], driver_id) == _snapshot(both["plain"], plain_id)


def test_a_plain_reader_of_the_database_sees_what_the_driver_wrote(open_storages, study_name: str) -> None:
    driver = open_storages("driver")
    study_id, _ = _search(driver, study_name)
    reader = open_storages("plain")
    assert _snapshot(reader, study_id) == _snapshot(driver, study_id)
    assert [s.study_name for s in reader.get_all_studies()] == [s.study_name for s in driver.get_all_studies()]


def test_the_driver_reads_what_another_writer_wrote_once_it_refreshes(open_storages, study_name: str) -> None:
    driver, writer = open_storages("driver", refresh_seconds=0.0), open_storages("plain")
    study_id = driver.create_new_study([StudyDirection.MINIMIZE], study_name)
    driver.get_all_trials(study_id)  # the driver has read the study before the other writer starts
    writer.create_new_trial(study_id)
    trial_id = writer.create_new_trial(study_id)
    writer.set_trial_param(trial_id, "x", 0.5, X)
    writer.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.2])
    assert _snapshot(driver, study_id) == _snapshot(writer, study_id)


def _finished_trial(storage: BaseStorage, study_name: str) -> int:
    study_id = storage.create_new_study([StudyDirection.MINIMIZE], study_name)
    trial_id = storage.create_new_trial(study_id)
    storage.set_trial_param(trial_id, "x", 0.5, X)
    storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.2])
    return trial_id


WRITES_TO_A_FINISHED_TRIAL = {
    "param": lambda s, t: s.set_trial_param(t, "y", 0.1, X),
    "intermediate value": lambda s, t: s.set_trial_intermediate_value(t, 0, 0.1),
    "user attr": lambda s, t: s.set_trial_user_attr(t, "note", "late"),
    "system attr": lambda s, t: s.set_trial_system_attr(t, "note", "late"),
    "state": lambda s, t: s.set_trial_state_values(t, TrialState.FAIL),
    "running again": lambda s, t: s.set_trial_state_values(t, TrialState.RUNNING),
}


@pytest.mark.parametrize("write", list(WRITES_TO_A_FINISHED_TRIAL))
def test_writes_to_a_finished_trial_fail_alike(both: dict[str, BaseStorage], study_name: str, write: str) -> None:
    for kind, storage in both.items():
        trial_id = _finished_trial(storage, f"{study_name}-{kind}")
        with pytest.raises(UpdateFinishedTrialError):
            WRITES_TO_A_FINISHED_TRIAL[write](storage, trial_id)


def test_a_trial_another_writer_finished_cannot_be_run_again_through_the_driver(open_storages, study_name) -> None:
    trial_id = _finished_trial(open_storages("plain"), study_name)
    with pytest.raises(UpdateFinishedTrialError):
        open_storages("driver").set_trial_state_values(trial_id, TrialState.RUNNING)


def test_a_queued_trial_is_popped_by_exactly_one_of_two_storages(open_storages, study_name: str) -> None:
    plain, driver = open_storages("plain"), open_storages("driver")
    study_id = plain.create_new_study([StudyDirection.MINIMIZE], study_name)
    trial_id = plain.create_new_trial(study_id, _waiting({"x": 0.5}))
    popped = [driver.set_trial_state_values(trial_id, TrialState.RUNNING),
              plain.set_trial_state_values(trial_id, TrialState.RUNNING)]  # fmt: skip
    assert popped == [True, False]
    assert plain.get_trial(trial_id).user_attrs == {record.OWNER: OWNER}


def _error_of(call: Callable[[], Any]) -> tuple[type, str]:
    with pytest.raises(Exception) as raised:
        call()
    return type(raised.value), str(raised.value)


def test_without_a_completed_trial_there_is_no_best_trial_alike(both: dict[str, BaseStorage], study_name: str) -> None:
    errors = {}
    for kind, storage in both.items():
        study_id = storage.create_new_study([StudyDirection.MAXIMIZE], f"{study_name}-{kind}")
        storage.set_trial_state_values(storage.create_new_trial(study_id), TrialState.FAIL)
        errors[kind] = _error_of(lambda: storage.get_best_trial(study_id))
    assert errors["driver"] == errors["plain"] and issubclass(errors["plain"][0], ValueError)


def test_a_study_of_two_objectives_has_no_single_best_trial_alike(both: dict[str, BaseStorage], study_name: str) -> None:
    errors = {}
    for kind, storage in both.items():
        directions = [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
        study_id = storage.create_new_study(directions, f"{study_name}-{kind}")
        storage.set_trial_state_values(storage.create_new_trial(study_id), TrialState.COMPLETE, [1.0, 2.0])
        assert storage.get_study_directions(study_id) == directions
        errors[kind] = _error_of(lambda: storage.get_best_trial(study_id))
    assert errors["driver"] == errors["plain"] and errors["plain"][0] is RuntimeError


def test_the_best_trial_follows_the_direction_alike(both: dict[str, BaseStorage], study_name: str) -> None:
    for kind, storage in both.items():
        study_id = storage.create_new_study([StudyDirection.MAXIMIZE], f"{study_name}-{kind}")
        for value in (0.2, 0.9, 0.5):
            storage.set_trial_state_values(storage.create_new_trial(study_id), TrialState.COMPLETE, [value])
        assert storage.get_best_trial(study_id).number == 1


def test_a_deleted_study_and_its_trials_are_gone_alike(both: dict[str, BaseStorage], study_name: str) -> None:
    for kind, storage in both.items():
        name = f"{study_name}-{kind}"
        kept = storage.create_new_study([StudyDirection.MINIMIZE], f"{name}-kept")
        study_id = storage.create_new_study([StudyDirection.MINIMIZE], name)
        running, finished = storage.create_new_trial(study_id), _finished_trial_in(storage, study_id)
        storage.delete_study(study_id)
        assert name not in [s.study_name for s in storage.get_all_studies()]
        assert storage.get_study_id_from_name(f"{name}-kept") == kept
        with pytest.raises(KeyError):
            storage.get_study_id_from_name(name)
        for trial_id in (running, finished):
            with pytest.raises(KeyError):
                storage.get_trial(trial_id)


def _finished_trial_in(storage: BaseStorage, study_id: int) -> int:
    trial_id = storage.create_new_trial(study_id)
    storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.2])
    return trial_id


def test_a_second_study_of_the_same_name_is_refused_alike(both: dict[str, BaseStorage], study_name: str) -> None:
    for kind, storage in both.items():
        storage.create_new_study([StudyDirection.MINIMIZE], f"{study_name}-{kind}")
        with pytest.raises(optuna.exceptions.DuplicatedStudyError):
            storage.create_new_study([StudyDirection.MINIMIZE], f"{study_name}-{kind}")


def test_the_driver_adds_only_its_owner_to_what_it_writes(open_storages, study_name: str) -> None:
    driver = open_storages("driver")
    study_id = driver.create_new_study([StudyDirection.MINIMIZE], study_name)
    trial_id = driver.create_new_trial(study_id)
    driver.set_trial_user_attr(trial_id, "note", "mine")
    driver.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.2])
    assert open_storages("plain").get_trial(trial_id).user_attrs == {record.OWNER: OWNER, "note": "mine"}


def test_many_user_attributes_written_at_once_add_and_replace_as_one_by_one(open_storages, study_name: str) -> None:
    # The driver writes a trial's attributes as one multi-row upsert; a plain storage, key by key.
    plain, driver = open_storages("plain"), open_storages("driver")
    written: dict[str, dict[str, Any]] = {}
    for kind, storage in (("plain", plain), ("driver", driver)):
        study_id = storage.create_new_study([StudyDirection.MINIMIZE], f"{study_name}-{kind}")
        trial_id = storage.create_new_trial(study_id)
        first = {"curve": [0.5, 0.4], "note": "first", "kwargs": {"lr": 1e-3, "betas": [0.9, 0.999]}}
        second = {"note": "second", "curve": [0.5, 0.4, 0.3], "empty": None}
        if kind == "driver":
            driver.set_trial_user_attrs(trial_id, first)
            driver.set_trial_user_attrs(trial_id, {})
            driver.set_trial_user_attrs(trial_id, second)
        else:
            for key, value in [*first.items(), *second.items()]:
                plain.set_trial_user_attr(trial_id, key, value)
        storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [0.3])
        attrs = open_storages("plain").get_trial(trial_id).user_attrs
        written[kind] = {k: v for k, v in attrs.items() if k != record.OWNER}
        with pytest.raises(UpdateFinishedTrialError):
            (driver.set_trial_user_attrs(trial_id, {"late": 1}) if kind == "driver"
             else plain.set_trial_user_attr(trial_id, "late", 1))  # fmt: skip
    assert written["driver"] == written["plain"] == {"curve": [0.5, 0.4, 0.3], "note": "second", "empty": None,
                                                      "kwargs": {"lr": 1e-3, "betas": [0.9, 0.999]}}  # fmt: skip
