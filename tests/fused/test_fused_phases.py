"""Fused groups inside the phased search: the screen and the confirmations train together, the
search steps one trial at a time, and every fused trial is the trial it would have been alone."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from fused_support import job, make_data, make_task
from test_fused_search import _model_file

import autoopt
from autoopt.executors.base import Finished, Report
from autoopt.executors.fused import FusedExecutor
from autoopt.training.fused.payoff import Payoff, choose, members_that_pay
from autoopt.training.runner import COMPLETE
from autoopt.storage import record

SPACE = {"optimizers": ["adam", "sgd", "rmsprop", "lion"], "batch_size": [16, 32]}


@pytest.mark.parametrize(("one", "per_member", "expected"), [
    (1.0, {2: 1.4, 4: 0.7, 8: 0.5, 16: 0.9}, Payoff(least=4, size=8)),  # cheapest at 8, pays from 4
    (1.0, {2: 0.7, 4: 0.5, 8: 0.45, 16: 0.45}, Payoff(least=2, size=8)),  # a tie goes to the smaller group
    (1.0, {2: 1.1, 4: 0.85, 8: 0.81}, None),  # never GAIN (1.25x) faster than alone
    (1.0, {2: 0.9, 4: 0.6, 8: 3.0}, Payoff(least=4, size=4)),  # wide layers out of cache: larger is worse
])  # fmt: skip
def test_groups_pay_from_the_least_size_that_beats_alone_and_are_as_large_as_is_cheapest(one, per_member, expected) -> None:
    assert choose(one, per_member) == expected


def test_the_measured_payoff_stays_within_the_sizes_asked_for() -> None:
    payoff = members_that_pay(make_task(), make_data(), torch.device("cpu"), 16, most=8, epochs_together=10**9)
    assert payoff is None or 2 <= payoff.least <= payoff.size <= 8


def test_work_too_short_to_repay_the_measuring_is_not_fused() -> None:
    task = make_task(lambda: torch.nn.Linear(6, 3))
    assert members_that_pay(task, make_data(), torch.device("cpu"), 16, most=8, epochs_together=1) is None


def _run(executor: FusedExecutor, jobs: list) -> list[Finished]:
    for trial in jobs:
        executor.submit(trial)
    finished: list[Finished] = []
    while len(finished) < len(jobs):
        for event in executor.poll(0.5):
            if isinstance(event, Report):
                executor.answer(event.number, False)
            else:
                finished.append(event)
    return finished


@pytest.mark.parametrize("count", [2, 3])
def test_without_refills_a_group_too_small_to_pay_trains_its_members_one_at_a_time(count: int) -> None:
    with FusedExecutor(make_task(), make_data(), torch.device("cpu"), size=8, least=3, refill=False) as executor:
        jobs = [job(n, name, {"lr": 1e-3}, epochs=1) for n, name in enumerate(["adam", "sgd", "lion"][:count])]
        assert all(f.outcome.state == COMPLETE for f in _run(executor, jobs))
        groups = {executor.member_attrs(n).get("fused_group") for n in range(count)}
    assert groups == ({None} if count < 3 else {0})  # three families, one group from three members


def _phased(tmp_path: Path, fuse, name: str) -> optuna.Study:
    url = f"sqlite:///{tmp_path}/{name}.db"
    spec = autoopt.build_spec(_model_file(tmp_path), overrides={"storage": url, "seed": 3, "fuse": fuse, "budget": 20,
                                                                "confirm_top": 3}, space_table=SPACE)  # fmt: skip
    autoopt.search(spec)
    return optuna.load_study(study_name=spec.study_name, storage=url)


def test_a_fused_phased_search_screens_together_and_stores_the_trials_an_unfused_one_does(tmp_path: Path) -> None:
    fused, plain = _phased(tmp_path, 4, "fused"), _phased(tmp_path, 1, "plain")

    def by_phase(study: optuna.Study, phase: str) -> list[optuna.trial.FrozenTrial]:
        return [t for t in study.trials if t.user_attrs.get(record.PHASE) == phase]

    screens = by_phase(fused, record.PHASE_SCREEN)
    assert len({t.user_attrs[record.OPTIMIZER] for t in screens}) == 4
    assert len({t.user_attrs.get("fused_group") for t in screens}) == 1 and None not in {t.user_attrs.get("fused_group") for t in screens}
    # The search steps from each result: its trials train alone, as without fusion.
    assert by_phase(fused, record.PHASE_SEARCH) and all("fused_group" not in t.user_attrs for t in by_phase(fused, record.PHASE_SEARCH))
    # Same weights, same batch order: each family's screen reaches the value it reaches alone.
    plain_screens = {t.user_attrs[record.OPTIMIZER]: t for t in by_phase(plain, record.PHASE_SCREEN)}
    for trial in screens:
        alone = plain_screens[trial.user_attrs[record.OPTIMIZER]]
        assert trial.user_attrs[record.SEED] == alone.user_attrs[record.SEED]
        assert trial.params == alone.params
        torch.testing.assert_close(trial.user_attrs[record.CURVE], alone.user_attrs[record.CURVE], rtol=1e-4, atol=1e-6)
    # Every trial records what an unfused one records (and, fused, its group).
    def kinds(study: optuna.Study) -> dict[str, set[frozenset[str]]]:
        out: dict[str, set[frozenset[str]]] = {}
        for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
            out.setdefault(t.user_attrs[record.PHASE], set()).add(frozenset(k for k in t.user_attrs if not k.startswith("fused_")))
        return out

    assert kinds(fused) == kinds(plain)
    phases = {record.PHASE_SCREEN, record.PHASE_SEARCH, record.PHASE_CONFIRM}
    assert {t.user_attrs[record.PHASE] for t in fused.trials} == {t.user_attrs[record.PHASE] for t in plain.trials} == phases


@pytest.mark.parametrize("stacked", [True, False], ids=["tensors", "dataloader"])
def test_each_member_draws_the_batches_its_seed_draws_alone(stacked: bool) -> None:
    from autoopt.training.data import Split

    data = make_data()
    split = data.train if stacked else Split(None, None, data.train.dataset)
    seeds = (3, 4, 5)
    together = list(split.member_batches(16, [torch.Generator().manual_seed(s) for s in seeds]))
    alone = [list(split.batches(16, generator=torch.Generator().manual_seed(s))) for s in seeds]
    assert len(together) == len(alone[0])
    for step, (inputs, targets, size) in enumerate(together):
        assert size == len(alone[0][step][1])
        for member, batches in enumerate(alone):
            torch.testing.assert_close(inputs[member], batches[step][0], rtol=0, atol=0)
            torch.testing.assert_close(targets[member], batches[step][1], rtol=0, atol=0)
