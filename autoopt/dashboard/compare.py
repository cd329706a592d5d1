"""``GET /compare?id=1&id=2``: studies of different tasks side by side, which optimizer won where.

Inside each study the optimizers are ranked as ``autoopt recommend`` ranks them: by the
mean over seeds of their best configuration, those re-trained on fresh seeds before single
runs, so the winner of a study is its recommendation. Metrics differ between tasks
(accuracy up, loss down), so optimizers are compared by their rank inside each study; the
cell shows the rank and that mean. Without ``id`` it compares every single-objective study
that has a finished trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bottle
import plotly.graph_objects as go
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from autoopt.dashboard.context import Site
from autoopt.dashboard.digest import UNKNOWN, leaderboard, load_views, single_direction, study_info
from autoopt.dashboard.figures import LAYOUT, colours, label
from autoopt.dashboard.rendering import page_response
from autoopt.errors import UserError
from autoopt.engine.evidence import gather, optimizer_ranking
from autoopt.storage import record, study_id_of

UNFINISHED_STATES = (("PRUNED", "pruned"), ("FAIL", "failed"), ("RUNNING", "running"))


@dataclass(frozen=True)
class StudyColumn:
    study_id: int
    name: str
    metric: str
    direction: str
    ranked: dict[str, tuple[int, float]]  # optimizer -> (rank, its best configuration's mean), finished ones only
    unfinished: dict[str, str]  # optimizer -> what became of its trials when none finished, e.g. "6 pruned"

    @property
    def winner(self) -> str | None:
        return next((name for name, (rank, _) in self.ranked.items() if rank == 1), None)

    def outcome(self, optimizer: str) -> str:
        """What the cell of an optimizer without a rank says."""
        return self.unfinished.get(optimizer, "not run")


def ranking(trials: Sequence[FrozenTrial], direction: StudyDirection) -> dict[str, tuple[int, float]]:
    """Optimizer -> (rank, the mean it stands on), as ``autoopt recommend`` ranks them: 1 is its recommendation."""
    ranked = optimizer_ranking(gather(trials), direction == StudyDirection.MAXIMIZE)
    return {str(e.trial.user_attrs.get(record.OPTIMIZER) or UNKNOWN): (rank, e.mean) for rank, e in enumerate(ranked, 1)}


def unfinished_label(states: dict[str, int]) -> str:
    """What became of an optimizer's trials when none finished, e.g. "6 pruned" or "4 pruned, 2 failed"."""
    return ", ".join(f"{states[state]} {word}" for state, word in UNFINISHED_STATES if states.get(state)) or "not run"


def study_column(site: Site, study_id: int) -> StudyColumn:
    name = site.study_name(study_id)  # an unknown id raises UserError before any other read
    direction = single_direction(site.storage, study_id)
    views, frozen = load_views(site.storage, study_id)
    trials = list(frozen.values())
    rows = leaderboard(trials, views, direction)
    return StudyColumn(
        study_id=study_id,
        name=name,
        metric=str(study_info(site.storage, study_id).get("metric") or "objective value"),
        direction=direction.name.lower(),
        ranked=ranking(trials, direction),
        unfinished={row.optimizer: unfinished_label(row.states) for row in rows if row.best is None},
    )


def comparable_ids(site: Site) -> list[int]:
    return [study_id_of(s) for s in site.storage.get_all_studies() if len(s.directions) == 1]


def ranking_order(columns: list[StudyColumn]) -> list[str]:
    """Optimizers by wins, then by mean rank (a missing study counts as last place)."""
    names = sorted({name for column in columns for name in (*column.ranked, *column.unfinished)})

    def key(name: str) -> tuple[int, float, str]:
        ranks = [column.ranked[name][0] if name in column.ranked else len(column.ranked) + 1 for column in columns]
        return (-sum(column.winner == name for column in columns), sum(ranks) / max(1, len(ranks)), name)

    return sorted(names, key=key)


def rank_heatmap(columns: list[StudyColumn], optimizers: list[str]) -> go.Figure:
    """Rank of each optimizer in each study, scaled to 0 (won) .. 1 (last)."""
    z, text = [], []
    for name in optimizers:
        z_row, text_row = [], []
        for column in columns:
            rank, value = column.ranked.get(name, (None, None))
            scaled = None if rank is None else (rank - 1) / max(1, len(column.ranked) - 1)
            z_row.append(scaled)
            text_row.append(column.outcome(name) if rank is None else f"#{rank}  {value:.4g}")
        z.append(z_row)
        text.append(text_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{label(c.name, limit=28)}<br>{label(c.metric)}" for c in columns],
            y=[label(name) for name in optimizers],
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} on %{x}: %{text}<extra></extra>",
            colorscale=[[0, "#16794c"], [0.5, "#f3f4f6"], [1, "#b42318"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(**{**LAYOUT, "height": 140 + 48 * len(optimizers), "margin": dict(l=90, r=20, t=70, b=20)})
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top", tickangle=0)
    return fig


def register(app: bottle.Bottle, site: Site) -> None:
    def compare_page() -> bottle.HTTPResponse:
        requested = [int(v) for v in bottle.request.query.getall("id") if v.isdigit() and len(v) < 12]
        ids = requested or comparable_ids(site)
        columns: list[StudyColumn] = []
        skipped: list[str] = []
        for study_id in dict.fromkeys(ids):
            try:
                columns.append(study_column(site, study_id))
            except UserError as error:  # unknown id or several objectives: say so, show the rest
                skipped.append(str(error))
        columns = [c for c in columns if c.ranked]
        optimizers = ranking_order(columns)
        html = site.render(
            "compare.html",
            columns=columns,
            optimizers=optimizers,
            colours=colours(optimizers),
            wins={name: sum(c.winner == name for c in columns) for name in optimizers},
            heatmap=rank_heatmap(columns, optimizers) if columns else None,
            skipped=skipped,
        )
        return page_response(html)

    app.route("/compare", "GET", compare_page)
