"""The pages name ``autoopt recommend``'s answer, with what it knows: spread, ties, best epoch, screened values.

One phased search, built directly in SQLite: each family screened at its defaults, a lucky
single trial that was never re-trained, the recommended configuration on three seeds (its
curve bottoms early), a tie, a clear loser, and a family whose every trial was pruned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import optuna
import pytest
from dashboard_http import call, tagged

from autoopt.dashboard import create_app, write_report
from autoopt.dashboard.rendering import number
from autoopt.engine.recommend import recommend
from autoopt.storage import record

EPOCHS = 10


def overfitting(end: float) -> list[float]:
    """A loss curve that is lowest (0.12) at epoch 3, then climbs to ``end``."""
    return [0.12 + abs(epoch - 3) * (end - 0.12) / (EPOCHS - 3) for epoch in range(1, EPOCHS + 1)]


def add_run(study: optuna.Study, value: float | None, optimizer: str, *, lr: float = 1e-3, phase: str = "search",
            confirm_of: int | None = None, curve: list[float] | None = None) -> int:  # fmt: skip
    attrs: dict[str, Any] = {
        record.OPTIMIZER: optimizer, record.OPTIMIZER_KWARGS: {"lr": lr, "weight_decay": 0.01},
        record.LOOKAHEAD: None, record.BATCH_SIZE: 64, record.PHASE: phase,
        record.ROLE: record.ROLE_SEARCH if confirm_of is None else record.ROLE_CONFIRM,
    }  # fmt: skip
    if confirm_of is not None:
        attrs[record.CONFIRM_OF] = confirm_of
    if value is None:  # pruned after its first rung
        attrs[record.PRUNE_REASON] = "pruned at epoch 2: worse than the median of earlier trials"
        trial = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=attrs,
                                          intermediate_values={0: 0.9, 1: 0.8})  # fmt: skip
    else:
        attrs[record.CURVE] = curve or [value] * EPOCHS
        trial = optuna.trial.create_trial(value=value, user_attrs=attrs)
    study.add_trial(trial)
    return len(study.trials) - 1


def add_configuration(study: optuna.Study, values: list[float], optimizer: str, *, lr: float = 1e-3,
                      curve_of: Callable[[float], list[float]] | None = None) -> int:  # fmt: skip
    """A search trial (the first value) and its confirmations on fresh seeds (the rest)."""
    curves = [curve_of(value) if curve_of else None for value in values]
    first = add_run(study, values[0], optimizer, lr=lr, curve=curves[0])
    for value, curve in zip(values[1:], curves[1:]):
        add_run(study, value, optimizer, lr=lr, phase="confirm", confirm_of=first, curve=curve)
    return first


@pytest.fixture(scope="module")
def phased(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, optuna.Study]:
    url = f"sqlite:///{tmp_path_factory.mktemp('phased') / 'phased.db'}"
    study = optuna.create_study(study_name="phased", storage=url)
    study.set_user_attr(record.STUDY_INFO, {"metric": "val_loss", "direction": "minimize", "epochs": EPOCHS})
    add_run(study, 0.30, "adamw", phase="screen")
    add_run(study, 0.35, "sgd", phase="screen")
    for _ in range(3):
        add_run(study, None, "lion")
    add_run(study, 0.10, "sgd", lr=0.1)  # the best single trial: lucky, never re-trained
    add_configuration(study, [0.20, 0.21, 0.19], "adamw", lr=3e-3, curve_of=overfitting)  # the recommendation
    add_configuration(study, [0.205, 0.215], "adamw", lr=2e-3)  # within two standard errors: a tie
    add_configuration(study, [0.40, 0.41], "radam")  # no screen trial, and clearly worse
    return url, study


@pytest.fixture(scope="module")
def app(phased: tuple[str, optuna.Study]) -> Any:
    return create_app(phased[0])


@pytest.fixture(scope="module")
def page(app: Any, phased: tuple[str, optuna.Study]) -> str:
    return call(app, f"/studies/{phased[1]._study_id}").text


def section(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}"', 1)[1].split("</section>", 1)[0]


def test_the_study_list_names_the_recommended_optimizer_not_the_best_single_trial(app, phased):
    url, study = phased
    rec = recommend("phased", url)
    assert (rec.optimizer, rec.value) == ("adamw", pytest.approx(0.20))
    row = call(app, "/").text.split(f'data-study="{study._study_id}"', 1)[1].split("</tr>", 1)[0]
    leader = row.split('class="leader">', 1)[1].split("</td>", 1)[0]
    assert "adamw" in leader and "sgd" not in leader
    assert f"{number(rec.value)} <span" in row and "3 seeds" in row


def test_the_leaderboard_shows_each_familys_screened_value_with_the_noise(page):
    rows = {row["data-optimizer"]: row["data-screened"] for row in tagged(section(page, "leaderboard"), "data-optimizer")}
    assert rows == {"adamw": "0.3", "sgd": "0.35", "radam": "", "lion": ""}
    board = section(page, "leaderboard")
    assert "0.3 <span class=\"sub\">± " in board and "Screened" in board


def test_the_highlighted_leaderboard_row_is_the_recommendation(page):
    board = section(page, "leaderboard")
    (winner,) = [row["data-optimizer"] for row in tagged(board, "data-optimizer") if row.get("class") == "winner"]
    first = tagged(board, "data-optimizer")[0]["data-optimizer"]
    assert winner == "adamw" and first == "sgd"  # sgd's lucky trial still ranks first by best value


def test_the_card_gives_the_spread_the_tie_and_the_best_epoch(page):
    card = section(page, "recommendation")
    assert "0.2 ± 0.01: mean ± std of trial #" in card and "(3 seeds)" in card
    ties = card.split('id="recommendation-ties"', 1)[1].split("</div>", 1)[0]
    assert "adamw lr=0.002, batch 64: 0.21 ± 0.007071 over 2 seeds" in ties and "radam" not in ties
    advice = card.split('id="stop-early"', 1)[1].split("</div>", 1)[0]
    assert f"trains best for 3 epochs: 0.12; at {EPOCHS} epochs 0.2 — stop early or use fewer epochs" in advice


def test_a_study_without_screen_trials_or_confirmations_still_renders(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    study = optuna.create_study(study_name="old", storage=url)
    add_run(study, 0.3, "adamw")
    html = call(create_app(url), f"/studies/{study._study_id}").text
    assert [row["data-screened"] for row in tagged(section(html, "leaderboard"), "data-optimizer")] == [""]
    assert "not confirmed on a fresh seed yet" in section(html, "recommendation")
    assert 'id="recommendation-ties"' not in html and 'id="stop-early"' not in html


def test_the_card_writes_settings_as_people_do(tmp_path):
    url = f"sqlite:///{tmp_path / 'digits.db'}"
    study = optuna.create_study(study_name="digits", storage=url)
    add_run(study, 0.3, "adamw", lr=0.0012345678901234567)
    card = section(call(create_app(url), f"/studies/{study._study_id}").text, "recommendation")
    assert "<dt>lr</dt><dd>0.001235</dd>" in card and "<dt>weight_decay</dt><dd>0.01</dd>" in card
    assert "<dt>Lookahead</dt><dd>off</dd>" in card and "null" not in card and "0.0012345" not in card


def test_a_single_batch_size_gets_no_batch_size_chart(page):
    assert 'id="batch"' not in page  # every finished trial of the phased study used batch size 64


def compare_cells(html: str) -> dict[str, str]:
    """Optimizer -> the text of its cell, for a comparison of one study."""
    rows = html.split('id="comparison"', 1)[1].split("</tbody>", 1)[0].split('<tr data-optimizer="')[1:]
    return {row.split('"', 1)[0]: re.sub(r"<[^>]+>", "", row.split("</td>")[2]).strip() for row in rows}


def test_compare_ranks_as_the_recommendation_does(app, phased):
    cells = compare_cells(call(app, f"/compare?id={phased[1]._study_id}").text)
    # adamw: the recommendation; radam: worse, but on two seeds; sgd: one lucky run ranks after both
    assert (cells["adamw"], cells["radam"], cells["sgd"]) == ("#1 0.2", "#2 0.405", "#3 0.1")


def test_compare_says_pruned_for_an_optimizer_whose_trials_were_all_pruned(app, phased):
    assert compare_cells(call(app, f"/compare?id={phased[1]._study_id}").text)["lion"] == "3 pruned"


def test_the_report_shows_the_screened_values_and_the_card(phased, tmp_path):
    html = write_report(phased[0], "phased", tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'data-screened="0.35"' in html and 'id="stop-early"' in html and 'id="recommendation-ties"' in html
