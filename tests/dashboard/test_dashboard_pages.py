"""autoopt's own pages, requested in process: what each one must show."""

from __future__ import annotations

import json
import re

import optuna
import pytest
from dashboard_http import call, leaderboard_rows, tagged
from dashboard_studies import HOSTILE_REASON, MNIST, Task, build_study

from autoopt.dashboard.rendering import number
from autoopt.engine.recommend import recommend
from autoopt.storage import record


def test_studies_page_lists_every_study_with_its_recommended_optimizer(app, populated):
    html = call(app, "/").text
    for study in (populated.mnist, populated.cifar, populated.empty):
        assert f'href="/studies/{study._study_id}"' in html
        assert study.study_name in html
    mnist_row = html.split(f'data-study="{populated.mnist._study_id}"', 1)[1].split("</tr>", 1)[0]
    rec = recommend(populated.mnist.study_name, populated.url)
    assert rec.optimizer in mnist_row
    assert number(rec.value) in mnist_row  # the mean over its seeds, not the best single trial


def test_leaderboard_shows_every_optimizer_with_its_best_search_value(app, populated, oracle):
    for study in (populated.mnist, populated.cifar):
        html = call(app, f"/studies/{study._study_id}").text
        assert leaderboard_rows(html) == oracle(study)


def test_leaderboard_counts_each_optimizers_diverged_trials(app, populated):
    total = 0
    for study in (populated.mnist, populated.cifar):
        html = call(app, f"/studies/{study._study_id}").text
        board = html.split('id="leaderboard"', 1)[1].split("</section>", 1)[0]
        shown = {row.split('data-optimizer="', 1)[1].split('"', 1)[0]: int(row.split('class="num diverged">', 1)[1].split("<", 1)[0])
                 for row in board.split("<tr")[3:]}  # fmt: skip
        expected: dict[str, int] = {}
        for t in study.trials:
            if t.user_attrs.get(record.ROLE) == record.ROLE_SEARCH:
                reason = t.user_attrs.get(record.PRUNE_REASON) or t.user_attrs.get(record.FAIL_REASON) or ""
                key = t.user_attrs[record.OPTIMIZER]
                expected[key] = expected.get(key, 0) + reason.startswith("diverged")
        assert shown == expected
        total += sum(shown.values())
    assert total > 0


def test_leaderboard_ranks_best_first_in_the_study_direction(app, populated):
    for study in (populated.mnist, populated.cifar):
        values = list(leaderboard_rows(call(app, f"/studies/{study._study_id}").text).values())
        assert values == sorted(values, reverse=study.direction.name == "MAXIMIZE")


def test_confirmation_runs_are_listed_apart_and_do_not_enter_the_leaderboard(mnist_page, populated, oracle):
    html = mnist_page
    confirm = next(t for t in populated.mnist.trials if t.user_attrs.get(record.ROLE) == record.ROLE_CONFIRM)
    section = html.split('id="confirmations"', 1)[1].split("</section>", 1)[0]
    assert f"#{confirm.number}" in section and f"#{confirm.user_attrs[record.CONFIRM_OF]}" in section
    assert confirm.value not in oracle(populated.mnist).values()


def test_a_trial_the_search_finishes_shows_on_the_next_load(app, populated):
    name = f"live-{populated.mnist.study_name}"
    study = build_study(populated.url, name, task=Task({"sgd": MNIST["sgd"]}), trials_per_optimizer=2, confirm=False)
    populated.created.append(name)
    path = f"/studies/{study._study_id}"
    assert 'class="badge live"' in call(app, path).text  # a trial is running: the page refreshes itself
    (running,) = study.get_trials(states=[optuna.trial.TrialState.RUNNING])
    study.tell(running.number, 0.999)
    after = call(app, path).text
    assert leaderboard_rows(after) == {"sgd": 0.999}
    assert 'class="badge live"' not in after


def test_pruned_and_failed_trials_are_listed_with_their_reasons(mnist_page, populated):
    html = mnist_page
    listed = {int(row["data-trial"]) for row in tagged(html, "data-trial")}
    problems = [t for t in populated.mnist.trials if t.state.name in ("PRUNED", "FAIL")]
    newest = sorted(problems, key=lambda t: -t.number)[: len(listed)]
    assert listed == {t.number for t in newest}
    for trial in newest:
        reason = trial.user_attrs.get(record.PRUNE_REASON) or trial.user_attrs[record.FAIL_REASON]
        assert reason in html


def test_pruned_and_failed_trials_are_paginated_on_the_server(app, populated, monkeypatch):
    from autoopt.dashboard import study as study_module

    monkeypatch.setattr(study_module, "PROBLEMS_PER_PAGE", 3)  # 8 problems: 3 pages
    study_id = populated.mnist._study_id
    first = [row["data-trial"] for row in tagged(call(app, f"/studies/{study_id}").text, "data-trial")]
    second_html = call(app, f"/studies/{study_id}?page=2").text
    second = [row["data-trial"] for row in tagged(second_html, "data-trial")]
    assert len(first) == len(second) == 3 and not set(first) & set(second)
    assert "?page=1#problems" in second_html and "?page=3#problems" in second_html
    assert call(app, f"/studies/{study_id}?page=9999").status == 200  # clamped to the last page


def test_several_batch_sizes_get_the_batch_size_chart(mnist_page):
    assert 'id="batch"' in mnist_page  # its search trials used 32, 64 and 128


def test_recommendation_shows_the_pytorch_line_and_a_copy_button(mnist_page, populated):
    html = mnist_page
    line = recommend(populated.mnist.study_name, populated.url).pytorch_line()
    assert f'<pre id="pytorch-line">{line}</pre>' in html
    assert 'data-copy="pytorch-line"' in html


def test_a_study_without_finished_trials_says_there_is_no_recommendation_yet(app, populated):
    reply = call(app, f"/studies/{populated.empty._study_id}")
    assert reply.status == 200
    assert 'id="no-recommendation"' in reply.text and "No trials yet." in reply.text


def test_figures_are_sent_as_aggregates_not_as_raw_trials(mnist_page, populated):
    html = mnist_page
    figures = {
        name: json.loads(block)
        for name, block in re.findall(r'<script type="application/json" id="figure-data-(\w+)">(.*?)</script>', html)
    }
    assert set(figures) == {"sensitivity", "curves", "batch"}
    finished_search = [
        t for t in populated.mnist.trials
        if t.state.name == "COMPLETE" and t.user_attrs.get(record.ROLE) == record.ROLE_SEARCH
    ]
    points = [trace for trace in figures["sensitivity"]["data"] if trace["name"] != "pruned (last epoch)"]
    assert sum(len(trace["x"]) for trace in points) == len(finished_search)  # one point per trial, no more
    assert all(trace["type"] == "box" and "q1" in trace for trace in figures["batch"]["data"])


def test_compare_page_names_the_recommendation_of_each_study_as_its_winner(app, populated):
    ids = [populated.mnist._study_id, populated.cifar._study_id]
    html = call(app, f"/compare?id={ids[0]}&id={ids[1]}").text
    for column, study in enumerate((populated.mnist, populated.cifar)):
        rec = recommend(study.study_name, populated.url)
        row = html.split(f'<tr data-optimizer="{rec.optimizer}">', 1)[1].split("</tr>", 1)[0]
        cell = re.findall(r"<td([^>]*)>(.*?)</td>", row, flags=re.S)[2 + column]  # after the name and the wins
        assert "winner-cell" in cell[0] and number(rec.value) in cell[1]


def test_compare_page_explains_ids_it_cannot_show(app, populated):
    html = call(app, f"/compare?id={populated.mnist._study_id}&id=987654").text
    assert "no study with id 987654" in html
    assert f'data-study="{populated.mnist._study_id}"' in html


def test_an_unknown_study_id_is_a_404_page(app):
    reply = call(app, "/studies/987654")
    assert reply.status == 404 and "no study with id 987654" in reply.text


def test_optuna_dashboard_is_served_at_its_own_routes(app, populated):
    assert "bundle.js" in call(app, "/dashboard").text
    assert call(app, f"/dashboard/studies/{populated.mnist._study_id}").status == 200
    names = {s["study_name"] for s in json.loads(call(app, "/api/studies").text)["study_summaries"]}
    assert {populated.mnist.study_name, populated.cifar.study_name} <= names
    assert call(app, "/static/bundle.js").status == 200


def test_plotly_js_is_served_from_the_installed_package_not_a_cdn(app, mnist_page):
    assert "https://" not in mnist_page and "cdn" not in mnist_page.lower()
    reply = call(app, "/assets/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200 and reply.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("path", ["/assets/../app.py", "/assets/app.py", "/assets/%2e%2e%2fapp.py"])
def test_assets_serve_only_the_known_files(app, path):
    assert call(app, path).status == 404


def test_a_stored_failure_reason_is_shown_as_text(app, populated):
    html = call(app, f"/studies/{populated.hostile._study_id}").text
    assert "&lt;b&gt;bold&lt;/b&gt;&lt;script&gt;" in html
    assert HOSTILE_REASON not in html


def test_a_calibrated_study_shows_its_learning_rate_range_test(app, populated):
    test = {"optimizer": "adam", "batch_size": 64, "default_lr": 1e-3, "lrs": [1e-6, 1e-4, 1e-2, 1.0],
            "losses": [2.3, 2.0, 0.9, 5.0], "suggested_lr": 1e-3, "factor": 1.0, "epochs": 1.5}  # fmt: skip
    study = optuna.load_study(study_name=populated.mnist.study_name, storage=populated.url)
    plain = call(app, f"/studies/{study._study_id}").text
    assert 'id="range-test"' not in plain
    study.set_user_attr(record.LR_RANGE_TEST, test)
    try:
        html = call(app, f"/studies/{study._study_id}?fresh").text
    finally:
        study.set_user_attr(record.LR_RANGE_TEST, None)  # the populated storage is shared by the session
    assert 'id="range-test"' in html and "times 1:" in html
    block = re.search(r'<script type="application/json" id="figure-data-range_test">(.*?)</script>', html)
    figure = json.loads(block.group(1))
    assert figure["data"][0]["x"] == test["lrs"] and figure["data"][0]["y"] == test["losses"]
    assert figure["layout"]["xaxis"]["type"] == "log"
