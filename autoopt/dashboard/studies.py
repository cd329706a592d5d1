"""``GET /``: every study in the storage, with its trial counts and the optimizer it recommends."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import bottle
from optuna.study import StudyDirection

from autoopt.dashboard.context import Site
from autoopt.dashboard.digest import load_views, study_info, study_recommendation
from autoopt.dashboard.figures import colours
from autoopt.dashboard.rendering import page_response
from autoopt.recommend import Recommendation


@dataclass(frozen=True)
class StudyRow:
    study_id: int
    name: str
    metric: str
    direction: str  # "maximize", "minimize", or "2 objectives"
    model_file: str
    counts: dict[str, int]
    leader: Recommendation | None  # what `autoopt recommend` says; None: no finished trial, or several objectives


def study_rows(site: Site) -> list[StudyRow]:
    """One row per study, newest first."""
    rows = []
    for frozen_study in sorted(site.storage.get_all_studies(), key=lambda s: -s._study_id):
        study_id = frozen_study._study_id
        views, frozen = load_views(site.storage, study_id)
        directions = frozen_study.directions
        leader = None
        if len(directions) == 1:
            trials = list(frozen.values())
            leader, _ = study_recommendation(frozen_study.study_name, trials, directions[0], frozen_study.user_attrs)
        info = study_info(site.storage, study_id)
        rows.append(
            StudyRow(
                study_id=study_id,
                name=frozen_study.study_name,
                metric=str(info.get("metric") or "objective value"),
                direction=directions[0].name.lower() if len(directions) == 1 else f"{len(directions)} objectives",
                model_file=str(info.get("model_file") or ""),
                counts=dict(Counter(v.state for v in views)),
                leader=leader,
            )
        )
    return rows


def register(app: bottle.Bottle, site: Site) -> None:
    def index() -> bottle.HTTPResponse:
        rows = study_rows(site)
        leaders = {row.leader.optimizer for row in rows if row.leader}
        return page_response(
            site.render(
                "studies.html",
                rows=rows,
                colours=colours(leaders),
                live=any(row.counts.get("RUNNING") for row in rows),
                maximize=StudyDirection.MAXIMIZE.name.lower(),
            )
        )

    app.route("/", "GET", index)
