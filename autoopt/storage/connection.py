"""Open the SQL storage that holds every trial, with errors a user can act on.

SQLite is the embedded default; any SQLAlchemy URL works (PostgreSQL on a cluster).
``postgresql://`` is read as psycopg 3, the driver autoopt installs.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages._cached_storage import _CachedStorage
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchModuleError, OperationalError, SQLAlchemyError

from autoopt.errors import UserError
from autoopt.storage.heartbeats import HEARTBEAT_SECONDS
from autoopt.storage.urls import EXAMPLES as _EXAMPLES, hide_password, normalize_url, require_existing_sqlite


def _prepare_sqlite(url: str) -> None:
    """Create the parent folder and switch the file to WAL, so readers never block the writer."""
    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        # Optuna's engine opens several connections, and each in-memory one is a new empty database.
        raise UserError(f"--storage {url!r} is an in-memory SQLite database, which cannot hold a study; "
                        "use a file, e.g. sqlite:///autoopt.db.")  # fmt: skip
    path = Path(database)
    if not path.parent.exists():
        raise UserError(f"--storage {url!r}: the folder {path.parent} does not exist; create it or pick another path.")
    try:
        with sqlite3.connect(path, timeout=60) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise UserError(f"--storage {url!r}: {path} is not an SQLite database ({exc}); point to another file.") from None


def open_storage(url: str, *, heartbeat: bool = False, create: bool = True) -> optuna.storages.RDBStorage:
    """Connect, create the tables if needed, and fail with one clear paragraph if we cannot.

    ``create=False`` is the readers' way in: a missing SQLite file or a database without
    Optuna's tables is an error, and nothing is written to make one.
    """
    given, url = url, normalize_url(url)
    is_sqlite = url.startswith("sqlite")
    if not create:
        require_existing_sqlite(given)
    if is_sqlite:
        _prepare_sqlite(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if is_sqlite else {"pool_pre_ping": True}
    try:
        storage = _create_rdb_storage(url, engine_kwargs, heartbeat, create)
        if is_sqlite:
            # In WAL mode, synchronous=NORMAL skips an fsync per commit yet survives a crash of
            # the process (only a power cut can lose the last commits): SQLite's own advice.
            sqlalchemy.event.listen(storage.engine, "connect", _sqlite_normal_sync)
            storage.engine.dispose()
        return storage
    except (NoSuchModuleError, ImportError) as exc:
        raise UserError(f"--storage {given!r}: no database driver for it ({exc}). For PostgreSQL, "
                        "`pip install 'autoopt[postgres]'`.") from None  # fmt: skip
    except (OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        reason = str(exc.orig if hasattr(exc, "orig") else exc).strip().splitlines()[0]
        raise UserError(f"--storage {hide_password(given)}: cannot connect ({reason}). Check that the "
                        f"database server is running and the URL is right, {_EXAMPLES}.") from None  # fmt: skip
    except (SQLAlchemyError, ValueError) as exc:
        raise UserError(f"--storage {hide_password(given)}: {exc}. Use an SQLAlchemy URL, {_EXAMPLES}.") from None
    except optuna.exceptions.StorageInternalError:  # only without create: Optuna's tables are missing
        raise UserError(f"--storage {hide_password(given)}: the database holds no autoopt trials (no Optuna tables). "
                        "Pass the --storage your search wrote to; only `autoopt search` creates them.") from None


def _create_rdb_storage(url: str, engine_kwargs: dict, heartbeat: bool, create: bool) -> optuna.storages.RDBStorage:
    for attempt in range(5):
        try:
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_SECONDS if heartbeat else None,
                grace_period=2 * HEARTBEAT_SECONDS if heartbeat else None,
                skip_table_creation=not create,
            )
            if not create:
                storage.get_all_studies()  # missing tables fail here, not on the first read
            return storage
        except (sqlalchemy.exc.IntegrityError, OperationalError, sqlalchemy.exc.ProgrammingError) as exc:
            # Several searches creating the tables of a new database at once: one wins, the
            # others find the tables made ("already exists") and just connect on the next try.
            racing = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)
            if attempt == 4 or not racing:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _sqlite_normal_sync(connection: sqlite3.Connection, _record: object) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")


def cached_for_reading(rdb: optuna.storages.RDBStorage) -> optuna.storages.BaseStorage:
    """``rdb`` behind Optuna's trial cache, as ``optuna.load_study`` wraps it: finished trials
    never change, so they are read once and only running ones are read again."""
    return _CachedStorage(rdb)
