"""The commands: parse, call the library, print. ``autoopt`` (``commands.py``) and ``autoopt sweep``
(``sweeps.py``), the tables and listings (``listing.py``), the live progress of a search
(``progress.py``, the terminal view of ``autoopt.engine.search_progress``), and how the
command line writes (``terminal.py``). Nothing here is needed to use autoopt as a library.
"""

from autoopt.cli.commands import app, main

__all__ = ["app", "main"]
