"""The static files autoopt's pages load: its stylesheet, its script and plotly.js.

plotly.js comes from the installed ``plotly`` package (no CDN: dashboards often run
where there is no internet), so the figures always match the Python side's version.
Files are read once and kept gzip-compressed in memory; plotly.js is 4.8 MB raw.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from importlib import resources

import bottle

PAGE_ASSETS = ("autoopt.css", "autoopt.js", "plotly.min.js")
_MIME = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@functools.cache
def content(name: str) -> bytes:
    """The bytes of asset ``name``; KeyError for any name that is not an asset."""
    if name not in PAGE_ASSETS:
        raise KeyError(name)
    if name == "plotly.min.js":
        return resources.files("plotly").joinpath("package_data", name).read_bytes()
    return resources.files("autoopt.dashboard").joinpath("assets", name).read_bytes()


def text(name: str) -> str:
    return content(name).decode("utf-8")


@functools.cache
def _compressed(name: str) -> bytes:
    return gzip.compress(content(name), compresslevel=6, mtime=0)


@functools.cache
def _etag(name: str) -> str:
    return '"' + hashlib.sha256(content(name)).hexdigest()[:16] + '"'


def response(name: str, *, accept_gzip: bool) -> tuple[bytes, dict[str, str]]:
    """Body and headers for ``GET /assets/<name>``."""
    body = _compressed(name) if accept_gzip else content(name)
    headers = {
        "Content-Type": _MIME[name[name.rfind(".") :]],
        "Cache-Control": "public, max-age=3600",
        "ETag": _etag(name),
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if accept_gzip:
        headers["Content-Encoding"] = "gzip"
    return body, headers


def register(app: bottle.Bottle) -> None:
    """``GET /assets/<name>``: the stylesheet, the script and plotly.js."""

    def serve_asset(name: str) -> bottle.HTTPResponse:
        if name not in PAGE_ASSETS:
            raise bottle.HTTPError(404, f"no asset named {name!r}")
        accept_gzip = "gzip" in bottle.request.headers.get("Accept-Encoding", "")
        body, headers = response(name, accept_gzip=accept_gzip)
        if bottle.request.headers.get("If-None-Match") == headers["ETag"]:
            return bottle.HTTPResponse(status=304, headers=headers)
        return bottle.HTTPResponse(body=body, headers=headers)

    app.route("/assets/<name>", "GET", serve_asset)
