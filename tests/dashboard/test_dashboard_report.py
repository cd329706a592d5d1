"""``write_report``: one HTML file that shows the study without a server or internet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_http import leaderboard_rows
from dashboard_studies import HOSTILE_NAME

from autoopt.dashboard import assets, write_report
from autoopt.errors import UserError


@pytest.fixture(scope="module")
def report(populated, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "nested" / "report.html"
    return write_report(populated.url, populated.mnist.study_name, out)


def test_the_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    plotly_js = assets.text("plotly.min.js")
    assert plotly_js in html
    page = html.replace(plotly_js, "")  # plotly.js itself names URLs for map tiles we never draw
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page
    assert not re.search(r"(src|href)=\"https?://", page)


def test_the_readme_states_the_reports_size(report):
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    stated = float(re.search(r"Each report is about (\d+(?:\.\d+)?) MB", readme).group(1))
    assert stated == pytest.approx(report.stat().st_size / 1e6, abs=0.5)


def test_the_report_shows_the_leaderboard_and_the_figures(report, populated, oracle):
    html = report.read_text(encoding="utf-8")
    assert leaderboard_rows(html) == oracle(populated.mnist)
    assert html.count('<script type="application/json" id="figure-data-') == 3
    assert "?page=" not in html  # no links back to a server


def test_the_report_escapes_stored_text(populated, tmp_path):
    html = write_report(populated.url, populated.hostile.study_name, tmp_path / "r.html").read_text(encoding="utf-8")
    assert HOSTILE_NAME not in html and "&lt;script&gt;document.title" in html


def test_an_unwritable_destination_is_a_user_error(populated, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="--out"):
        write_report(populated.url, populated.mnist.study_name, blocker / "report.html")
