"""Database calls that outlive a lost connection.

Every call retries with backoff for up to ``RECONNECT_SECONDS`` when the connection is
lost (the server restarted, the network blinked, SQLite stayed locked); an error that
says a write was wrong is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy

RECONNECT_SECONDS = 60.0
_logger = logging.getLogger("autoopt")
T = TypeVar("T")


def connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says the database went away, not that a write was wrong."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def reconnecting(call: Callable[..., T], *args: Any, seconds: float = RECONNECT_SECONDS, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, retried with backoff while the database connection is lost."""
    deadline, delay, warned = time.monotonic() + seconds, 0.2, False
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if not connection_lost(exc) or time.monotonic() + delay > deadline:
                raise
            if not warned:
                first = str(getattr(exc, "orig", None) or exc.__cause__ or exc).strip().splitlines()
                _logger.warning("autoopt: lost the database connection (%s); retrying for up to %.0f s",
                                first[0] if first else type(exc).__name__, seconds)  # fmt: skip
                warned = True
            time.sleep(delay)
            delay = min(2 * delay, 5.0)
