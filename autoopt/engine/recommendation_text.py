"""The recommendation in words: the same sentences on the command line and on the dashboard.

``autoopt recommend`` prints them (``autoopt.cli.listing``); the dashboard's recommendation
card shows them (``autoopt.dashboard.recommendation``).
"""

from __future__ import annotations

from typing import Any

from autoopt.engine.evidence import TIE_STANDARD_ERRORS
from autoopt.engine.recommend import Recommendation, TiedConfiguration
from autoopt.trial_config import TrialConfig


def value_text(value: float | None, std: float | None = None) -> str:
    """A value to 4 significant digits, with its spread when there is one; "—" when there is no value."""
    if value is None:
        return "—"
    return f"{value:.4g}" if std is None else f"{value:.4g} ± {std:.4g}"


def configuration_label(config: TrialConfig) -> str:
    """A configuration in a few words, e.g. ``adamw lr=0.003 + Lookahead, batch 64``.

    Unlike the progress line's label (``autoopt.cli.progress.describe``, 2 digits), the learning
    rate keeps 4 significant digits: tied configurations often differ only there.
    """
    kwargs = config.optimizer_kwargs
    lr = kwargs.get("lr")
    lookahead = " + Lookahead" if config.lookahead else ""
    return f"{config.optimizer}{_sgd_form(kwargs)}{'' if lr is None else f' lr={lr:.4g}'}{lookahead}, batch {config.batch_size}"


def _sgd_form(kwargs: dict[str, Any]) -> str:
    """`` nesterov 0.9``, `` momentum 0.9`` or `` plain`` for SGD (ties often differ only there); else ""."""
    if "nesterov" not in kwargs:
        return ""
    momentum = kwargs.get("momentum") or 0.0
    return " plain" if not momentum else f" {'nesterov' if kwargs['nesterov'] else 'momentum'} {momentum:.3g}"


TIE_HEADLINE = (f"a statistical tie: at the measured noise (within {TIE_STANDARD_ERRORS:g} standard errors) "
                "it cannot be told apart from")  # fmt: skip


def describe_tied(tied: TiedConfiguration) -> str:
    """e.g. ``adamw lr=0.003, batch 64: 0.08525 ± 0.0003536 over 2 seeds``."""
    return f"{configuration_label(tied.config)}: {value_text(tied.value, tied.value_std)} over {tied.n_seeds} seeds"


def stop_early_advice(rec: Recommendation) -> str | None:
    """What to do when the recommended configuration's mean curve is best well before the last epoch."""
    curve = rec.curve
    if curve is None or not curve.stop_early:
        return None
    return (f"trains best for {curve.best_epoch} epochs: {curve.value_at_best_epoch:.4g}; at {curve.epochs} epochs "
            f"{curve.value_at_end:.4g} — stop early or use fewer epochs")  # fmt: skip


def recommendation_caveats(rec: Recommendation) -> list[str]:
    """What the evidence says beyond the value: ties at the measured noise, and a curve that is best early."""
    lines = [TIE_HEADLINE, *(f"  {describe_tied(tied)}" for tied in rec.tied_with)] if rec.tied_with else []
    advice = stop_early_advice(rec)
    return lines + ([advice] if advice else [])
