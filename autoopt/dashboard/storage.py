"""Open the Optuna storage the dashboard reads, and find studies in it, with clear errors.

The dashboard never creates tables or files: pointing it at a wrong path or database
must say so instead of showing an empty list.
"""

from __future__ import annotations

import optuna.exceptions
import sqlalchemy.exc
from optuna.storages import BaseStorage, RDBStorage

from autoopt.errors import UserError
from autoopt.storage import cached_for_reading, normalize_url, require_existing_sqlite, unknown_study


def open_storage(url: str) -> BaseStorage:
    """Connect to the storage at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Finished trials never change, so the returned storage caches them and re-reads only
    running ones: pages stay fast on thousands of trials while a search writes more.
    """
    require_existing_sqlite(url)
    url = normalize_url(url)
    try:
        engine_kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        rdb = RDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=True)
        rdb.get_all_studies()  # fails here, not on the first page, when tables are missing
    except optuna.exceptions.StorageInternalError as error:  # wraps the driver's error
        raise UserError(_unreachable_message(url, error.__cause__ or error)) from error
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, RuntimeError) as error:
        raise UserError(_unreachable_message(url, error)) from error
    return cached_for_reading(rdb)


def _unreachable_message(url: str, error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
    if isinstance(error, RuntimeError) and "upgrade" in str(error):
        fix = f"Upgrade its schema with `optuna storage upgrade --storage {redacted(url)}`."
    elif isinstance(error, sqlalchemy.exc.ProgrammingError) or "no such table" in str(error):  # PostgreSQL, SQLite
        fix = "The database has no Optuna tables: check that --storage names the database your search wrote to."
    elif isinstance(error, ImportError):
        fix = "Install the database driver for this URL's scheme (for PostgreSQL: `pip install 'autoopt[postgres]'`)."
    else:
        fix = (
            "Check the --storage URL (scheme, host, port, database name, credentials) and that "
            "the database server is running and reachable from this machine."
        )
    return f"Cannot open the storage {redacted(url)} given by --storage: {first_line}. {fix}"


def redacted(url: str) -> str:
    """The URL without its password, safe to print."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def study_id_from_name(storage: BaseStorage, name: str, *, storage_url: str) -> int:
    """The id of study ``name``; an unknown name raises UserError listing the known ones."""
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        known = [s.study_name for s in storage.get_all_studies()]
        raise unknown_study(name, redacted(storage_url), known) from None
