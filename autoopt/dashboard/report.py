"""A study's page as one self-contained HTML file, to share without a server.

plotly.js, the stylesheet and the script are inlined (about 5 MB), so the file opens
offline in any browser; each figure's camera button saves it as a PNG.

>>> write_report("sqlite:///autoopt.db", "mnist", Path("report.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
from pathlib import Path

import bottle

from autoopt.dashboard.context import Site
from autoopt.dashboard.rendering import page_response
from autoopt.dashboard.storage import open_storage, study_id_from_name
from autoopt.dashboard.study import study_context
from autoopt.errors import UserError

REPORT_PROBLEM_ROWS = 500  # a file, not a server: list the newest pruned and failed trials only


def render_report(site: Site, study_id: int) -> str:
    context = study_context(site, study_id, page=1, per_page=REPORT_PROBLEM_ROWS)
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return site.render("study.html", inline_assets=True, generated_at=generated, **context)


def write_report(storage_url: str, study_name: str, out: Path) -> Path:
    """Write the report of ``study_name`` to ``out`` (HTML) and return the path written.

    Raises UserError when the storage cannot be opened, the study does not exist, or
    ``out`` cannot be written.
    """
    site = Site(open_storage(storage_url), storage_url)
    html = render_report(site, study_id_from_name(site.storage, study_name, storage_url=storage_url))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as error:
        message = f"Cannot write the report to {str(out)!r} ({error.strerror}); pass another --out path."
        raise UserError(message) from None
    return out


def register(app: bottle.Bottle, site: Site) -> None:
    def download(study_id: int) -> bottle.HTTPResponse:
        name = site.study_name(study_id)
        filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "study"
        return page_response(
            render_report(site, study_id),
            headers={"Content-Disposition": f'attachment; filename="autoopt-{filename}.html"'},
        )

    app.route("/studies/<study_id:int>/report.html", "GET", download)
