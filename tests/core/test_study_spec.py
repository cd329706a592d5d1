"""A study spec merges defaults < study file < command-line flags."""

from __future__ import annotations

import pytest
from core_support import model_path

from autoopt import build_spec
from autoopt.errors import UserError
from autoopt.engine.settings import DEFAULT_BUDGET

STUDY_FILE = """\
[study]
model = "{model}"
name = "from-file"
storage = "sqlite:///from-file.db"
trials = 5
seed = 3
pruner = "none"
"""


@pytest.fixture
def study_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY_FILE.format(model=model_path("blobs")))
    return path


def test_defaults_apply_without_a_study_file(monkeypatch):
    monkeypatch.setenv("AUTOOPT_STORAGE", "sqlite:///env.db")
    spec = build_spec(model_path("blobs"))
    assert (spec.study_name, spec.storage, spec.budget, spec.trials, spec.seed) == ("blobs", "sqlite:///env.db", DEFAULT_BUDGET, None, None)
    assert spec.epochs is None  # the engine then reads the model file's `epochs`


def test_study_file_overrides_defaults_and_names_the_model(study_file):
    spec = build_spec(study_file)
    assert spec.model_file == model_path("blobs")
    assert (spec.study_name, spec.storage, spec.trials, spec.seed, spec.pruner) == (
        "from-file", "sqlite:///from-file.db", 5, 3, "none")  # fmt: skip


def test_flags_override_the_study_file(study_file):
    spec = build_spec(study_file, overrides={"study": "from-flag", "storage": "sqlite:///flag.db", "trials": 7})
    assert (spec.study_name, spec.storage, spec.trials, spec.seed) == ("from-flag", "sqlite:///flag.db", 7, 3)


def test_config_flag_narrows_a_model_file_given_directly(study_file):
    spec = build_spec(model_path("line"), config=study_file)
    assert spec.model_file.name == "line.py" and spec.trials == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trials": 0}, "--trials must be >= 1, but got 0."),
        ({"epochs": 0}, "--epochs must be >= 1, but got 0."),
        ({"jobs": 0}, "--jobs must be >= 1, but got 0."),
        ({"timeout": -1.0}, "--timeout must be > 0 seconds, but got -1.0."),
        ({"sampler": "grid"}, "--sampler must be one of tpe, random, but got 'grid'."),
        ({"pruner": "median"}, "--pruner must be one of auto, asha, hyperband, none, but got 'median'."),
    ],
)
def test_impossible_flag_is_rejected_naming_it(overrides, message):
    with pytest.raises(UserError) as error:
        build_spec(model_path("blobs"), overrides=overrides)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[study]\ntrials = 'many'\n", "[study].trials has the wrong type ('many'); write a whole number"),
        ("[study]\ncalibrate = 'yes'\n", "[study].calibrate has the wrong type ('yes'); write true or false"),
        ("[study]\ntrails = 4\n", "[study].trails is not a known setting"),
        ("[studdy]\n", "unknown section(s) ['studdy']"),
        ("[study\n", "is not valid TOML"),
        ("[study]\ntrials = 4\n", "[study].model must name the model file"),
    ],
)
def test_bad_study_file_names_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "study.toml"
    path.write_text(text)
    with pytest.raises(UserError) as error:
        build_spec(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)
