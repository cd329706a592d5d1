"""``autoopt dashboard``: serve the app on one port with a threaded server from the stdlib.

The server is wsgiref with one thread per request: enough for the handful of people
who watch a search, and it needs nothing installed. For a shared deployment, run
``create_app`` under gunicorn or uWSGI instead.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Collection
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _wsgiref_server

from autoopt.dashboard.app import create_app
from autoopt.dashboard.guards import LOOPBACK_NAMES, WSGIApp
from autoopt.dashboard.storage import redacted
from autoopt.errors import UserError


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # Ctrl+C must not wait for a browser's open connection
    allow_reuse_address = True


class ThreadingServerV6(ThreadingServer):
    address_family = socket.AF_INET6


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """No line per request: the terminal belongs to the search running beside it."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowlist(host: str, allowed_hosts: Collection[str] | None) -> frozenset[str] | None:
    """The Host names to answer: those given; else loopback names when bound to loopback; else any (None).

    A container binds 0.0.0.0 but is reached as localhost through a published port: give
    ``allowed_hosts`` there to keep the DNS-rebinding defence.
    """
    if allowed_hosts is not None:
        return frozenset(name.lower() for name in allowed_hosts)
    return LOOPBACK_NAMES if is_loopback(host) else None


def make_server(app: WSGIApp, *, host: str, port: int) -> ThreadingServer:
    """A server for ``app`` bound to ``host:port`` (port 0: any free port); not yet serving."""
    server_class = ThreadingServerV6 if ":" in host else ThreadingServer
    try:
        return _wsgiref_server(host.strip("[]"), port, app, server_class=server_class, handler_class=QuietHandler)
    except OSError as error:
        raise UserError(
            f"Cannot listen on {host}:{port} ({error.strerror or error}). Pass another --port, "
            "or a --host that belongs to this machine."
        ) from None


def url_of(server: ThreadingServer, host: str) -> str:
    port = server.server_address[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    storage_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    allow_edit: bool = False,
    allowed_hosts: Collection[str] | None = None,
) -> None:
    """Serve the dashboard of every study in ``storage_url`` until Ctrl+C.

    Bound to loopback it answers only to loopback Host names (DNS-rebinding defence;
    ``allowed_hosts`` replaces that list); it is read-only unless ``allow_edit``. Raises
    UserError for an unreachable storage or a port that is taken.
    """
    names = host_allowlist(host, allowed_hosts)
    app = create_app(storage_url, allow_edit=allow_edit, allowed_hosts=names)
    server = make_server(app, host=host, port=port)
    print(f"autoopt dashboard for {redacted(storage_url)}: {url_of(server, host)}  (Ctrl+C stops it)", flush=True)
    if names is None:
        print(
            f"warning: listening on {host} for any Host name, so anyone who can reach this port can read "
            f"every study{' and edit it' if allow_edit else ''}; there is no login.",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
