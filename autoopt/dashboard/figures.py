"""The plotly figures of the pages, built from aggregates (never from raw trials).

Each optimizer keeps one colour across every figure and the leaderboard swatches, and
trials wrapped in Lookahead are drawn as diamonds, so the pictures read together.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from autoopt.dashboard.digest import StudyDigest, TrialView
from autoopt.optimizers import registry

# Vivid and told apart at a glance; grey is kept for pruned trials.
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#6b3f1d", "#65a30d"]
SCATTER_GL_ABOVE = 2000  # WebGL keeps thousands of points interactive
LAYOUT = dict(
    template="plotly_white",
    font=dict(family="Inter, system-ui, -apple-system, Segoe UI, sans-serif", size=13),
    margin=dict(l=60, r=20, t=30, b=50),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    height=380,
)


def colour(optimizer: str) -> str:
    """The optimizer's colour on every page: registry order, then a hash for other names."""
    known = registry.names()
    index = known.index(optimizer) if optimizer in known else len(known) + zlib.crc32(optimizer.encode())
    return PALETTE[index % len(PALETTE)]


def colours(optimizers: Iterable[str]) -> dict[str, str]:
    return {name: colour(name) for name in optimizers}


def label(text: str, *, limit: int = 60) -> str:
    """Stored text as plotly must get it to show it literally (it reads <b>, <a href>, entities)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def _hover(trial: TrialView, value: float | None) -> str:
    lookahead = " + Lookahead" if trial.lookahead else ""
    return (
        f"trial {trial.number}: {label(trial.optimizer)}{lookahead}"
        f"<br>lr {trial.lr:.3g}, batch {trial.batch_size}<br>value {value:.5g}"
    )


def sensitivity(digest: StudyDigest) -> go.Figure:
    """Final value against learning rate, one colour per optimizer, pruned trials greyed."""
    colour = colours(digest.optimizers)
    many = len(digest.points) > SCATTER_GL_ABOVE
    scatter = go.Scattergl if many else go.Scatter
    fig = go.Figure()
    for optimizer in digest.optimizers:
        trials = [t for t in digest.points if t.optimizer == optimizer and t.lr is not None]
        if not trials:
            continue
        fig.add_trace(
            scatter(
                x=[t.lr for t in trials],
                y=[t.value for t in trials],
                mode="markers",
                name=label(optimizer),
                marker=dict(
                    color=colour[optimizer],
                    size=8,
                    symbol=["diamond" if t.lookahead else "circle" for t in trials],
                    line=dict(width=0.5, color="white"),
                ),
                hovertext=[_hover(t, t.value) for t in trials],
                hoverinfo="text",
            )
        )
    pruned = [t for t in digest.pruned_points if t.lr is not None]
    if pruned:
        fig.add_trace(
            scatter(
                x=[t.lr for t in pruned],
                y=[t.last_value for t in pruned],
                mode="markers",
                name="pruned (last epoch)",
                marker=dict(color="rgba(120,120,120,0.45)", size=7, symbol="x-thin", line=dict(width=1.5)),
                hovertext=[_hover(t, t.last_value) + "<br>pruned" for t in pruned],
                hoverinfo="text",
            )
        )
    fig.update_layout(**LAYOUT, xaxis_title="learning rate (log scale)", yaxis_title=label(digest.metric))
    fig.update_xaxes(type="log")
    return fig


def learning_curves(digest: StudyDigest) -> go.Figure:
    """Validation value and training loss per epoch of each optimizer's best trial."""
    colour = colours(digest.optimizers)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08)
    for curve in digest.best_curves:
        name = f"{label(curve.optimizer)} (trial {curve.number})"
        line = dict(color=colour[curve.optimizer], width=2)
        epochs = list(range(1, len(curve.values) + 1))
        fig.add_trace(go.Scatter(x=epochs, y=curve.values, name=name, legendgroup=name, line=line), row=1, col=1)
        if curve.train_loss:
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, len(curve.train_loss) + 1)),
                    y=curve.train_loss,
                    name=name,
                    legendgroup=name,
                    showlegend=False,
                    line=dict(line, dash="dot"),
                ),
                row=1,
                col=2,
            )
    fig.update_layout(**LAYOUT, yaxis_title=f"validation {label(digest.metric)}", yaxis2_title="training loss")
    longest = max((len(c.values) for c in digest.best_curves), default=0)
    fig.update_xaxes(title_text="epoch", dtick=1 if longest <= 20 else None)
    return fig


def batch_effect(digest: StudyDigest) -> go.Figure:
    """Quartiles of the final value per batch size, side by side per optimizer."""
    colour = colours(digest.optimizers)
    fig = go.Figure()
    for optimizer in digest.optimizers:
        boxes = [b for b in digest.batch_effect if b.optimizer == optimizer]
        if not boxes:
            continue
        fig.add_trace(
            go.Box(
                name=label(optimizer),
                x=[str(b.batch_size) for b in boxes],
                q1=[b.q1 for b in boxes],
                median=[b.median for b in boxes],
                q3=[b.q3 for b in boxes],
                lowerfence=[b.low for b in boxes],
                upperfence=[b.high for b in boxes],
                marker_color=colour[optimizer],
                hovertext=[f"{label(optimizer)}, batch {b.batch_size}: {b.count} trials" for b in boxes],
            )
        )
    fig.update_layout(**LAYOUT, boxmode="group", xaxis_title="batch size", yaxis_title=label(digest.metric))
    fig.update_xaxes(type="category")
    return fig


def range_test(digest: StudyDigest) -> go.Figure:
    """The learning-rate range test: smoothed training loss against the swept rate."""
    test = digest.range_test
    assert test is not None
    fig = go.Figure(go.Scatter(x=test.lrs, y=test.losses, name=label(test.optimizer),
                               line=dict(color=colour(test.optimizer), width=2)))  # fmt: skip
    if test.suggested_lr is not None:
        fig.add_vline(x=test.suggested_lr, line=dict(dash="dash", color="#6b7280"),
                      annotation_text=f"suggested {test.suggested_lr:.2g} (warm starts ×{test.factor:.3g})")  # fmt: skip
    fig.update_layout(**LAYOUT, xaxis_title="learning rate", yaxis_title="training loss (smoothed)", showlegend=False)
    fig.update_xaxes(type="log")
    return fig


def study_figures(digest: StudyDigest) -> dict[str, go.Figure]:
    """The study page's figures by the id their container has in the page."""
    figures = {
        "sensitivity": sensitivity(digest),
        "curves": learning_curves(digest),
    }
    if len({box.batch_size for box in digest.batch_effect}) >= 2:  # one batch size compares nothing
        figures["batch"] = batch_effect(digest)
    if digest.range_test is not None:
        figures["range_test"] = range_test(digest)
    return figures
