"""The one exception type for user mistakes; the CLI turns it into a message and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: the message names the file, field or flag and the fix."""
