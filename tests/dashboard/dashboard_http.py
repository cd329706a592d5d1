"""Requests to the WSGI app in process, and reading the HTML it answers."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from wsgiref.util import setup_testing_defaults


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(app: Any, path: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b"") -> Reply:
    """One request to a WSGI app, in process."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    route, _, query = path.partition("?")
    environ.update(REQUEST_METHOD=method, PATH_INFO=route, QUERY_STRING=query, CONTENT_LENGTH=str(len(body)))
    environ["wsgi.errors"] = sys.stderr  # a handler's traceback shows in the failing test's output
    environ["wsgi.input"].write(body)
    environ["wsgi.input"].seek(0)
    for key, value in (headers or {}).items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=int(status.split()[0]), headers=dict(response_headers))

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return Reply(started["status"], started["headers"], data)


class _Collector(HTMLParser):
    def __init__(self, attribute: str) -> None:
        super().__init__()
        self.attribute = attribute
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if any(name == self.attribute for name, _ in attrs):
            self.found.append(dict(attrs))


def tagged(html: str, attribute: str) -> list[dict[str, str | None]]:
    """The attributes of every element that carries ``attribute``, in document order."""
    collector = _Collector(attribute)
    collector.feed(html)
    return collector.found


def leaderboard_rows(html: str) -> dict[str, float | None]:
    """Optimizer -> best value, as the leaderboard table states them."""
    rows = tagged(html.split('id="leaderboard"', 1)[1].split("</section>", 1)[0], "data-optimizer")
    return {row["data-optimizer"]: float(row["data-best"]) if row["data-best"] else None for row in rows}
