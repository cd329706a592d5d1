"""Hostile and malformed input: every case is a valid search or a clear error (exit 2), never a
traceback, and a study already in the storage is left intact.

"A valid search" is checked, not assumed: the study is in the storage with a complete trial,
and it has a recommendation. "A clear error" is one message, the one ``cli.main`` prints, with
no traceback."""

from __future__ import annotations

import sys
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import autoopt
from autoopt.cli import commands as cli
from autoopt.errors import UserError
from fault_support import MODELS, trials_of

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["autoopt", *args])
    try:
        cli.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


@pytest.fixture
def kept_study(sqlite_url: str) -> str:
    """A finished study in the storage the fuzzed commands also write to."""
    overrides = {"storage": sqlite_url, "study": "kept", "seed": 0, "confirm_top": 0, "trials": 2}
    autoopt.search(autoopt.build_spec(MODELS / "quick.py", overrides=overrides, space_table={"optimizers": ["adam"]}))
    return sqlite_url


def searched(url: str, study: str) -> None:
    """The search happened: ``study`` is stored with a complete trial, and recommends a configuration."""
    assert any(t.state.name == "COMPLETE" for t in trials_of(url, study)), study
    recommendation = autoopt.recommend(study, url)
    assert recommendation.optimizer and recommendation.n_trials >= 1


def searched_or_refused(code: int, err: str, url: str, study: str) -> None:
    """Exit 0: the search happened; exit 2: one clear message on stderr, no traceback."""
    assert code in (0, 2), err
    if code == 0:
        searched(url, study)
    else:
        clear_error(err)


def clear_error(message: str) -> None:
    assert message.startswith("error: ") and message.count("error: ") == 1, message
    assert "Traceback" not in message and len(message.strip()) > len("error: "), message


def intact(url: str) -> bool:
    trials = trials_of(url, "kept")
    return len(trials) == 2 and all(t.state.name == "COMPLETE" for t in trials)


@FUZZ
@given(name=st.one_of(st.text(min_size=0, max_size=40), st.sampled_from(
    ["'; DROP TABLE trials;--", "../../etc/passwd", "/abs/path", "a\x00b", "kept", "x" * 600, "名前 ☃", " "])))
def test_any_study_name_round_trips_or_is_refused(name, kept_study, monkeypatch):
    code = run_main(["search", str(MODELS / "quick.py"), "--study", name, "--storage", kept_study, "--trials", "1",
                     "--epochs", "1", "--confirm-top", "0", "--sampler", "random"], monkeypatch)  # fmt: skip
    assert code in (0, 2)
    if code == 0 and name != "kept":
        assert len(trials_of(kept_study, name)) >= 1  # stored verbatim, read back by the same name
    assert intact(kept_study)


@FUZZ
@example(item="adam.lr=0.0001:0.01")  # a valid one, so that every run checks the search half
@given(item=st.one_of(st.text(max_size=30), st.builds(
    lambda opt, hp, lo, hi: f"{opt}.{hp}={lo}:{hi}", st.sampled_from(["adam", "sgd", "lion", "nope", ""]),
    st.sampled_from(["lr", "beta1", "weight_decay", "momentum", "x"]),
    st.one_of(st.floats(allow_nan=True), st.integers()), st.one_of(st.floats(allow_nan=True), st.integers()))))
def test_any_set_range_gives_a_search_or_a_clear_error(item, kept_study, monkeypatch, capsys):
    study = f"fuzzed-{uuid.uuid4().hex[:8]}"  # its own study per example: a search before it proves nothing
    capsys.readouterr()
    code = run_main(["search", str(MODELS / "quick.py"), "--study", study, "--storage", kept_study, "--set", item,
                     "--trials", "1", "--confirm-top", "0", "--sampler", "random"], monkeypatch)  # fmt: skip
    searched_or_refused(code, capsys.readouterr().err, kept_study, study)
    assert intact(kept_study)


@FUZZ
@example(url="sqlite:///fuzzed.db")
@given(url=st.one_of(st.text(max_size=40), st.sampled_from(
    ["sqlite:///", "sqlite:////nonexistent/dir/x.db", "postgresql://nohost:99999/x", "mysql://u@h/d", "://",
     "sqlite:///:memory:", "postgresql://postgres@127.0.0.1:1/test", "sqlite:////proc/x.db", "foo+bar://x"])))
def test_any_storage_url_gives_a_search_or_a_clear_error(url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = run_main(["studies", "--storage", url], monkeypatch)
    assert code in (0, 2)
    if code == 2:
        clear_error(capsys.readouterr().err)
    code = run_main(["search", str(MODELS / "quick.py"), "--study", "fuzzed", "--storage", url, "--trials", "1",
                     "--epochs", "1", "--confirm-top", "0", "--sampler", "random"], monkeypatch)  # fmt: skip
    # Where the search wrote: an empty --storage means the default one.
    used = autoopt.build_spec(MODELS / "quick.py", overrides={"storage": url}).storage if code == 0 else url
    searched_or_refused(code, capsys.readouterr().err, used, "fuzzed")


TOML_VALUES = st.one_of(st.integers(-5, 50), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                        st.booleans(), st.lists(st.one_of(st.integers(-3, 300), st.floats(-1, 1)), max_size=3))


def toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


@FUZZ
@example(study={"trials": 1}, space={"optimizers": ["adam"]})
@given(study=st.dictionaries(st.sampled_from(["trials", "epochs", "timeout", "jobs", "seed", "retries", "sampler",
                                              "pruner", "unknown", "name"]), TOML_VALUES, max_size=4),
       space=st.dictionaries(st.sampled_from(["optimizers", "batch_size", "lookahead", "adam", "zzz"]), TOML_VALUES, max_size=3))
def test_any_study_file_gives_a_search_or_a_clear_error(study, space, tmp_path, kept_study):
    lines = ["[study]", 'model = "' + str(MODELS / "quick.py") + '"', f'storage = "{kept_study}"', "confirm_top = 0"]
    lines += [f"{k} = {toml_value(v)}" for k, v in study.items() if k != "jobs"]
    lines += ["[space]"] + [f"{k} = {toml_value(v)}" for k, v in space.items()]
    path = tmp_path / "study.toml"
    path.write_text("\n".join(lines))
    try:
        spec = autoopt.build_spec(path, overrides={"trials": 1, "epochs": 1, "timeout": 30})
        autoopt.search(spec)
    except UserError as error:
        clear_error(f"error: {error}")
    else:
        searched(spec.storage, spec.study_name)
    assert intact(kept_study)


RETURNS = st.sampled_from(["float('nan')", "float('inf')", "'a string'", "None", "[1, 2]", "object()", "1e308 * 10",
                           "torch.ones(3)", "torch.tensor(float('nan'))", "-0.0", "True", "{'a': 1}"])


@FUZZ
@example(loss="-0.0", metric="-0.0", datasets="(train, valid)")
@given(loss=RETURNS, metric=RETURNS, datasets=st.sampled_from(
    ["None", "(1, 2)", "()", "'ab'", "(train, None)", "(train, train, train)", "(train, valid)", "[train, valid]"]))
def test_any_model_file_return_value_gives_a_search_or_a_clear_error(loss, metric, datasets, tmp_path, kept_study):
    path = tmp_path / "weird.py"
    path.write_text(f"""
import torch
from torch import nn
from torch.utils.data import TensorDataset
train = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
valid = TensorDataset(torch.randn(8, 4), torch.randn(8, 1))
epochs = 1
def datasets():
    return {datasets}
def build_model():
    return nn.Linear(4, 1)
def loss_fn(output, target):
    return torch.nn.functional.mse_loss(output, target) if {loss!r} == "-0.0" else {loss}
def metric(output, target):
    return {metric}
""")
    study = f"weird-{uuid.uuid4().hex[:8]}"  # its own study per example: a search before it proves nothing
    overrides = {"storage": kept_study, "study": study, "seed": 0, "confirm_top": 0, "trials": 2}
    try:
        autoopt.search(autoopt.build_spec(path, overrides=overrides, space_table={"optimizers": ["adam"]}))
    except UserError as error:
        clear_error(f"error: {error}")
    else:
        searched(kept_study, study)
    assert intact(kept_study)
