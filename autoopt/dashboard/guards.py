"""WSGI middleware that keeps the dashboard safe by default.

- Host allowlist: a server bound to loopback answers only to loopback names, so a web
  page on another site cannot reach it through DNS rebinding (Ray's CVE-2026-27482 was
  a method blocklist without this).
- Read-only: every method but GET/HEAD is refused unless editing was enabled; the
  optuna-dashboard routes that delete studies or tell trials are all POST/PUT/DELETE.
- With editing enabled, a write must come from the dashboard's own origin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_READ_METHODS = frozenset({"GET", "HEAD"})


def _hostname(host: str) -> str:
    """``example.org:8080`` -> ``example.org``; ``[::1]:8080`` -> ``::1``."""
    return (urlsplit("//" + host).hostname or "").lower()


def _refuse(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    body = message.encode("utf-8")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def guard(app: WSGIApp, *, allowed_hosts: frozenset[str] | None, allow_edit: bool) -> WSGIApp:
    """Wrap ``app``; ``allowed_hosts=None`` accepts any Host (a server bound to a public address)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if allowed_hosts is not None and _hostname(host) not in allowed_hosts:
            return _refuse(
                start_response,
                "403 Forbidden",
                f"Host {host!r} is not allowed: this dashboard is bound to loopback and answers only to "
                f"{', '.join(sorted(allowed_hosts))}. Start it with --host to serve other names.",
            )
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method in _READ_METHODS:
            return app(environ, start_response)
        if not allow_edit:
            return _refuse(
                start_response,
                "405 Method Not Allowed",
                f"The dashboard is read-only, so {method} is refused. Restart it with --allow-edit to "
                "rename, delete or annotate studies from the browser.",
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return _refuse(start_response, "403 Forbidden", f"Cross-origin {method} from {origin!r} is refused.")
        return app(environ, start_response)

    return guarded
