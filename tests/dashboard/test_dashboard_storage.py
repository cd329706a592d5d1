"""Opening a storage: a clear UserError naming --storage, and nothing created by reading."""

from __future__ import annotations

import socket

import pytest

from autoopt.dashboard import create_app, write_report
from autoopt.errors import UserError


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path):
    path = tmp_path / "nowhere.db"
    with pytest.raises(UserError, match="--storage") as raised:
        create_app(f"sqlite:///{path}")
    assert str(path) in str(raised.value)
    assert not path.exists()


def test_an_unreachable_database_server_names_the_flag_and_hides_the_password():
    url = f"postgresql+psycopg://autoopt:s3cret@127.0.0.1:{_closed_port()}/studies"
    with pytest.raises(UserError, match="--storage") as raised:
        create_app(url)
    message = str(raised.value)
    assert "s3cret" not in message and "127.0.0.1" in message and "reachable" in message


def test_a_database_without_optuna_tables_says_so(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(UserError, match="no Optuna tables"):
        create_app(f"sqlite:///{empty}")


def test_a_url_that_is_not_a_url_is_a_user_error():
    with pytest.raises(UserError, match="--storage"):
        create_app("studies.db")


def test_an_unknown_study_is_named_with_the_ones_that_exist(populated, tmp_path):
    with pytest.raises(UserError) as raised:
        write_report(populated.url, "no-such-study", tmp_path / "r.html")
    assert "'no-such-study'" in str(raised.value) and populated.mnist.study_name in str(raised.value)
