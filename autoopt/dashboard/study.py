"""``GET /studies/<id>``: autoopt's page for one study.

The recommendation with its PyTorch line, the optimizer leaderboard, value against
learning rate, learning curves, batch-size effect, confirmation runs, and the pruned and
failed trials with their reasons, one page of them at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bottle

from autoopt.dashboard.context import Site
from autoopt.dashboard.digest import TrialView, digest_study
from autoopt.dashboard.figures import colours, study_figures
from autoopt.dashboard.recommendation import recommendation_card
from autoopt.dashboard.rendering import page_response

PROBLEMS_PER_PAGE = 25


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows and where it sits (1-based)."""

    rows: Sequence[TrialView]
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def paginate(items: Sequence[TrialView], page: int, *, per_page: int) -> Page:
    """Page ``page`` of ``items``; out-of-range pages are clamped, not errors."""
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    return Page(items[(page - 1) * per_page : page * per_page], page, pages, len(items), per_page)


def study_context(site: Site, study_id: int, *, page: int, per_page: int | None = None) -> dict[str, Any]:
    """What ``study.html`` needs, for the served page and for the report."""
    digest = digest_study(site.storage, study_id)
    return {
        "digest": digest,
        "colours": colours(digest.optimizers),
        "figures": study_figures(digest),
        "card": recommendation_card(digest.recommendation, note=digest.no_recommendation),
        "problems": paginate(digest.problems, page, per_page=per_page or PROBLEMS_PER_PAGE),
        "live": bool(digest.counts.running),
    }


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 9 else 1


def register(app: bottle.Bottle, site: Site) -> None:
    def study_page(study_id: int) -> bottle.HTTPResponse:
        site.study_name(study_id)  # an unknown id is a 404 page, not a stack trace
        context = study_context(site, study_id, page=_page_number(bottle.request.query.get("page")))
        return page_response(site.render("study.html", **context))

    app.route("/studies/<study_id:int>", "GET", study_page)
