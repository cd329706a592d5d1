"""The search driver's view of the storage: its own trials served from memory.

Optuna's cached RDB storage re-reads every unfinished trial from the database each
time a sampler or pruner asks for the study's trials, which is dozens of times per
trial. For a small model that made storage reads most of a trial's wall time. The
driver is the only writer of the trials it created, so for those its memory is
authoritative: every write still goes to the database first (durability is
unchanged), then to the in-memory copy, and reads of those trials never touch the
database. Trials of other writers (another `autoopt search` on the same study) are
refreshed from the database at most every ``refresh_seconds``.

Every database call goes through ``autoopt.storage.reconnect.reconnecting``, so a search
outlives a database restart; the engine never sees those errors.
"""

from __future__ import annotations

import copy
import datetime
import json
import sqlite3
import time
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.storages._cached_storage import _CachedStorage, _StudyInfo
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.dialects import postgresql, sqlite

from autoopt.storage import record
from autoopt.storage.reconnect import reconnecting

# Multi-row INSERT ... ON CONFLICT DO UPDATE, by SQLAlchemy dialect; other databases write key by key.
_UPSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)  # Optuna's RDB stores naive UTC


class DriverStorage(_CachedStorage):
    def __init__(self, backend: optuna.storages.RDBStorage, *, refresh_seconds: float = 1.0,
                 owner: str | None = None) -> None:  # fmt: skip
        super().__init__(backend)
        # Written in the same transaction that makes a trial RUNNING, so no kill can leave a
        # RUNNING trial that names no owner (stale.py reclaims by owner at once).
        self.owner = owner
        self.refresh_seconds = refresh_seconds
        self._owned: dict[int, FrozenTrial] = {}
        self._pending_params: dict[int, list[tuple[str, float, BaseDistribution, BaseDistribution | None]]] = {}
        self._refreshed_at: dict[int, float] = {}

    # -- trials this process created ------------------------------------------------------

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None and self.owner:
            template_trial = FrozenTrial(
                number=0, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(),
                datetime_complete=None, params={}, distributions={}, user_attrs={record.OWNER: self.owner},
                system_attrs={}, intermediate_values={}, trial_id=0,
            )
        trial_id = reconnecting(super().create_new_trial, study_id, template_trial)
        if template_trial is not None and template_trial.state != TrialState.RUNNING:
            return trial_id  # a queued trial is anyone's until a driver takes it (then _adopt)
        with self._lock:
            study_id_, number = self._trial_id_to_study_id_and_number[trial_id]
            self._owned[trial_id] = self._studies[study_id_].trials[number]
        return trial_id

    def _local(self, trial_id: int) -> FrozenTrial | None:
        return self._owned.get(trial_id)

    def _edit(self, trial_id: int) -> FrozenTrial | None:
        """A fresh copy of our trial, put in place of the old one. Copy-on-write matters:
        samplers and pruners hold lists from ``get_all_trials(deepcopy=False)`` while they
        write (ASHA records a rung, then compares against the list it read before)."""
        old = self._owned.get(trial_id)
        if old is None:
            return None
        new = copy.copy(old)
        new._params, new._distributions = dict(old._params), dict(old._distributions)
        new._user_attrs, new._system_attrs = dict(old._user_attrs), dict(old._system_attrs)
        new.intermediate_values = dict(old.intermediate_values)
        self._owned[trial_id] = new
        study_id, number = self._trial_id_to_study_id_and_number[trial_id]
        self._studies[study_id].trials[number] = new
        return new

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:  # fmt: skip
        """Our trials' params wait for the trial's next write, which carries them in its
        transaction (a trial's params are followed at once by its record)."""
        with self._lock:
            trial = self._local(trial_id)
            if trial is not None and not trial.state.is_finished():
                self._hold_param(trial_id, param_name, param_value_internal, distribution)
                return
        # Another writer's trial, or a finished one (the database refuses it): written at once,
        # outside our lock, which _CachedStorage.set_trial_param takes itself (it is not reentrant).
        reconnecting(super().set_trial_param, trial_id, param_name, param_value_internal, distribution)

    def _hold_param(self, trial_id: int, param_name: str, param_value_internal: float,
                    distribution: BaseDistribution) -> None:  # fmt: skip
        """Set the param on our in-memory trial and queue it for the trial's next write; call under the lock."""
        trial = self._edit(trial_id)
        study = self._studies[self._trial_id_to_study_id_and_number[trial_id][0]]
        known = study.param_distribution.get(param_name)
        if known is not None:
            check_distribution_compatibility(known, distribution)
        else:
            study.param_distribution[param_name] = distribution
        trial._params[param_name] = distribution.to_external_repr(param_value_internal)
        trial._distributions[param_name] = distribution
        self._pending_params.setdefault(trial_id, []).append((param_name, param_value_internal, distribution, known))

    def _flush_params(self, session: Any, trial_id: int) -> None:
        """Add the pending params to ``session``; the caller drops them once it committed."""
        for name, value, distribution, known in self._pending_params.get(trial_id, []):
            self._backend._set_trial_param_without_commit(session, trial_id, name, value, distribution, known)

    def _flush(self, trial_id: int) -> None:
        if self._pending_params.get(trial_id):
            reconnecting(self._write_params, trial_id)

    def _write_params(self, trial_id: int) -> None:
        with _create_scoped_session(self._backend.scoped_session, True) as session:
            self._flush_params(session, trial_id)
        self._pending_params.pop(trial_id, None)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        self._flush(trial_id)
        if state == TrialState.RUNNING and trial_id not in self._owned:
            if not reconnecting(self._take_waiting, trial_id):
                return False  # another search took it first
            reconnecting(self._adopt, trial_id)
            return True
        changed = reconnecting(super().set_trial_state_values, trial_id, state, values)
        with self._lock:
            if changed and (trial := self._edit(trial_id)) is not None:
                if values is not None:
                    trial._values = list(values)
                now = datetime.datetime.now()
                if state == TrialState.RUNNING and trial.datetime_start is None:
                    trial.datetime_start = now
                if state.is_finished():
                    trial.datetime_complete = now
                trial.state = state
        return changed

    def _take_waiting(self, trial_id: int) -> bool:
        """WAITING -> RUNNING as one conditional UPDATE: of several searches popping the same
        queued trial exactly one gets it, on SQLite too (which ignores Optuna's FOR UPDATE)."""
        with _create_scoped_session(self._backend.scoped_session) as session:
            taken = (session.query(models.TrialModel)
                     .filter(models.TrialModel.trial_id == trial_id, models.TrialModel.state == TrialState.WAITING)
                     .update({models.TrialModel.state: TrialState.RUNNING,
                              models.TrialModel._datetime_start_utc: _utc_now()}, synchronize_session=False))  # fmt: skip
            if taken == 0:  # running already (False, as Optuna answers), finished or gone (raise, as Optuna does)
                trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
                self._backend.check_trial_is_updatable(trial_id, trial.state)
            if taken == 1 and self.owner:
                self._backend._set_trial_attr_without_commit(
                    session, models.TrialUserAttributeModel, trial_id, record.OWNER, self.owner
                )
        return taken == 1

    def _adopt(self, trial_id: int) -> None:
        trial = self._backend.get_trial(trial_id)
        with self._lock:
            study_id, _ = self._trial_id_to_study_id_and_number.get(trial_id, (None, None))
            if study_id is None:
                with _create_scoped_session(self._backend.scoped_session) as session:
                    study_id = models.TrialModel.find_or_raise_by_id(trial_id, session).study_id
            self._owned[trial_id] = trial
            self._studies.setdefault(study_id, _StudyInfo())  # a study this driver had not read yet
            super()._add_trials_to_cache(study_id, [trial])

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self._flush(trial_id)
        reconnecting(super().set_trial_intermediate_value, trial_id, step, intermediate_value)
        with self._lock:
            if (trial := self._edit(trial_id)) is not None:
                trial.intermediate_values[step] = intermediate_value

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.set_trial_user_attrs(trial_id, {key: value})

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._flush(trial_id)
        reconnecting(super().set_trial_system_attr, trial_id, key, value)
        with self._lock:
            if (trial := self._edit(trial_id)) is not None:
                trial._system_attrs[key] = value

    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any], *, first_heartbeat: bool = False) -> None:
        """Several user attributes (and optionally the first heartbeat) in one transaction."""
        reconnecting(self._write_user_attrs, trial_id, attrs, first_heartbeat)
        with self._lock:
            if (trial := self._edit(trial_id)) is not None:
                trial._user_attrs.update(copy.deepcopy(attrs))

    def _write_user_attrs(self, trial_id: int, attrs: dict[str, Any], first_heartbeat: bool) -> None:
        backend = self._backend
        with _create_scoped_session(backend.scoped_session, True) as session:
            self._flush_params(session, trial_id)
            self._upsert_user_attrs(session, trial_id, attrs)
            if first_heartbeat and backend.heartbeat_interval:
                session.add(models.TrialHeartbeatModel(trial_id=trial_id))
        self._pending_params.pop(trial_id, None)

    def _upsert_user_attrs(self, session: Any, trial_id: int, attrs: dict[str, Any]) -> None:
        """``attrs`` as one multi-row upsert after one check that the trial may change: Optuna
        writes each key with its own trial lookup and upsert, two statements a key, and a trial's
        end writes a dozen keys (17% of a small search's time went to these writes)."""
        backend = self._backend
        insert = _UPSERTS.get(backend.engine.name)
        if insert is None or (backend.engine.name == "sqlite" and sqlite3.sqlite_version_info < (3, 24, 0)):
            for key, value in attrs.items():
                backend._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, key, value)
            return
        if not attrs:
            return
        trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
        backend.check_trial_is_updatable(trial_id, trial.state)
        table = models.TrialUserAttributeModel
        statement = insert(table).values([{"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                                          for key, value in attrs.items()])  # fmt: skip
        session.execute(statement.on_conflict_do_update(index_elements=[table.trial_id, table.key],
                                                        set_={"value_json": statement.excluded.value_json}))  # fmt: skip

    def record_heartbeat(self, trial_id: int) -> None:
        reconnecting(super().record_heartbeat, trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return reconnecting(super()._get_stale_trial_ids, study_id)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        directions = self.get_study_directions(study_id)
        if len(directions) > 1:  # Optuna's own words, so callers can tell the cases apart as with Optuna
            raise RuntimeError("Best trial can be obtained only for single-objective optimization.")
        # The best trial may be another writer's, finished since our last refresh: read it fresh.
        trial_id = reconnecting(self._backend._get_best_trial_id, study_id, directions[0])
        with self._lock:
            if (trial := self._local(trial_id)) is not None and trial.state.is_finished():
                return copy.deepcopy(trial)
        return reconnecting(self._backend.get_trial, trial_id)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            if (trial := self._local(trial_id)) is not None:
                return copy.deepcopy(trial)
        return reconnecting(super().get_trial, trial_id)

    def delete_study(self, study_id: int) -> None:
        with self._lock:
            doomed = [t for t, (study, _) in self._trial_id_to_study_id_and_number.items() if study == study_id]
        reconnecting(super().delete_study, study_id)
        with self._lock:  # else get_trial would still serve the deleted study's trials from memory
            for trial_id in doomed:
                self._owned.pop(trial_id, None)
                self._pending_params.pop(trial_id, None)
            self._refreshed_at.pop(study_id, None)

    # -- everyone else's trials: refreshed, at most every refresh_seconds -------------------

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:  # fmt: skip
        if time.monotonic() - self._refreshed_at.get(study_id, -1e9) >= self.refresh_seconds or study_id not in self._studies:
            self.refresh(study_id)
        with self._lock:
            trials = self._studies[study_id].trials.values()
            if states is not None:
                trials = [t for t in trials if t.state in states]
            ordered = sorted(trials, key=lambda t: t.number)
            return copy.deepcopy(ordered) if deepcopy else ordered

    def refresh(self, study_id: int) -> None:
        """Read the other writers' new and changed trials now."""
        reconnecting(self._read_trials_from_remote_storage, study_id)
        self._refreshed_at[study_id] = time.monotonic()

    def _add_trials_to_cache(self, study_id: int, trials: list[FrozenTrial]) -> None:
        # The database's copy of a trial we own may lag our memory by nothing but our
        # own writes, which were committed first: keep ours.
        super()._add_trials_to_cache(study_id, [t for t in trials if t._trial_id not in self._owned])
        study = self._studies[study_id]
        for trial in trials:
            if trial._trial_id in self._owned:
                study.trials[trial.number] = self._owned[trial._trial_id]
