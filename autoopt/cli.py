"""The ``autoopt`` command line: each command parses, calls the library, prints.

Only the light modules are imported here: torch, Optuna, Ray and the search engine load
inside the commands that use them, so ``--help`` and every mistake that needs no model
(a missing file, a bad flag, a typo in ``--storage``) answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from autoopt.errors import UserError
from autoopt.storage import (
    STORAGE_ENV,
    STORAGE_HELP,
    default_storage,
    normalize_url,
    require_existing_sqlite,
    require_study_name,
)
from autoopt.task import check_model_path
from autoopt.terminal import Command, console_for

app = typer.Typer(
    help="Find which PyTorch optimizer suits your model, and how to set it.\n\n"
    "Example: autoopt search studies/digits.toml  then  autoopt recommend digits\n\n"
    f"Trials go to the database of --storage; without it, ${STORAGE_ENV}, else sqlite:///autoopt.db.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = console_for(sys.stdout)
err = console_for(sys.stderr)

StorageOpt = Annotated[
    str | None,
    typer.Option("--storage", help=f"SQLAlchemy URL of the trial database (or set ${STORAGE_ENV})", show_default=STORAGE_HELP),
]
StudyArg = Annotated[str, typer.Argument(help="Study name", metavar="STUDY")]


def reading_storage(storage: str | None, *, study: str | None = None) -> str:
    """The storage a reading command opens; a missing SQLite file is an error, never a new empty database.

    With ``study``, a name the storage does not hold is answered here too, before Optuna loads.
    """
    url = storage or default_storage()
    require_existing_sqlite(url)
    normalize_url(url)  # a URL that is none is answered before Optuna loads
    if study is not None:
        require_study_name(url, study)
    return url


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``adam.lr=1e-4:1e-2`` (a range) or ``lion.beta1=0.9`` (fixed) -> a [space] table."""
    table: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise UserError(f"--set {item!r}: write OPTIMIZER.PARAM=LOW:HIGH or OPTIMIZER.PARAM=VALUE, e.g. adam.lr=1e-4:1e-2.")
        try:
            value: Any = [float(v) if "." in v or "e" in v.lower() else int(v) for v in raw.split(":")]
        except ValueError:
            raise UserError(f"--set {item!r}: {raw!r} is not a number or a LOW:HIGH range.") from None
        table.setdefault(section.strip(), {})[name.strip()] = value if len(value) == 2 else value[0]
    return table


@app.command(cls=Command)
def search(
    model_file: Annotated[Path, typer.Argument(help="Your model.py (or a study .toml whose \\[study] model names it)", metavar="MODEL_FILE", show_default=False)],
    study: Annotated[str | None, typer.Option(help="Study name", show_default="the model file's stem")] = None,
    storage: StorageOpt = None,
    budget: Annotated[int | None, typer.Option(help="Full trainings (E epochs each) the study may spend: range test, screen, search and confirmations together; resumed runs included", show_default="30")] = None,
    trials: Annotated[int | None, typer.Option(help="At most this many screen and search trials, resumed runs included", show_default="no limit but --budget")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per trial", show_default="the model file's `epochs`, else 10")] = None,
    timeout: Annotated[float | None, typer.Option(help="Time budget of the whole search, in seconds")] = None,
    trial_timeout: Annotated[float | None, typer.Option(help="Time limit of one trial, in seconds")] = None,
    retries: Annotated[int | None, typer.Option(help="Re-run a trial lost to a crash (worker died, no heartbeat) this many times, same params", show_default="1")] = None,
    epoch_budget: Annotated[int | None, typer.Option(help="Stop starting search trials once this many epochs were trained (this run)")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed: the same seed gives the same trials and values on CPU")] = None,
    jobs: Annotated[int | None, typer.Option(help="Trials run in parallel processes on this machine", show_default="1")] = None,
    fuse: Annotated[str | None, typer.Option(help="Train K trials of one optimizer family at once as one vmapped model: K or auto", show_default="1")] = None,
    optimizers: Annotated[str | None, typer.Option(help="Comma-separated optimizers, e.g. adam,adamw,sgd,lion", show_default="every registered one")] = None,
    config: Annotated[Path | None, typer.Option(help="Study file (TOML) that narrows the search space")] = None,
    lookahead: Annotated[str | None, typer.Option(help="Lookahead wrapper: search, on or off")] = None,
    batch_sizes: Annotated[str | None, typer.Option(help="Comma-separated batch sizes, e.g. 32,64,128")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Narrow or fix a hyperparameter: adam.lr=1e-4:1e-2, lion.beta1=0.9")] = None,
    sampler: Annotated[str | None, typer.Option(help="tpe or random", show_default="tpe")] = None,
    pruner: Annotated[str | None, typer.Option(help="auto (prune only at epochs whose rankings held until the end), asha, hyperband or none", show_default="auto")] = None,
    confirm_top: Annotated[int | None, typer.Option(help="Re-train this many best configurations on fresh seeds", show_default="5")] = None,
    confirm_seeds: Annotated[int | None, typer.Option(help="Seeds each re-trained configuration reaches; the leaders get twice as many", show_default="2")] = None,
    warm_start: Annotated[bool | None, typer.Option("--warm-start/--no-warm-start", help="Screen every optimizer at its defaults, all epochs, first", show_default="on")] = None,
    race: Annotated[bool | None, typer.Option("--race/--no-race", help="Search only the optimizers whose screen came within noise of the best", show_default="on")] = None,
    calibrate: Annotated[bool | None, typer.Option("--calibrate/--no-calibrate", help="Scale the warm starts' learning rates by a short range test first", show_default="on")] = None,
    backend: Annotated[str | None, typer.Option(help="local or ray", show_default="local")] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address: auto, ray://HEAD:10001", show_default="start a local Ray")] = None,
    cpus_per_trial: Annotated[float | None, typer.Option(help="CPUs each Ray trial reserves", show_default="1")] = None,
    gpus_per_trial: Annotated[float | None, typer.Option(help="GPUs each Ray trial reserves; fractions share a GPU", show_default="0")] = None,
) -> None:
    """Search optimizers and their settings for MODEL_FILE; trials go to --storage, resumable.

    Examples:

      autoopt search model.py --budget 30 --epochs 10

      autoopt search model.py --optimizers adam,lion --set adam.lr=1e-4:1e-2 --jobs 2

      autoopt search studies/digits.toml --storage postgresql://user@host/db
    """
    flags = {"study": study, "storage": storage, "budget": budget, "trials": trials, "epochs": epochs, "timeout": timeout,
             "trial_timeout": trial_timeout, "retries": retries, "epoch_budget": epoch_budget, "seed": seed, "jobs": jobs, "sampler": sampler, "pruner": pruner,
             "confirm_top": confirm_top, "confirm_seeds": confirm_seeds, "warm_start": warm_start,
             "race": race, "calibrate": calibrate,
             "backend": backend, "address": address, "cpus_per_trial": cpus_per_trial,
             "gpus_per_trial": gpus_per_trial, "fuse": int(fuse) if fuse and fuse.isdigit() else fuse}  # fmt: skip
    if model_file.suffix == ".toml":
        if not model_file.is_file():
            raise UserError(f"{model_file}: no such study file; pass an existing study .toml or your model.py.")
    else:
        check_model_path(model_file)  # before the heavy imports: a typo is answered at once
    from autoopt.engine import search as run_search
    from autoopt.progress import RichProgress
    from autoopt.spec import build_spec

    table = _parse_set(set_ or [])
    if optimizers is not None:
        table["optimizers"] = [name.strip() for name in optimizers.split(",") if name.strip()]
    if lookahead is not None:
        table["lookahead"] = lookahead
    if batch_sizes is not None:
        try:
            table["batch_size"] = [int(size) for size in batch_sizes.split(",")]
        except ValueError:
            raise UserError(f"--batch-sizes {batch_sizes!r}: a comma-separated list of integers, e.g. 32,64,128.") from None
    spec = build_spec(model_file, config=config, overrides={k: v for k, v in flags.items() if v is not None},
                      space_table=table)  # fmt: skip
    try:
        result = run_search(spec, progress=RichProgress(err))
    except KeyboardInterrupt:
        err.print("interrupted: finished trials are stored; run the same command again to resume.")
        raise typer.Exit(130) from None
    out.print(f"next: autoopt recommend {spec.study_name!r} --storage {spec.storage}", highlight=False, soft_wrap=True)
    del result


@app.command(cls=Command)
def recommend(
    study: StudyArg,
    storage: StorageOpt = None,
    format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Say which optimizer and settings to use, with the evidence, or as JSON.

    Example: autoopt recommend digits --format json
    """
    if format not in ("text", "json"):
        raise UserError(f"--format must be text or json, but got {format!r}.")
    url = reading_storage(storage, study=study)
    from autoopt.storage import load_existing_study

    found = load_existing_study(study, url)
    from autoopt import listing
    from autoopt.recommend import recommendation_for, to_json

    rec = recommendation_for(found)
    if format == "json":
        print(to_json(rec))
        return
    listing.print_recommendation(out, rec)


@app.command(cls=Command)
def studies(
    storage: StorageOpt = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List the studies in a storage: trials by state, confirmations apart, and the recommended optimizer.

    Example: autoopt studies --storage sqlite:///autoopt.db
    """
    if format not in ("table", "json"):
        raise UserError(f"--format must be table or json, but got {format!r}.")
    url = reading_storage(storage)
    from autoopt.storage import open_storage

    opened = open_storage(url, create=False)  # a bad URL or server is answered before the heavy imports
    from autoopt import listing

    listing.print_studies(out, opened, format)


@app.command(cls=Command)
def trials(
    study: StudyArg,
    storage: StorageOpt = None,
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Show a study's trials as a table, or export them as CSV or JSON.

    Example: autoopt trials digits --format csv > trials.csv
    """
    if format not in ("table", "csv", "json"):
        raise UserError(f"--format must be table, csv or json, but got {format!r}.")
    url = reading_storage(storage, study=study)
    from autoopt.storage import load_existing_study

    found = load_existing_study(study, url)
    from autoopt import listing

    listing.print_trials(out, found, format)


@app.command(cls=Command)
def dashboard(
    storage: StorageOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind; anything but loopback exposes your trials")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8080,
    allow_edit: Annotated[bool, typer.Option("--allow-edit", help="Let optuna-dashboard's views change studies")] = False,
    allowed_host: Annotated[list[str] | None, typer.Option("--allowed-host", help="Host names to answer to when bound beyond loopback (e.g. in a container); repeatable")] = None,
) -> None:
    """Serve the web dashboard of every study in --storage, live while searches run.

    Example: autoopt dashboard --port 8080   then open http://127.0.0.1:8080
    """
    url = reading_storage(storage)
    from autoopt.dashboard import serve  # the dashboard extra is optional

    serve(url, host=host, port=port, allow_edit=allow_edit,
          allowed_hosts=frozenset(allowed_host) if allowed_host else None)


@app.command(cls=Command)
def report(
    study: StudyArg,
    storage: StorageOpt = None,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
) -> None:
    """Write a study's dashboard page as one self-contained HTML file, to share without a server.

    Example: autoopt report digits --out digits.html
    """
    url = reading_storage(storage, study=study)
    from autoopt.storage import load_existing_study

    load_existing_study(study, url)  # a storage that cannot be read is answered before the dashboard's imports
    from autoopt.dashboard import write_report

    written = write_report(url, study, out_file)
    out.print(f"wrote {written}", highlight=False)


def _add_sweep_commands() -> None:
    try:
        from autoopt.sweep_cli import sweep_app
    except ImportError:  # Ray is an optional extra; `autoopt sweep` says so when missing
        return
    app.add_typer(sweep_app, name="sweep")


_add_sweep_commands()


def main() -> None:
    """Entry point: user mistakes end in one paragraph and exit code 2, never a traceback."""
    try:
        app()
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
