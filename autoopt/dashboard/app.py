"""One WSGI app on one port: autoopt's pages next to optuna-dashboard, behind the guards.

optuna-dashboard's single-page app hard-codes its URLs (``/dashboard``, ``/api``,
``/static``), so it cannot live under a prefix. Requests are therefore dispatched by
path: optuna-dashboard's own routes go to its app unchanged, everything else to
autoopt's pages. Both read through the same cached storage.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import bottle
import optuna.exceptions
import optuna_dashboard
import sqlalchemy.exc
from optuna.storages import BaseStorage

from autoopt.dashboard import assets, compare, report, studies, study
from autoopt.dashboard.context import Site
from autoopt.dashboard.guards import LOOPBACK_NAMES, WSGIApp, guard
from autoopt.dashboard.rendering import page_response
from autoopt.dashboard.storage import open_storage
from autoopt.errors import UserError
from autoopt.storage import study_id_of

OPTUNA_DASHBOARD_ROUTES = re.compile(
    r"^/(dashboard|api|static|csv|artifacts|incompatible-rdb-schema)(/|$)|^/favicon\.ico$"
)


def _error_page(site: Site, status: int, title: str, message: str) -> bottle.HTTPResponse:
    return page_response(site.render("error.html", title=title, message=message), status=status)


def _error_pages(site: Site):  # noqa: ANN202 - a Bottle plugin
    """Turn user errors into a 404 page and a storage that stopped answering into a 503."""

    def plugin(callback):  # noqa: ANN001, ANN202
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except UserError as error:
                return _error_page(site, 404, "Not found", str(error))
            except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
                message = (
                    f"The storage {site.storage_label} did not answer ({type(error).__name__}). Check that the "
                    "database is up and reachable; this page works again as soon as it is."
                )
                return _error_page(site, 503, "Storage unavailable", message)

        return wrapper

    return plugin


def _prefetch(storage: BaseStorage) -> None:
    """Read every study's trials once, so the first page view finds them cached.

    Optuna reads a 3000-trial study in seconds the first time and in milliseconds after,
    because finished trials are cached; doing it here overlaps that with the user opening
    the page. A failure is not reported here: the page that needs the data reports it.
    """
    try:
        for study in storage.get_all_studies():
            storage.get_all_trials(study_id_of(study), deepcopy=False)
    except (KeyError, sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError):
        pass


def create_app(
    storage_url: str, *, allow_edit: bool = False, allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES
) -> WSGIApp:
    """The dashboard for every study in ``storage_url``, as a WSGI app.

    ``allowed_hosts`` are the Host names it answers to (``None``: any); ``allow_edit``
    lets optuna-dashboard's editing routes through. Raises UserError when the storage
    cannot be opened.
    """
    site = Site(open_storage(storage_url), storage_url)
    pages = bottle.Bottle()
    pages.install(_error_pages(site))
    for resource in (studies, study, compare, report):
        resource.register(pages, site)
    assets.register(pages)

    @pages.error(404)
    def not_found(error: bottle.HTTPError) -> bottle.HTTPResponse:
        return _error_page(site, 404, "Not found", f"Nothing here: {error.body}")

    dashboard = optuna_dashboard.wsgi(site.storage)
    threading.Thread(target=_prefetch, args=(site.storage,), name="autoopt-prefetch", daemon=True).start()

    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        if OPTUNA_DASHBOARD_ROUTES.match(environ.get("PATH_INFO", "")):
            # Its static routes read this header unconditionally: curl and scripts omit it.
            environ.setdefault("HTTP_ACCEPT_ENCODING", "identity")
            return dashboard(environ, start_response)
        return pages(environ, start_response)

    return guard(dispatch, allowed_hosts=allowed_hosts, allow_edit=allow_edit)
