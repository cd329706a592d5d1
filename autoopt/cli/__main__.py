"""``python -m autoopt.cli``: the ``autoopt`` command."""

from autoopt.cli.commands import main

main()
