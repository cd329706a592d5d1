"""``autoopt sweep``: schedule searches on a Ray cluster and follow them; each command parses, calls, prints."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from autoopt import sweep
from autoopt.errors import UserError
from autoopt.cli.terminal import Command, console_for

sweep_app = typer.Typer(
    help="Run searches as jobs on a Ray cluster: submit, then follow them from your laptop.\n\n"
    "Reach the cluster's job server through an SSH tunnel (ssh -L 8265:127.0.0.1:8265 HEAD); "
    "never expose port 8265, it runs any code it is sent.",
    no_args_is_help=True,
)
out = console_for(sys.stdout)

AddressOpt = Annotated[
    str,
    typer.Option("--address", envvar="RAY_API_SERVER_ADDRESS", help="The Ray cluster's job server (dashboard) URL"),
]
SweepId = Annotated[str, typer.Argument(help="The sweep's id, as `autoopt sweep submit` printed it", metavar="SWEEP_ID")]


@sweep_app.command(cls=Command)
def submit(
    study_file: Annotated[Path, typer.Argument(help="Study file (.toml); its folder travels to the cluster", metavar="STUDY_FILE")],
    address: AddressOpt = sweep.DEFAULT_ADDRESS,
    storage: Annotated[str | None, typer.Option(help="Database URL the cluster writes trials to [default: the study file's]")] = None,
    study: Annotated[str | None, typer.Option(help="Study name [default: the study file's]")] = None,
) -> None:
    """Schedule STUDY_FILE's search on the cluster and print the sweep's id at once.

    Example: autoopt sweep submit studies/digits.toml --storage postgresql://autoopt@db:5432/autoopt
    """
    sweep_id = sweep.submit(study_file, address=address, storage=storage, study=study)
    out.print(sweep_id, highlight=False, soft_wrap=True)


@sweep_app.command(cls=Command)
def status(sweep_id: SweepId, address: AddressOpt = sweep.DEFAULT_ADDRESS) -> None:
    """Say whether a sweep is pending, running, stopped, succeeded or failed."""
    info = sweep.status(sweep_id, address=address)
    out.print(f"{info.id}  {info.status}  study {info.study}  {info.message}".rstrip(), highlight=False, soft_wrap=True)


@sweep_app.command(cls=Command)
def logs(
    sweep_id: SweepId,
    address: AddressOpt = sweep.DEFAULT_ADDRESS,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the sweep ends")] = False,
) -> None:
    """Print a sweep's output (the search's progress lines)."""
    if follow:
        for chunk in sweep.follow(sweep_id, address=address):
            print(chunk, end="", flush=True)
    else:
        print(sweep.logs(sweep_id, address=address), end="")


@sweep_app.command(cls=Command)
def stop(sweep_id: SweepId, address: AddressOpt = sweep.DEFAULT_ADDRESS) -> None:
    """Stop a sweep; its finished trials stay in the database, and submitting it again resumes it."""
    if not sweep.stop(sweep_id, address=address):
        raise UserError(f"sweep {sweep_id} had already ended ({sweep.status(sweep_id, address=address).status}).")
    out.print(f"stopping {sweep_id}", highlight=False)


@sweep_app.command("list", cls=Command)
def list_(address: AddressOpt = sweep.DEFAULT_ADDRESS) -> None:
    """List the cluster's sweeps, newest first: id, status, start time, study."""
    for info in sweep.list_sweeps(address=address):  # plain lines: ids are copied whole, never cut to fit
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.start_time)) if info.start_time else "-"
        out.print(f"{info.id}  {info.status:<9}  {started}  {info.study}", highlight=False, soft_wrap=True)
