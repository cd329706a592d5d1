"""The dashboard in headless Chromium: what a person sees after the scripts ran."""

from __future__ import annotations

import pytest
from dashboard_http import leaderboard_rows, tagged

from autoopt.dashboard import write_report
from autoopt.dashboard.rendering import number

# optuna-dashboard computes importances on these small studies and warns that they are small.
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Some regimes for parameter:UserWarning")]


def test_the_leaderboard_shows_every_optimizer_with_its_best_value(server_url, sqlite_storage, chromium, oracle, tmp_path):
    screenshot = tmp_path / "study-page.png"
    dom = chromium(f"{server_url}/studies/{sqlite_storage.mnist._study_id}", screenshot=screenshot, height=2600)
    expected = oracle(sqlite_storage.mnist)
    assert leaderboard_rows(dom) == expected
    for optimizer, best in expected.items():
        row = dom.split(f'data-optimizer="{optimizer}"', 1)[1].split("</tr>", 1)[0]
        assert f'<td class="num best">{number(best)}</td>' in row
    assert dom.count('class="main-svg"') >= 3, "plotly did not draw the figures"
    assert screenshot.stat().st_size > 50_000
    print(f"screenshot: {screenshot}")


def test_a_script_in_a_study_name_is_shown_and_never_run(server_url, sqlite_storage, chromium):
    dom = chromium(f"{server_url}/studies/{sqlite_storage.hostile._study_id}")
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    heading = dom.split('<h1 id="study-name">', 1)[1].split("</h1>", 1)[0]
    assert heading.startswith("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x")
    assert "pwned" in title and not title.startswith("pwned")  # the name, as text, not the script's title
    assert not tagged(dom, "data-pwned"), "the onerror handler of the stored <img> ran"
    assert dom.count('class="main-svg"') >= 3  # the page still works


def test_the_report_opens_offline_and_draws_its_figures(sqlite_storage, chromium, oracle, tmp_path):
    report = write_report(sqlite_storage.url, sqlite_storage.mnist.study_name, tmp_path / "report.html")
    dom = chromium(report.as_uri(), screenshot=tmp_path / "report.png")
    assert leaderboard_rows(dom) == oracle(sqlite_storage.mnist)
    assert dom.count('class="main-svg"') >= 3


def test_optuna_dashboard_views_run_next_to_autoopts_pages(server_url, sqlite_storage, chromium):
    dom = chromium(f"{server_url}/dashboard/studies/{sqlite_storage.mnist._study_id}")
    assert "History" in dom and sqlite_storage.mnist.study_name in dom
