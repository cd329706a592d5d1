"""Where trials live, decided without importing a database library: fast enough for every command's first check.

``autoopt search`` is the one command that creates a database. The reading commands
(``studies``, ``trials``, ``recommend``, ``report``, ``dashboard``) call
``require_existing_sqlite`` first, so a typo in ``--storage`` is an error that names the
path and the databases beside it, never a new empty file.
"""

from __future__ import annotations

import os
from pathlib import Path

from autoopt.errors import UserError

EXAMPLES = "e.g. sqlite:///autoopt.db or postgresql://user@host:5432/db"
STORAGE_ENV = "AUTOOPT_STORAGE"
DEFAULT_STORAGE = "sqlite:///autoopt.db"
STORAGE_HELP = f"${STORAGE_ENV}, else {DEFAULT_STORAGE}"  # what --help shows as --storage's default
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_LISTED = 10  # databases named beside a missing one; more are counted


def default_storage() -> str:
    """``$AUTOOPT_STORAGE`` when set, else ``sqlite:///autoopt.db`` in the current folder."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def given_or_default_storage(url: str | None, *, where: str = "--storage") -> str:
    """``url``, or the default when none was given; an empty one is a mistake (an unset shell
    variable, say), refused rather than taken as "the default", as an empty --study is."""
    if url is None:
        return default_storage()
    if not url.strip():
        raise UserError(f"{where} is empty; pass a database URL, {EXAMPLES}, or leave it out for "
                        f"${STORAGE_ENV}, else {DEFAULT_STORAGE}.")  # fmt: skip
    return url


def normalize_url(url: str) -> str:
    """``url`` as SQLAlchemy reads it, ``postgresql://`` meaning psycopg 3 (the driver autoopt installs)."""
    from sqlalchemy.engine import make_url  # not at module level: `--help` needs no database library
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UserError(f"--storage {url!r} is not a database URL; use an SQLAlchemy URL, {EXAMPLES}.") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def hide_password(url: str) -> str:
    """``url`` safe to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file an ``sqlite:///PATH`` URL (any driver) names; None for other databases and in-memory ones."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite" or not rest.startswith("/"):
        return None
    database = rest[1:].split("?", 1)[0]
    if not database or database == ":memory:" or "mode=memory" in url:
        return None
    return Path(database)


def databases_beside(path: Path) -> list[str]:
    """The SQLite files in ``path``'s folder, by name."""
    folder = path.parent
    try:
        return sorted(p.name for p in folder.iterdir() if p.suffix in _SQLITE_SUFFIXES and p.is_file())
    except OSError:  # a missing or unreadable folder has none to offer
        return []


def require_existing_sqlite(url: str) -> None:
    """Raise UserError when ``url`` names an SQLite file that does not exist; reading must not create it."""
    path = sqlite_path(url)
    if path is None or path.is_file():
        return
    found = databases_beside(path)
    shown = ", ".join(found[:_LISTED]) + (f" and {len(found) - _LISTED} more" if len(found) > _LISTED else "")
    folder = "the current folder" if str(path.parent) == "." else str(path.parent)
    beside = f"SQLite files in {folder}: {shown}" if found else f"no .db file in {folder}"
    raise UserError(f"--storage {url}: there is no database at {path} ({beside}). Pass the --storage your search "
                    "wrote to; only `autoopt search` creates a database.")  # fmt: skip


def unknown_study(name: str, url_label: str, known: list[str]) -> UserError:
    """The one message every command and page gives for a study name the storage does not hold.

    ``url_label`` is the storage's URL with its password hidden.
    """
    shown = ", ".join(repr(n) for n in sorted(known)[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    return UserError(f"no study named {name!r} in {url_label} (studies there: {shown or 'none yet'}). "
                     "Check the name, pass the --storage your search wrote to, or run `autoopt search` first.")  # fmt: skip


def require_study_name(url: str, name: str) -> None:
    """Raise ``unknown_study`` when the storage at ``url`` answers and holds no study ``name``.

    A plain query of Optuna's ``studies`` table, so that a mistyped study name is answered
    before Optuna's storage (and its schema check, which imports alembic) is built. Anything
    else that goes wrong here is left to ``autoopt.storage.open_storage``, which explains it.
    """
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(normalize_url(url), connect_args={"connect_timeout": 10}
                                          if not url.startswith("sqlite") else {})  # fmt: skip
        try:
            with engine.connect() as connection:
                known = list(connection.execute(sqlalchemy.text("SELECT study_name FROM studies")).scalars())
        finally:
            engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, TypeError):  # TypeError: a driver without connect_timeout
        return
    if name not in known:
        raise unknown_study(name, hide_password(url), known)
