"""The recommendation card: what ``autoopt recommend`` says, as the study page shows it.

The card is built from the study's digest, which holds the recommendation computed from
the trials the page read already; a study with no finished trial gets a note instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autoopt.dashboard.rendering import number
from autoopt.engine.recommend import Recommendation
from autoopt.engine.recommendation_text import TIE_HEADLINE, describe_tied, stop_early_advice


@dataclass(frozen=True)
class RecommendationCard:
    summary: str = ""  # "adamw + Lookahead, batch size 32"
    basis: str = ""  # what the value is a mean of, and its spread
    ties: tuple[str, ...] = ()  # the configurations it cannot be told apart from at the measured noise
    ties_headline: str = TIE_HEADLINE[:1].upper() + TIE_HEADLINE[1:]
    advice: str = ""  # stop early, when its curve is best well before the last epoch
    details: tuple[tuple[str, str], ...] = ()
    line: str = ""  # the PyTorch line to paste; empty when there is no recommendation
    note: str = ""  # why there is none


def setting(value: Any) -> str:
    """A hyperparameter as people write it: ``0.001``, ``(0.9, 0.999)``, ``True``; floats to 4 significant digits."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(setting(v) for v in value) + ")"
    return str(value)


def _basis(rec: Recommendation) -> str:
    if not rec.confirmed:
        return f"{number(rec.value)}: best single trial #{rec.trial_number} (not confirmed on a fresh seed yet)"
    confirmations = rec.n_seeds - 1
    return (
        f"{number(rec.value)} ± {number(rec.value_std)}: mean ± std of trial #{rec.trial_number} and "
        f"{confirmations} confirmation run{'s' * (confirmations > 1)} on fresh seeds ({rec.n_seeds} seeds)"
    )


def recommendation_card(rec: Recommendation | None, *, note: str = "") -> RecommendationCard:
    """The card for ``rec``; ``note`` says why there is none when ``rec`` is None."""
    if rec is None:
        return RecommendationCard(note=note)
    try:
        line = rec.pytorch_line()
    except KeyError as error:  # an optimizer this install does not know
        return RecommendationCard(note=str(error).strip("'\""))
    lookahead = rec.lookahead or {}
    return RecommendationCard(
        summary=f"{rec.optimizer}{' + Lookahead' if lookahead else ''}, batch size {rec.batch_size}",
        basis=f"{_basis(rec)}, out of {rec.n_trials} finished trials",
        ties=tuple(describe_tied(tied) for tied in rec.tied_with),
        advice=stop_early_advice(rec) or "",
        details=(
            ("optimizer", rec.optimizer),
            *((key, setting(value)) for key, value in rec.optimizer_kwargs.items()),
            ("Lookahead", f"k={lookahead['k']}, alpha={setting(lookahead['alpha'])}" if lookahead else "off"),
            ("batch size", str(rec.batch_size)),
        ),
        line=line,
    )
