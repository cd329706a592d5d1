"""The conditional search space, and how study files and --set flags narrow it."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from core_support import model_path

from autoopt import build_spec
from autoopt.errors import UserError
from autoopt.optimizers import Range
from autoopt.engine.param_names import LOOKAHEAD, VARIANT, hyperparameters_of, param_name, split_param_name
from autoopt.engine.space import SearchSpace, suggest_config
from autoopt.trial_config import TrialConfig


def sample(space: SearchSpace, n: int = 200) -> list[tuple[dict, TrialConfig]]:
    """``n`` configurations drawn by a seeded random sampler: (Optuna params, config)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(n):
        trial = study.ask()
        config = suggest_config(trial, space)
        study.tell(trial, 0.0)
        drawn.append((trial.params, config))
    return drawn


def spec_space(tmp_path: Path, toml: str | None = None, flags: dict | None = None) -> SearchSpace:
    config = None
    if toml is not None:
        config = tmp_path / "study.toml"
        config.write_text(toml)
    return build_spec(model_path("blobs"), config=config, space_table=flags).space


def test_sgd_never_gets_betas_and_adam_always_does():
    for params, config in sample(SearchSpace(optimizers=("sgd", "adam"))):
        has_betas = "betas" in config.optimizer_kwargs or any("beta" in key for key in params)
        assert has_betas == (config.optimizer == "adam"), (params, config)


def test_lookahead_parameters_exist_only_when_lookahead_is_on():
    drawn = sample(SearchSpace(optimizers=("adam",)))
    assert {config.lookahead is None for _, config in drawn} == {True, False}
    for params, config in drawn:
        assert ("lookahead.k" in params) == ("lookahead.alpha" in params) == (config.lookahead is not None)
        if config.lookahead:
            assert 3 <= config.lookahead["k"] <= 10 and 0.3 <= config.lookahead["alpha"] <= 0.8


@pytest.mark.parametrize(("mode", "wrapped"), [("on", {True}), ("off", {False})])
def test_lookahead_on_or_off_is_not_searched(mode, wrapped):
    drawn = sample(SearchSpace(optimizers=("adam",), lookahead=mode), n=30)
    assert {config.lookahead is not None for _, config in drawn} == wrapped
    assert all("lookahead" not in params for params, _ in drawn)


def test_sgd_is_searched_as_plain_momentum_and_nesterov():
    variants = {}
    for params, config in sample(SearchSpace(optimizers=("sgd",))):
        kwargs = config.optimizer_kwargs
        variants.setdefault(params["sgd.variant"], []).append(kwargs)
    assert set(variants) == {"plain", "momentum", "nesterov"}
    assert all(k["momentum"] == 0.0 and not k["nesterov"] for k in variants["plain"])
    assert all(0.5 <= k["momentum"] <= 0.99 and not k["nesterov"] for k in variants["momentum"])
    assert all(0.5 <= k["momentum"] <= 0.99 and k["nesterov"] for k in variants["nesterov"])


def test_study_file_narrows_a_range_and_fixes_a_value(tmp_path):
    space = spec_space(tmp_path, '[space]\noptimizers = ["adam"]\n[space.adam]\nlr = [1e-4, 1e-3]\nbeta1 = 0.85\n')
    assert space.bounds("adam")["lr"] == Range(1e-4, 1e-3, log=True)  # the prior's log scale is kept
    for params, config in sample(space, n=50):
        assert 1e-4 <= config.optimizer_kwargs["lr"] <= 1e-3
        assert config.optimizer_kwargs["betas"][0] == 0.85
        assert "adam.beta1" not in params  # a fixed value is not a search dimension


def test_set_flags_narrow_on_top_of_the_study_file(tmp_path):
    toml = '[space]\noptimizers = ["adam", "sgd"]\n[space.adam]\nlr = [1e-4, 1e-3]\nbeta1 = 0.85\n'
    space = spec_space(tmp_path, toml, flags={"adam": {"lr": [1e-3, 1e-2]}, "optimizers": ["adam"]})
    assert space.optimizers == ("adam",)
    assert space.bounds("adam")["lr"] == Range(1e-3, 1e-2, log=True)
    assert space.bounds("adam")["beta1"] == 0.85  # kept from the file: flags override per key


def test_fixed_sgd_momentum_replaces_the_variant_choice():
    space = build_spec(model_path("blobs"), space_table={"optimizers": ["sgd"], "sgd": {"momentum": 0.0}}).space
    for params, config in sample(space, n=20):
        assert "sgd.variant" not in params
        assert config.optimizer_kwargs["momentum"] == 0.0


def test_a_fixed_nesterov_flag_is_kept_by_the_search_and_the_screen():
    from autoopt.engine.space import default_params

    for flag in (0, 1, False, True):
        space = build_spec(model_path("blobs"), space_table={"optimizers": ["sgd"], "sgd": {"nesterov": flag}}).space
        assert "sgd.variant" not in default_params(space, "sgd")
        momenta = set()
        for params, config in sample(space, n=20):
            assert "sgd.variant" not in params
            assert config.optimizer_kwargs["nesterov"] is bool(flag)  # a bool for torch and the pasted line
            momenta.add(config.optimizer_kwargs["momentum"])
        assert len(momenta) > 1 and all(0.5 <= m <= 0.99 for m in momenta)  # searched with the fixed form


def test_nesterov_is_on_or_off():
    with pytest.raises(UserError, match=r"sgd\.nesterov.*true or false"):
        build_spec(model_path("blobs"), space_table={"sgd": {"nesterov": [0, 1]}})
    with pytest.raises(UserError, match=r"sgd\.nesterov.*true or false"):
        build_spec(model_path("blobs"), space_table={"sgd": {"nesterov": 0.5}})


def test_batch_sizes_and_lookahead_bounds_narrow(tmp_path):
    toml = "[space]\nbatch_size = [64, 32]\n[space.lookahead]\nk = [4, 5]\nalpha = 0.5\n"
    space = spec_space(tmp_path, toml)
    assert space.batch_sizes == (32, 64)
    assert space.lookahead_k == Range(4, 5) and space.lookahead_alpha == Range(0.5, 0.5)


# Each bad bound, written in a study file and as a flag: the message names where it is.
BAD_BOUNDS = [
    ({"adam": {"lr": [1e-2, 1e-4]}}, "adam.lr: low > high in [0.01, 0.0001]"),
    ({"adam": {"lr": [0, 1e-2]}}, "adam.lr: this range is sampled on a log scale, so low must be > 0"),
    ({"adam": {"lr": [-1e-3, 1e-2]}}, "adam.lr: this range is sampled on a log scale, so low must be > 0"),
    ({"adam": {"lr": [1e-4, 1e-3, 1e-2]}}, "adam.lr: a range is two numbers [low, high]"),
    ({"adam": {"momentum": 0.9}}, "adam.momentum: adam has no hyperparameter 'momentum'"),
    ({"sgd": {"beta1": 0.9}}, "sgd.beta1: sgd has no hyperparameter 'beta1'"),
    ({"lookahead": {"k": [0, 3]}}, "lookahead.k: k is a whole number of steps >= 1"),
    ({"lookahead": {"alpha": [0.5, 1.5]}}, "lookahead.alpha: alpha must lie in (0, 1]"),
]


def _toml(table: dict) -> str:
    (section, values), = table.items()
    return f"[space.{section}]\n" + "".join(f"{key} = {value!r}\n" for key, value in values.items())


@pytest.mark.parametrize(("table", "message"), BAD_BOUNDS)
def test_bad_bound_in_a_study_file_names_the_file_and_field(tmp_path, table, message):
    with pytest.raises(UserError) as error:
        spec_space(tmp_path, _toml(table))
    assert str(error.value).startswith(f"{tmp_path / 'study.toml'}: [space].{message}")


@pytest.mark.parametrize(("table", "message"), BAD_BOUNDS)
def test_bad_bound_in_a_flag_names_the_flag(table, message):
    with pytest.raises(UserError) as error:
        build_spec(model_path("blobs"), space_table=table)
    assert str(error.value).startswith(f"--set {message}")


def test_a_linear_range_may_start_at_zero():
    space = build_spec(model_path("blobs"), space_table={"adam": {"beta1": [0.0, 0.5]}}).space
    assert space.bounds("adam")["beta1"] == Range(0.0, 0.5)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"optimizers": []}, "--optimizers: name at least one optimizer"),
        ({"batch_size": [0, 32]}, "--batch-sizes: batch sizes are a list of positive integers"),
        ({"lookahead": "maybe"}, "--lookahead: lookahead must be one of search, on, off"),
        ({"lookahead": []}, "--lookahead: lookahead must be one of search, on, off"),  # was a TypeError traceback
    ],
)
def test_bad_space_flag_names_the_flag(table, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(")):
        build_spec(model_path("blobs"), space_table=table)


@pytest.mark.parametrize(("sizes", "screened"), [
    ((16, 32, 64, 128, 256), 32),  # the default space: 32, not the middle (64)
    ((32, 128), 32),
    ((16, 64), 16),  # as near as 64 on a log scale: the smaller
    ((128, 256, 512), 128),
    ((8, 16), 16),
    ((48,), 48),
])  # fmt: skip
def test_the_screen_starts_at_the_batch_size_nearest_32(sizes, screened):
    from autoopt.engine.space import default_params, warm_start_batch_size

    space = SearchSpace(batch_sizes=sizes)
    assert warm_start_batch_size(space) == screened
    assert default_params(space, "adam")["batch_size"] == screened


def test_optuna_parameter_names_keep_the_spelling_stored_studies_hold():
    assert [param_name("adam", "lr"), param_name("sgd", VARIANT), param_name(LOOKAHEAD, "k")] == [
        "adam.lr", "sgd.variant", "lookahead.k"]  # fmt: skip
    assert split_param_name("adam.lr") == ("adam", "lr") and split_param_name("adam") is None
    params = {"optimizer": "adam", "adam.lr": 0.01, "adamw.lr": 0.1, "lookahead": True, "lookahead.k": 5}
    assert (hyperparameters_of(params, "adam"), hyperparameters_of(params, LOOKAHEAD)) == ({"lr": 0.01}, {"k": 5})


def test_sgd_is_screened_with_nesterov_momentum_and_the_search_can_toggle_it_off():
    from autoopt.engine.pattern_search import neighbours
    from autoopt.engine.space import default_params

    space = SearchSpace()
    params = default_params(space, "sgd")
    config = suggest_config(optuna.trial.FixedTrial(params), space)
    assert config.optimizer_kwargs["nesterov"] is True and config.optimizer_kwargs["momentum"] == 0.9
    assert {**params, "sgd.variant": "momentum"} in neighbours(params, "sgd", space)


@pytest.mark.parametrize("raw", ["true", "True", "1"])
def test_set_turns_nesterov_on_as_a_bool(raw):
    from autoopt.cli.commands import _parse_set

    space = build_spec(model_path("blobs"), space_table=_parse_set([f"sgd.nesterov={raw}"])).space
    assert space.bounds("sgd")["nesterov"] is True


def test_true_or_false_is_refused_where_a_number_is_wanted(tmp_path):
    from autoopt.cli.commands import _parse_set

    with pytest.raises(UserError, match=r"^--set adam\.lr: expected a number or a \[low, high\] range, but got True"):
        build_spec(model_path("blobs"), space_table=_parse_set(["adam.lr=true"]))
    with pytest.raises(UserError, match=r"\[space\]\.adam\.lr: expected a number or a \[low, high\] range, but got False"):
        spec_space(tmp_path, "[space.adam]\nlr = false\n")
