"""The recommendation card: what ``autoopt recommend`` says, as the study page shows it.

``recommend`` re-reads the whole study, so its answer is cached until the number of
finished trials changes; a study with no finished trial gets a note instead of a card.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from autoopt.errors import UserError
from autoopt.recommend import recommend


@dataclass(frozen=True)
class RecommendationCard:
    summary: str = ""  # "adamw + Lookahead, batch size 32"
    basis: str = ""  # what the value is a mean of
    details: tuple[tuple[str, str], ...] = ()
    line: str = ""  # the PyTorch line to paste; empty when there is no recommendation
    note: str = ""  # why there is none


@functools.lru_cache(maxsize=64)
def recommendation_card(storage_url: str, study_name: str, finished: int) -> RecommendationCard:
    """The card for ``study_name``; ``finished`` (the finished-trial count) keys the cache."""
    try:
        rec = recommend(study_name, storage_url)
        line = rec.pytorch_line()
    except (UserError, KeyError) as error:  # KeyError: an optimizer this install does not know
        return RecommendationCard(note=str(error).strip("'\""))
    runs = len(rec.confirmed_values)
    basis = (
        f"{rec.value:.4g}: mean of trial #{rec.trial_number} and {runs - 1} confirmation run{'s' * (runs > 2)}"
        if runs > 1
        else f"{rec.value:.4g}: best single trial #{rec.trial_number} (no confirmation run yet)"
    )
    lookahead = rec.lookahead or {}
    return RecommendationCard(
        summary=f"{rec.optimizer}{' + Lookahead' if lookahead else ''}, batch size {rec.batch_size}",
        basis=f"{basis}, out of {rec.n_trials} finished trials",
        details=(
            ("optimizer", rec.optimizer),
            *((key, json.dumps(value)) for key, value in rec.optimizer_kwargs.items()),
            ("lookahead", json.dumps(rec.lookahead)),
            ("batch_size", str(rec.batch_size)),
        ),
        line=line,
    )
