"""Text, table, CSV and JSON views of studies, trials and recommendations."""

from __future__ import annotations

import csv
import io
import json

import optuna
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoopt.engine.recommend import Recommendation
from autoopt.engine.recommendation_text import recommendation_caveats, value_text
from autoopt.storage import study_id_of
from autoopt.engine.tally import StudySummary, summarize_study
from autoopt.engine.trial_rows import TRIAL_COLUMNS, trial_row


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
    """Every study in ``storage``, counted as every screen counts it (``autoopt.engine.tally``)."""
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
                      escape(s.leader or "—"), value_text(value))  # fmt: skip
    console.print(table)


def leaderboard_table(rec: Recommendation) -> Table:
    """How each optimizer did; its screened value carries the study's seed noise when that is known."""
    table = Table(title="how each optimizer did (search trials)",
                  caption="screened: its calibrated defaults trained for all the epochs, ± the seed noise")  # fmt: skip
    for column in ("optimizer", "lookahead", "screened", "trials", "diverged", "best", "median"):
        table.add_column(column)
    for row in rec.leaderboard:
        screened = value_text(row.screened, None if row.screened is None else rec.noise)
        table.add_row(escape(row.optimizer), "yes" if row.lookahead else "no", screened, str(row.trials),
                      str(row.diverged or ""), value_text(row.best), value_text(row.median))  # fmt: skip
    return table


def print_recommendation(console: Console, rec: Recommendation) -> None:
    if rec.confirmed:
        evidence = f" (mean ± std over {rec.n_seeds} seeds, confirmed on fresh seeds)"
    else:
        evidence = " (single run, not confirmed on fresh seeds)"
    console.print(f"[bold]study[/] {escape(rec.study)}: {rec.n_trials} trials, {rec.direction} "
                  f"→ [bold green]{escape(rec.optimizer)}[/] value {value_text(rec.value, rec.value_std)}{evidence}")  # fmt: skip
    for line in recommendation_caveats(rec):
        console.print(escape(line), highlight=False, soft_wrap=True)
    console.print("\n[bold]paste this:[/]")
    console.print(f"optimizer = {rec.pytorch_line()}", highlight=False, soft_wrap=True)
    console.print(f"batch_size = {rec.batch_size}", highlight=False)
    console.print(leaderboard_table(rec))
