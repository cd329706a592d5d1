"""Text, table, CSV and JSON views of studies, trials and recommendations."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoopt.recommend import TIE_STANDARD_ERRORS, Recommendation, TiedConfiguration
from autoopt.space import TrialConfig
from autoopt.storage import record, study_id_of
from autoopt.tally import StudySummary, summarize_study

TRIAL_COLUMNS = ("number", "state", "value", "role", "optimizer", "lr", "batch_size", "lookahead", "epochs_run",
                 "wall_time_s", "reason", "optimizer_kwargs")  # fmt: skip


def queued_config(t: FrozenTrial) -> dict[str, Any]:
    """What a queued (WAITING) trial will train, read from the parameters it was queued with.

    Its ``optimizer`` and ``optimizer_kwargs`` attributes are written only when it starts;
    until then the queue holds Optuna's parameter names (``adam.lr``, ``lookahead.k``).
    """
    fixed = t.system_attrs.get("fixed_params") or {}
    optimizer = fixed.get("optimizer")
    prefix = f"{optimizer}."
    kwargs = {key[len(prefix):]: value for key, value in fixed.items()
              if optimizer and key.startswith(prefix) and key != f"{optimizer}.variant"}  # fmt: skip
    lookahead = {"k": fixed["lookahead.k"], "alpha": fixed["lookahead.alpha"]} if "lookahead.k" in fixed else None
    return {record.OPTIMIZER: optimizer, record.OPTIMIZER_KWARGS: kwargs, record.LOOKAHEAD: lookahead,
            record.BATCH_SIZE: fixed.get("batch_size"), **t.user_attrs}  # fmt: skip


def state_name(t: FrozenTrial) -> str:
    """``complete``, ``pruned``, ``fail``, ``running``, or ``queued`` for a trial waiting to be run."""
    return "queued" if t.state == TrialState.WAITING else t.state.name.lower()


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    attrs = queued_config(t) if t.state == TrialState.WAITING else t.user_attrs
    kwargs = attrs.get(record.OPTIMIZER_KWARGS) or {}
    return {
        "number": t.number,
        "state": state_name(t),
        "value": t.value,
        "role": attrs.get(record.ROLE, record.ROLE_SEARCH),
        "optimizer": attrs.get(record.OPTIMIZER),
        "lr": kwargs.get("lr"),
        "batch_size": attrs.get(record.BATCH_SIZE),
        "lookahead": attrs.get(record.LOOKAHEAD),
        "epochs_run": attrs.get(record.EPOCHS_RUN),
        "wall_time_s": attrs.get(record.WALL_TIME),
        "reason": attrs.get(record.FAIL_REASON) or attrs.get(record.PRUNE_REASON),
        "optimizer_kwargs": kwargs,
    }


def print_trials(console: Console, study: optuna.Study, fmt: str) -> None:
    study_name = study.study_name
    rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=TRIAL_COLUMNS)
        writer.writeheader()
        writer.writerows({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()} for row in rows)
        print(buffer.getvalue(), end="")
        return
    table = Table(title=f"trials of {escape(study_name)}")
    for column in ("#", "state", "value", "optimizer", "lr", "bs", "lookahead", "epochs", "reason"):
        table.add_column(column)
    for row in rows:
        la = row["lookahead"]
        table.add_row(
            str(row["number"]), row["state"] + (" (confirm)" if row["role"] == "confirm" else ""),
            "" if row["value"] is None else f"{row['value']:.4g}", str(row["optimizer"] or ""),
            "" if row["lr"] is None else f"{row['lr']:.2e}", str(row["batch_size"] or ""),
            f"k={la['k']} a={la['alpha']:.2f}" if la else "", str(row["epochs_run"] or ""), escape(row["reason"] or ""),
        )  # fmt: skip
    console.print(table)


def study_summaries(storage: optuna.storages.BaseStorage) -> list[StudySummary]:
    """Every study in ``storage``, counted as every screen counts it (``autoopt.tally``)."""
    summaries = []
    for study in storage.get_all_studies():
        trials = storage.get_all_trials(study_id_of(study), deepcopy=False)
        directions = [d.name.lower() for d in study.directions]
        summaries.append(summarize_study(study.study_name, trials, directions, study.user_attrs))
    return summaries


STUDY_COUNT_COLUMNS = ("complete", "confirmations", "pruned", "failed", "running", "queued")


def print_studies(console: Console, storage: optuna.storages.BaseStorage, fmt: str = "table") -> None:
    summaries = study_summaries(storage)
    if fmt == "json":
        print(json.dumps([s.to_dict() for s in summaries], indent=2))
        return
    table = Table(title="studies")
    for column in ("study", "direction", *STUDY_COUNT_COLUMNS, "recommended", "its value"):
        table.add_column(column)
    for s in summaries:
        counts = s.counts.to_dict()
        value = s.recommendation.value if s.recommendation else None
        table.add_row(escape(s.name), s.direction, *(str(counts[c]) for c in STUDY_COUNT_COLUMNS),
                      escape(s.leader or "—"), _value(value))  # fmt: skip
    console.print(table)


def _value(value: float | None, std: float | None = None) -> str:
    """A value to 4 significant digits, with its spread when there is one; "—" when there is no value."""
    if value is None:
        return "—"
    return f"{value:.4g}" if std is None else f"{value:.4g} ± {std:.4g}"


def configuration_label(config: TrialConfig) -> str:
    """A configuration in a few words, e.g. ``adamw lr=0.003 + Lookahead, batch 64``.

    Unlike the progress line's label (``autoopt.progress.describe``, 2 digits), the learning
    rate keeps 4 significant digits: tied configurations often differ only there.
    """
    lr = config.optimizer_kwargs.get("lr")
    lookahead = " + Lookahead" if config.lookahead else ""
    return f"{config.optimizer}{'' if lr is None else f' lr={lr:.4g}'}{lookahead}, batch {config.batch_size}"


TIE_HEADLINE = (f"a statistical tie: at the measured noise (within {TIE_STANDARD_ERRORS:g} standard errors) "
                "it cannot be told apart from")  # fmt: skip


def describe_tied(tied: TiedConfiguration) -> str:
    """e.g. ``adamw lr=0.003, batch 64: 0.08525 ± 0.0003536 over 2 seeds``."""
    return f"{configuration_label(tied.config)}: {_value(tied.value, tied.value_std)} over {tied.n_seeds} seeds"


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


def leaderboard_table(rec: Recommendation) -> Table:
    """How each optimizer did; its screened value carries the study's seed noise when that is known."""
    table = Table(title="how each optimizer did (search trials)",
                  caption="screened: its calibrated defaults trained for all the epochs, ± the seed noise")  # fmt: skip
    for column in ("optimizer", "lookahead", "screened", "trials", "diverged", "best", "median"):
        table.add_column(column)
    for row in rec.leaderboard:
        screened = _value(row.screened, None if row.screened is None else rec.noise)
        table.add_row(escape(row.optimizer), "yes" if row.lookahead else "no", screened, str(row.trials),
                      str(row.diverged or ""), _value(row.best), _value(row.median))  # fmt: skip
    return table


def print_recommendation(console: Console, rec: Recommendation) -> None:
    if rec.confirmed:
        evidence = f" (mean ± std over {rec.n_seeds} seeds, confirmed on fresh seeds)"
    else:
        evidence = " (single run, not confirmed on fresh seeds)"
    console.print(f"[bold]study[/] {escape(rec.study)}: {rec.n_trials} trials, {rec.direction} "
                  f"→ [bold green]{escape(rec.optimizer)}[/] value {_value(rec.value, rec.value_std)}{evidence}")  # fmt: skip
    for line in recommendation_caveats(rec):
        console.print(escape(line), highlight=False, soft_wrap=True)
    console.print("\n[bold]paste this:[/]")
    console.print(f"optimizer = {rec.pytorch_line()}", highlight=False, soft_wrap=True)
    console.print(f"batch_size = {rec.batch_size}", highlight=False)
    console.print(leaderboard_table(rec))
