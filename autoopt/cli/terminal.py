"""How the command line writes: consoles that never wrap into a file or a CI log, usage lines as people write them."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import click
from rich.console import Console
from typer.core import TyperCommand

UNWRAPPED_WIDTH = 10_000  # wide enough that no path, table row or reason is ever cut in a pipe


def console_for(stream: TextIO) -> Console:
    """A console on ``stream``: the terminal's width on a terminal; elsewhere lines as long as they are.

    Rich falls back to 80 columns when it writes to a pipe, which splits paths and error
    reasons mid-token in a CI log; ``COLUMNS``, when set, still wins.
    """
    stderr = stream is sys.stderr
    wide = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH if wide else None, soft_wrap=wide)


class Command(TyperCommand):
    """A command whose usage line reads ``autoopt search [OPTIONS] MODEL_FILE``, not Typer's ``{MODEL_FILE}``."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]
