"""Which configuration autoopt recommends, and how it renders it (text line, JSON, live optimizer)."""

from __future__ import annotations

import json

import optuna
import pytest
import torch
from core_support import run_cli_inprocess

import autoopt
from autoopt import record
from autoopt.errors import UserError
from autoopt.recommend import Recommendation, choose, leaderboard, recommend, to_json
from autoopt.storage import open_storage

ADAM = {"lr": 0.003, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.0}


def add_trial(study: optuna.Study, value: float | None, *, lr: float = 1e-3, role: str = record.ROLE_SEARCH,
              confirm_of: int | None = None, state: optuna.trial.TrialState | None = None,
              reasons: dict[str, str] | None = None) -> int:  # fmt: skip
    """One trial stored the way the engine stores it (see autoopt/record.py)."""
    trial = study.ask({"adam.lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)})
    attrs = {record.OPTIMIZER: "adam", record.OPTIMIZER_KWARGS: {**ADAM, "lr": lr}, record.LOOKAHEAD: None,
             record.BATCH_SIZE: 64, record.SEED: trial.number, record.ROLE: role}  # fmt: skip
    if confirm_of is not None:
        attrs[record.CONFIRM_OF] = confirm_of
    for key, item in {**attrs, **(reasons or {})}.items():
        trial.set_user_attr(key, item)
    study.tell(trial, value, state=state)
    return trial.number


def hand_study(storage: str | None = None, name: str = "hand", direction: str = "minimize") -> optuna.Study:
    return optuna.create_study(study_name=name, storage=open_storage(storage) if storage else None,
                               direction=direction)  # fmt: skip


def test_mean_over_confirmations_beats_a_lucky_single_trial():
    study = hand_study()
    lucky = add_trial(study, 0.10, lr=1e-2)
    steady = add_trial(study, 0.20, lr=1e-3)
    for value in (0.50, 0.52):
        add_trial(study, value, role=record.ROLE_CONFIRM, confirm_of=lucky)
    for value in (0.21, 0.19):
        add_trial(study, value, role=record.ROLE_CONFIRM, confirm_of=steady)
    best, values = choose(study)
    assert best.number == steady and values == [0.20, 0.21, 0.19]


def test_maximizing_picks_the_highest_mean():
    study = hand_study(direction="maximize")
    low, high = add_trial(study, 0.9), add_trial(study, 0.8)
    add_trial(study, 0.5, role=record.ROLE_CONFIRM, confirm_of=low)
    add_trial(study, 0.85, role=record.ROLE_CONFIRM, confirm_of=high)
    assert choose(study)[0].number == high


def test_without_confirmations_the_best_search_trial_is_chosen():
    study = hand_study()
    add_trial(study, 0.3)
    best = add_trial(study, 0.1)
    add_trial(study, None, state=optuna.trial.TrialState.PRUNED)
    assert choose(study) == (study.trials[best], [0.1])


def test_a_confirmation_alone_is_never_recommended():
    study = hand_study()
    add_trial(study, 0.01, role=record.ROLE_CONFIRM, confirm_of=99)
    with pytest.raises(UserError, match="has no finished trial yet, so there is nothing to recommend"):
        choose(study)


def test_json_has_exactly_the_documented_keys(sqlite_url):
    study = hand_study(sqlite_url)
    best = add_trial(study, 0.2)
    add_trial(study, 0.22, role=record.ROLE_CONFIRM, confirm_of=best)
    add_trial(study, None, state=optuna.trial.TrialState.FAIL)
    shown = json.loads(to_json(recommend("hand", sqlite_url)))
    assert shown == {"study": "hand", "optimizer": "adam", "optimizer_kwargs": {**ADAM, "lr": 1e-3},
                     "lookahead": None, "batch_size": 64, "value": pytest.approx(0.21), "direction": "minimize",
                     "n_trials": 3}  # fmt: skip


def recommendation(optimizer: str, kwargs: dict, lookahead: dict | None = None) -> Recommendation:
    return Recommendation(study="s", optimizer=optimizer, optimizer_kwargs=kwargs, lookahead=lookahead,
                          batch_size=32, value=0.1, direction="minimize", n_trials=1, trial_number=0)  # fmt: skip


@pytest.mark.parametrize(
    ("rec", "line"),
    [
        (recommendation("radam", ADAM, {"k": 5, "alpha": 0.5}),
         "autoopt.optimizers.Lookahead(torch.optim.RAdam(model.parameters(), lr=0.003), k=5, alpha=0.5)"),
        (recommendation("lion", {"lr": 3e-05, "betas": [0.9, 0.99], "weight_decay": 0.1}),
         "autoopt.optimizers.Lion(model.parameters(), lr=3e-05, weight_decay=0.1)"),
        (recommendation("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0}),
         "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)"),
        (recommendation("adam", {**ADAM, "betas": [0.85, 0.999]}),
         "torch.optim.Adam(model.parameters(), lr=0.003, betas=(0.85, 0.999))"),
    ],
)
def test_pytorch_line_is_the_shortest_call_that_builds_the_optimizer(rec, line):
    assert rec.pytorch_line() == line
    model = torch.nn.Linear(2, 1)
    built = eval(line, {"torch": torch, "autoopt": autoopt, "model": model})  # the line must paste and run
    inner = built.optimizer if rec.lookahead else built
    for key, value in rec.optimizer_kwargs.items():
        assert inner.defaults[key] == (tuple(value) if isinstance(value, list) else value)


def test_json_round_trips_into_a_live_optimizer():
    shown = json.loads(to_json(recommendation("radam", ADAM, {"k": 6, "alpha": 0.4})))
    model = torch.nn.Linear(3, 1)
    optimizer = autoopt.optimizers.from_recommendation(model.parameters(), shown)
    assert isinstance(optimizer, autoopt.optimizers.Lookahead)
    assert isinstance(optimizer.optimizer, torch.optim.RAdam)
    assert optimizer.optimizer.defaults["betas"] == (0.9, 0.999) and optimizer.optimizer.defaults["lr"] == 0.003
    assert (optimizer.k, optimizer.alpha) == (6, 0.4)
    before = model.weight.detach().clone()
    model(torch.randn(4, 3)).pow(2).mean().backward()
    optimizer.step()
    assert not torch.equal(before, model.weight)


def test_recommending_from_a_study_without_finished_trials_says_so(sqlite_url, capsys, monkeypatch):
    study = hand_study(sqlite_url)
    add_trial(study, None, state=optuna.trial.TrialState.PRUNED)
    code, out, err = run_cli_inprocess(["recommend", "hand", "--storage", sqlite_url], capsys, monkeypatch)
    assert code == 2 and out == "" and "Traceback" not in err
    assert "study 'hand' has no finished trial yet" in err and "Run `autoopt search`" in err
    assert len(study.trials) == 1


def test_the_leaderboard_counts_diverged_trials_stored_either_way():
    study = hand_study()
    add_trial(study, 0.2)
    diverged = "diverged: training loss became nan at epoch 1, step 3"
    add_trial(study, None, state=optuna.trial.TrialState.PRUNED, reasons={record.PRUNE_REASON: diverged})
    add_trial(study, None, state=optuna.trial.TrialState.FAIL, reasons={record.FAIL_REASON: diverged})  # older studies
    add_trial(study, None, state=optuna.trial.TrialState.PRUNED, reasons={record.PRUNE_REASON: "pruned after epoch 2"})
    (row,) = leaderboard(study.get_trials(deepcopy=False), maximize=False)
    assert (row.trials, row.diverged, row.best) == (4, 2, 0.2)
