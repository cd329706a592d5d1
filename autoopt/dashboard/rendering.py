"""HTML from templates, escaped by default, and the headers every page is sent with.

Jinja2 autoescapes every value, so a study name or a stored reason such as
``<script>...</script>`` is shown as text. Figures travel as JSON inside
``<script type="application/json">`` blocks, which browsers never execute; ``<``, ``>``
and ``&`` are written as ``\\u`` escapes there so stored text cannot close the block.
"""

from __future__ import annotations

import math
from typing import Any

import bottle
import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from autoopt.dashboard import assets

# Plotly's WebGL traces (many points, parallel coordinates) compile shaders with eval.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def figure_json(fig: go.Figure) -> Markup:
    """A figure as JSON that is safe inside a ``<script type="application/json">`` block."""
    text = fig.to_json(engine="json")
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def number(value: float | None, digits: int = 4) -> str:
    """A metric value for tables: 4 significant digits, '—' when there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}"


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("autoopt.dashboard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["number"] = number
_environment.filters["figure_json"] = figure_json


def render(template: str, *, inline_assets: bool = False, **context: Any) -> str:
    """Render ``template``; ``inline_assets`` embeds CSS and JS for a self-contained file."""
    inline = {name: Markup(assets.text(name)) for name in assets.PAGE_ASSETS} if inline_assets else None
    return _environment.get_template(template).render(inline=inline, **context)


def page_response(html: str, *, status: int = 200, headers: dict[str, str] | None = None) -> bottle.HTTPResponse:
    """An HTML page with the security headers every autoopt page carries."""
    return bottle.HTTPResponse(body=html, status=status, headers={**PAGE_HEADERS, **(headers or {})})
