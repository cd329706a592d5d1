"""Text, table, CSV and JSON views of studies, trials and recommendations."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoopt import record
from autoopt.recommend import Recommendation
from autoopt.storage import open_storage, require_study

TRIAL_COLUMNS = ("number", "state", "value", "role", "optimizer", "lr", "batch_size", "lookahead", "epochs_run",
                 "wall_time_s", "reason", "optimizer_kwargs")  # fmt: skip


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    attrs = t.user_attrs
    kwargs = attrs.get(record.OPTIMIZER_KWARGS, {})
    return {
        "number": t.number,
        "state": t.state.name.lower(),
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


def print_trials(console: Console, study_name: str, storage: str, fmt: str) -> None:
    study = require_study(open_storage(storage), study_name, storage)
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
            "" if row["value"] is None else f"{row['value']:.4g}", str(row["optimizer"]),
            "" if row["lr"] is None else f"{row['lr']:.2e}", str(row["batch_size"]),
            f"k={la['k']} a={la['alpha']:.2f}" if la else "", str(row["epochs_run"] or ""), escape(row["reason"] or ""),
        )  # fmt: skip
    console.print(table)


def print_studies(console: Console, storage_url: str) -> None:
    storage = open_storage(storage_url)
    table = Table(title="studies")
    for column in ("study", "direction", "trials", "complete", "best search value"):
        table.add_column(column)
    for summary in storage.get_all_studies():
        trials = storage.get_all_trials(summary._study_id, deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE
                    and t.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_SEARCH]  # fmt: skip
        best = None
        if complete:
            pick = max if summary.direction.name == "MAXIMIZE" else min
            best = pick(t.value for t in complete)
        table.add_row(escape(summary.study_name), summary.direction.name.lower(), str(len(trials)), str(len(complete)),
                      "" if best is None else f"{best:.4g}")  # fmt: skip
    console.print(table)


def print_recommendation(console: Console, rec: Recommendation) -> None:
    values = rec.confirmed_values
    spread = ""
    if len(values) > 1:
        spread = f" ± {(max(values) - min(values)) / 2:.2g} over {len(values)} seeds (confirmed)"
    else:
        spread = " (single run, not confirmed on fresh seeds)"
    console.print(f"[bold]study[/] {escape(rec.study)}: {rec.n_trials} trials, {rec.direction} "
                  f"→ [bold green]{rec.optimizer}[/] value {rec.value:.4g}{spread}")  # fmt: skip
    console.print("\n[bold]paste this:[/]")
    console.print(f"optimizer = {rec.pytorch_line()}", highlight=False, soft_wrap=True)
    console.print(f"batch_size = {rec.batch_size}", highlight=False)
    table = Table(title="how each optimizer did (search trials)")
    for column in ("optimizer", "lookahead", "trials", "diverged", "best", "median"):
        table.add_column(column)
    for row in rec.leaderboard:
        table.add_row(row.optimizer, "yes" if row.lookahead else "no", str(row.trials), str(row.diverged or ""),
                      "" if row.best is None else f"{row.best:.4g}", "" if row.median is None else f"{row.median:.4g}")  # fmt: skip
    console.print(table)
