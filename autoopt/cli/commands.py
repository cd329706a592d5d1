"""The ``autoopt`` command line: each command parses, calls the library, prints.

Only the light modules are imported here: torch, Optuna, Ray and the search engine load
inside the commands that use them, so ``--help`` and every mistake that needs no model
(a missing file, a bad flag, a typo in ``--storage``) answer at once.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from autoopt.engine import settings as search_settings
from autoopt.errors import UserError
from autoopt.engine.param_names import split_param_name
from autoopt.storage import (
    STORAGE_ENV,
    given_or_default_storage,
    normalize_url,
    require_existing_sqlite,
    require_study_name,
)
from autoopt.training.task import check_model_path
from autoopt.cli.terminal import Command, console_for

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

_STORAGE = search_settings.BY_NAME["storage"]
StorageOpt = Annotated[str | None, typer.Option(_STORAGE.flag, help=_STORAGE.help, show_default=_STORAGE.help_default)]
StudyArg = Annotated[str, typer.Argument(help="Study name", metavar="STUDY")]


def reading_storage(storage: str | None, *, study: str | None = None) -> str:
    """The storage a reading command opens; a missing SQLite file is an error, never a new empty database.

    With ``study``, a name the storage does not hold is answered here too, before Optuna loads.
    """
    url = given_or_default_storage(storage)
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
        names = split_param_name(key)
        if not sep or names is None:
            raise UserError(f"--set {item!r}: write OPTIMIZER.PARAM=LOW:HIGH or OPTIMIZER.PARAM=VALUE, e.g. adam.lr=1e-4:1e-2.")
        section, name = names
        flag = raw.strip().lower()
        if flag in ("true", "false"):  # an on/off hyperparameter: sgd.nesterov=true
            table.setdefault(section.strip(), {})[name.strip()] = flag == "true"
            continue
        try:
            value: Any = [float(v) if "." in v or "e" in v.lower() else int(v) for v in raw.split(":")]
        except ValueError:
            raise UserError(f"--set {item!r}: {raw!r} is not a number, a LOW:HIGH range, true or false.") from None
        table.setdefault(section.strip(), {})[name.strip()] = value if len(value) == 2 else value[0]
    return table


def _setting_option(setting: search_settings.Setting) -> inspect.Parameter:
    """The ``autoopt search`` option of one search setting; ``None`` (not given) leaves the study file's value."""
    decls = [f"{setting.flag}/--no-{setting.flag[2:]}"] if setting.kind is bool else [setting.flag]
    value_type = {(int, str): str}.get(setting.kind, setting.kind)  # --fuse's text is read by from_flag
    option = typer.Option(*decls, help=setting.help, show_default=setting.help_default or False)
    return inspect.Parameter(setting.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[value_type | None, option])  # fmt: skip


def with_setting_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per search setting (``autoopt.engine.settings.SETTINGS``), after its own
    parameters; Typer reads the options from ``__signature__`` and passes them in ``**settings``.

    Generated rather than written out so that a setting's flag, type, default and help are
    declared once, with its study-file key and its check.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    options = [_setting_option(s) for s in search_settings.SETTINGS]
    command.__signature__ = signature.replace(parameters=[*own, *options])  # type: ignore[attr-defined]
    return command


SPACE_PANEL = "Search space (\\[space] in a study file)"


@app.command(cls=Command)
@with_setting_options
def search(
    model_file: Annotated[Path, typer.Argument(help="Your model.py (or a study .toml whose \\[study] model names it)", metavar="MODEL_FILE", show_default=False)],
    config: Annotated[Path | None, typer.Option(help="Study file (TOML): settings in \\[study], the search space in \\[space]")] = None,
    optimizers: Annotated[str | None, typer.Option(help="Comma-separated optimizers, e.g. adam,adamw,sgd,lion", show_default="every registered one", rich_help_panel=SPACE_PANEL)] = None,
    lookahead: Annotated[str | None, typer.Option(help="Lookahead wrapper: search, on or off", rich_help_panel=SPACE_PANEL)] = None,
    batch_sizes: Annotated[str | None, typer.Option(help="Comma-separated batch sizes, e.g. 32,64,128", rich_help_panel=SPACE_PANEL)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Narrow or fix a hyperparameter: adam.lr=1e-4:1e-2, lion.beta1=0.9", rich_help_panel=SPACE_PANEL)] = None,
    **settings: Any,
) -> None:
    """Search optimizers and their settings for MODEL_FILE; trials go to --storage, resumable.

    Every option but --config is a study file's \\[study] key too (trial_timeout; --study: name).

    Examples:

      autoopt search model.py --budget 30 --epochs 10

      autoopt search model.py --optimizers adam,lion --set adam.lr=1e-4:1e-2 --jobs 2

      autoopt search studies/digits.toml --storage postgresql://user@host/db
    """
    if model_file.suffix == ".toml":
        if not model_file.is_file():
            raise UserError(f"{model_file}: no such study file; pass an existing study .toml or your model.py.")
    else:
        check_model_path(model_file)  # before the heavy imports: a typo is answered at once
    from autoopt.engine.run import search as run_search
    from autoopt.cli.progress import RichProgress
    from autoopt.engine.spec import build_spec

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
    spec = build_spec(model_file, config=config, overrides=search_settings.from_flags(settings), space_table=table)
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
    from autoopt.cli import listing
    from autoopt.engine.recommend import recommendation_for, to_json

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
    from autoopt.cli import listing

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
    from autoopt.cli import listing

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
        from autoopt.cli.sweeps import sweep_app
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
