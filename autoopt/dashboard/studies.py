"""``GET /``: every study in the storage, with its trial counts and the optimizer it recommends."""

from __future__ import annotations

from dataclasses import dataclass

import bottle
from optuna.study import StudyDirection

from autoopt.dashboard.context import Site
from autoopt.dashboard.digest import study_info
from autoopt.dashboard.figures import colours
from autoopt.dashboard.rendering import page_response
from autoopt.engine.recommend import Recommendation
from autoopt.storage import study_id_of
from autoopt.engine.tally import TrialCounts, summarize_study


@dataclass(frozen=True)
class StudyRow:
    study_id: int
    name: str
    metric: str
    direction: str  # "maximize", "minimize", or "2 objectives"
    model_file: str
    counts: TrialCounts  # as `autoopt studies` counts them (autoopt.engine.tally)
    leader: Recommendation | None  # what `autoopt recommend` says; None: no finished trial, or several objectives


def study_rows(site: Site) -> list[StudyRow]:
    """One row per study, newest first."""
    rows = []
    for frozen_study in sorted(site.storage.get_all_studies(), key=lambda s: -study_id_of(s)):
        study_id = study_id_of(frozen_study)
        trials = site.storage.get_all_trials(study_id, deepcopy=False)
        directions = [d.name.lower() for d in frozen_study.directions]
        summary = summarize_study(frozen_study.study_name, trials, directions, frozen_study.user_attrs)
        info = study_info(site.storage, study_id)
        rows.append(
            StudyRow(
                study_id=study_id,
                name=frozen_study.study_name,
                metric=str(info.get("metric") or "objective value"),
                direction=summary.direction,
                model_file=str(info.get("model_file") or ""),
                counts=summary.counts,
                leader=summary.recommendation,
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
                live=any(row.counts.running for row in rows),
                maximize=StudyDirection.MAXIMIZE.name.lower(),
            )
        )

    app.route("/", "GET", index)
