"""Each search setting is declared once (autoopt.engine.settings) and reached the same way from the
command line, a study file and ``build_spec(overrides=...)``; a key that is none of them is a
user error that names it, never a TypeError."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import typer
from core_support import model_path, run_cli

from autoopt import build_spec

from autoopt.cli import commands as cli
from autoopt.errors import UserError
from autoopt.engine.settings import BY_NAME, DEFAULT_BUDGET, SETTINGS, STUDY_KEYS, from_flags
from autoopt.engine.spec import StudySpec

# A valid value other than the default for every setting: (as typed after the flag, as written in TOML, the value).
SAMPLES: dict[str, tuple[str | None, str, Any]] = {
    "study": ("other", '"other"', "other"),
    "storage": ("sqlite:///other.db", '"sqlite:///other.db"', "sqlite:///other.db"),
    "budget": ("7", "7", 7),
    "trials": ("3", "3", 3),
    "epochs": ("2", "2", 2),
    "timeout": ("1.5", "1.5", 1.5),
    "trial_timeout": ("9", "9", 9),
    "retries": ("0", "0", 0),
    "epoch_budget": ("40", "40", 40),
    "seed": ("11", "11", 11),
    "jobs": ("2", "2", 2),
    "fuse": ("auto", '"auto"', "auto"),
    "sampler": ("random", '"random"', "random"),
    "pruner": ("none", '"none"', "none"),
    "confirm_top": ("0", "0", 0),
    "confirm_seeds": ("3", "3", 3),
    "warm_start": (None, "false", False),  # None: the flag is --no-warm-start
    "race": (None, "false", False),
    "calibrate": (None, "false", False),
    "backend": ("ray", '"ray"', "ray"),
    "address": ("auto", '"auto"', "auto"),
    "cpus_per_trial": ("2", "2", 2.0),
    "gpus_per_trial": ("0.5", "0.5", 0.5),
}


def flag_args(name: str) -> list[str]:
    text = SAMPLES[name][0]
    flag = BY_NAME[name].flag
    return [f"--no-{flag[2:]}"] if text is None else [flag, text]


def parsed_flags(*args: str) -> dict[str, Any]:
    """The search command's settings as the command line parses ``args``, as build_spec receives them."""
    command = typer.main.get_command(cli.app).commands["search"]  # type: ignore[attr-defined]
    context = command.make_context("search", [str(model_path("blobs")), *args])
    return from_flags({name: context.params[name] for name in BY_NAME})


def test_every_setting_has_a_sample_here():
    assert list(SAMPLES) == [s.name for s in SETTINGS]


def test_every_setting_is_an_option_of_search_with_its_help_and_default():
    command = typer.main.get_command(cli.app).commands["search"]  # type: ignore[attr-defined]
    options = {param.name: param for param in command.params}
    for setting in SETTINGS:
        option = options[setting.name]
        assert setting.flag in option.opts and option.help == setting.help, setting.name
        assert option.show_default == (setting.help_default or False), setting.name


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_setting_reaches_the_spec_from_its_flag(name):
    spec = build_spec(model_path("blobs"), overrides=parsed_flags(*flag_args(name)))
    assert getattr(spec, BY_NAME[name].spec_field) == SAMPLES[name][2]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_setting_reaches_the_spec_from_the_study_file(name, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nmodel = "{model_path("blobs")}"\n{BY_NAME[name].key} = {SAMPLES[name][1]}\n')
    assert getattr(build_spec(path), BY_NAME[name].spec_field) == SAMPLES[name][2]


def test_no_flag_given_leaves_every_default(monkeypatch):
    monkeypatch.setenv("AUTOOPT_STORAGE", "sqlite:///env.db")
    assert parsed_flags() == {}
    spec = build_spec(model_path("blobs"))
    for setting in SETTINGS:
        if setting.default is not None:
            assert getattr(spec, setting.spec_field) == setting.default, setting.name


def test_study_spec_defaults_are_the_declared_ones():
    fields = {f.name: f.default for f in dataclasses.fields(StudySpec)}
    assert {s.spec_field for s in SETTINGS} == set(fields) - {"model_file", "space"}
    assert all(fields[s.spec_field] in (s.default, dataclasses.MISSING) for s in SETTINGS)


def test_a_flag_beats_the_study_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nmodel = "{model_path("blobs")}"\ntrials = 5\nrace = true\n')
    spec = build_spec(path, overrides=parsed_flags("--trials", "6", "--no-race"))
    assert (spec.trials, spec.race) == (6, False)


def test_an_unknown_override_suggests_the_closest_setting():
    with pytest.raises(UserError) as error:
        build_spec(model_path("blobs"), overrides={"trails": 4})
    message = str(error.value)
    assert message.startswith("build_spec(overrides=...): 'trails' is not a known setting. Did you mean 'trials'?")
    assert message.endswith(f"Known: {', '.join(BY_NAME)}.")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"budget": "many"}, "--budget must be a whole number >= 1 full training, but got 'many'."),
        ({"trials": 2.5}, "--trials must be a whole number >= 1, but got 2.5."),
        ({"timeout": "soon"}, "--timeout must be a number > 0 seconds, but got 'soon'."),
        ({"race": 1}, "--race must be true or false, but got 1."),
        ({"sampler": 3}, "--sampler must be one of tpe, random, but got 3."),
        ({"seed": "x"}, "--seed must be a whole number, but got 'x'."),
        ({"gpus_per_trial": -1}, "--gpus-per-trial must be >= 0, but got -1."),
        ({"study": "a\x00b"}, "--study must be printable (no control or separator characters), but got 'a\\x00b'."),
    ],
)
def test_a_value_of_the_wrong_type_or_range_names_the_setting(overrides, message):
    with pytest.raises(UserError) as error:
        build_spec(model_path("blobs"), overrides=overrides)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fuse = 2.5", '[study].fuse has the wrong type (2.5); write a whole number or "auto".'),
        ("timeout = true", "[study].timeout has the wrong type (True); write a number."),
        ("address = 3", "[study].address has the wrong type (3); write a quoted string."),
        ("study = 'x'", "[study].study is not a known setting. Did you mean 'name'? Known: " + ", ".join(STUDY_KEYS) + "."),
        ("trial-timeout = 3", "[study].trial-timeout is not a known setting. Did you mean 'trial_timeout'?"),
    ],
)
def test_a_bad_study_file_key_is_named(line, message, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nmodel = "{model_path("blobs")}"\n{line}\n')
    with pytest.raises(UserError) as error:
        build_spec(path)
    assert str(error.value).startswith(f"{path}: {message}")


@pytest.mark.e2e
def test_an_unknown_study_file_key_ends_the_real_command_with_exit_2(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nmodel = "{model_path("blobs")}"\ntrails = 4\n')
    done = run_cli("search", str(path), "--storage", f"sqlite:///{tmp_path / 't.db'}", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{path}: [study].trails is not a known setting. Did you mean 'trials'? Known: model, name, storage," in done.stderr

