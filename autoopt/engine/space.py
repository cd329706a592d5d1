"""The conditional search space: which optimizers, their hyperparameters, Lookahead, batch size.

Priors come from the optimizer registry; a study file or ``--set`` flags only narrow,
widen or fix them. Sampling is define-by-run (Optuna's ``trial.suggest_*``), so the
space is conditional by construction: SGD never gets betas, Lookahead's k only exists
when Lookahead is on.
"""

from __future__ import annotations

import math

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import optuna

from autoopt.errors import UserError
from autoopt.optimizers import Range, registry
from autoopt.engine.param_names import LOOKAHEAD, VARIANT, param_name
from autoopt.trial_config import TrialConfig

BUILTIN_OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam", "radam", "lion")
LOOKAHEAD_MODES = ("search", "on", "off")
# SGD's three published forms; momentum is searched for the last two.
SGD_VARIANTS = ("plain", "momentum", "nesterov")
# The form SGD's warm start takes: Nesterov momentum, as timm's "sgd" does (Sutskever et al.
# 2013). On the suite's grids, at the same rate, batch size and Lookahead, Nesterov beat
# classical momentum in 190 of 269 pairs, on 7 of the 8 tasks; the search toggles it after.
SCREENED_SGD_VARIANT = "nesterov"
SGD_MOMENTUM = Range(0.5, 0.99)

Bound = Range | float | int | bool


@dataclass(frozen=True)
class SearchSpace:
    optimizers: tuple[str, ...] = BUILTIN_OPTIMIZERS
    overrides: Mapping[str, Mapping[str, Bound]] = field(default_factory=dict)
    lookahead: str = "search"
    lookahead_k: Range = Range(3, 10)
    lookahead_alpha: Range = Range(0.3, 0.8)
    batch_sizes: tuple[int, ...] = (16, 32, 64, 128, 256)

    def bounds(self, optimizer: str) -> dict[str, Bound]:
        """Searched ranges and fixed values of ``optimizer``'s hyperparameters."""
        info = registry.get(optimizer)
        bounds: dict[str, Bound] = {name: r for name, r in info.ranges.items() if r.searched}
        fixed = self.overrides.get(optimizer, {})
        if "nesterov" in info.defaults:
            # SGD's momentum comes with its form (plain, momentum, nesterov) where the search
            # chooses the form; where the user fixed the Nesterov flag, momentum is searched
            # over the forms' range (plain SGD is ``momentum=0``, fixed by the user too).
            bounds.pop("momentum", None)
            if "nesterov" in fixed:
                bounds["momentum"] = SGD_MOMENTUM
        bounds.update(fixed)
        return bounds


def _suggest(trial: optuna.Trial, name: str, bound: Bound) -> Any:
    if not isinstance(bound, Range):
        return bound
    if isinstance(bound.low, int) and isinstance(bound.high, int) and not isinstance(bound.low, bool):
        return trial.suggest_int(name, bound.low, bound.high, log=bound.log)
    return trial.suggest_float(name, bound.low, bound.high, log=bound.log)


def _searches_sgd_variant(space: SearchSpace, optimizer: str) -> bool:
    """Whether the search chooses this SGD's form (plain, momentum, nesterov): not where the user
    fixed or narrowed its momentum or Nesterov flag (``--set sgd.nesterov=0`` is kept as set)."""
    fixed = space.overrides.get(optimizer, {})
    return "nesterov" in registry.get(optimizer).defaults and "momentum" not in fixed and "nesterov" not in fixed


def suggest_config(trial: optuna.Trial, space: SearchSpace) -> TrialConfig:
    """Sample one configuration from ``space`` through ``trial``."""
    name = trial.suggest_categorical("optimizer", list(space.optimizers))
    info = registry.get(name)
    values = {hp: _suggest(trial, param_name(name, hp), bound) for hp, bound in space.bounds(name).items()}
    if _searches_sgd_variant(space, name):
        variant = trial.suggest_categorical(param_name(name, VARIANT), list(SGD_VARIANTS))
        values["momentum"] = 0.0 if variant == "plain" else _suggest(trial, param_name(name, "momentum"), SGD_MOMENTUM)
        values["nesterov"] = variant == "nesterov"
    kwargs = {**dict(info.defaults), **info.constructor_kwargs(values)}
    use_lookahead = space.lookahead == "on" or (
        space.lookahead == "search" and trial.suggest_categorical(LOOKAHEAD, [False, True])
    )
    lookahead = None
    if use_lookahead:
        lookahead = {
            "k": _suggest(trial, param_name(LOOKAHEAD, "k"), space.lookahead_k),
            "alpha": _suggest(trial, param_name(LOOKAHEAD, "alpha"), space.lookahead_alpha),
        }
    batch_size = trial.suggest_categorical("batch_size", list(space.batch_sizes))
    return TrialConfig(name, _jsonable(kwargs), lookahead, int(batch_size))


def _jsonable(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}


# The order in which a new study tries each optimizer at its defaults: likeliest to do well
# first, so the first finished trials are strong baselines for the pruner to compare
# against. Adam's family leads (Schmidt et al. 2021: "Adam remains a strong contender";
# Choi et al. 2019: tuned adaptive methods never trail SGD), AdaDelta's lr-free default last.
WARM_START_ORDER = ("adam", "adamw", "nadam", "radam", "rmsprop", "sgd", "lion", "adagrad", "adadelta")


def warm_start_order(space: SearchSpace) -> list[str]:
    """The space's optimizers in WARM_START_ORDER; others (added by name) after, as listed."""
    rank = {name: i for i, name in enumerate(WARM_START_ORDER)}
    return sorted(space.optimizers, key=lambda name: rank.get(name, len(rank)))


def default_params(space: SearchSpace, optimizer: str, lr_scale: float = 1.0) -> dict[str, Any]:
    """Optuna params that reproduce ``optimizer`` at its published defaults (for warm starts),
    its learning rate times ``lr_scale`` (see ``autoopt.engine.calibrate``), all within the space."""
    info = registry.get(optimizer)
    params: dict[str, Any] = {"optimizer": optimizer}
    defaults = info.search_values(info.defaults)
    for hp, bound in space.bounds(optimizer).items():
        if not isinstance(bound, Range):
            continue
        default = defaults.get(hp, bound.low)
        if hp == "lr":
            default *= lr_scale
        params[param_name(optimizer, hp)] = min(max(default, bound.low), bound.high)
    if _searches_sgd_variant(space, optimizer):
        params[param_name(optimizer, VARIANT)] = SCREENED_SGD_VARIANT
        params[param_name(optimizer, "momentum")] = info.defaults["momentum"]
    if space.lookahead == "search":
        params[LOOKAHEAD] = False
    params["batch_size"] = warm_start_batch_size(space)
    return params


WARM_START_BATCH_SIZE = 32


def warm_start_batch_size(space: SearchSpace) -> int:
    """The space's batch size nearest 32 on a log scale (the smaller of two as near).

    At a fixed number of epochs a smaller batch takes more steps, and up to the noise of
    small batches it reaches a better value (Masters & Luschi 2018, "Revisiting Small Batch
    Training"; Shallue et al. 2019 measure the same in epochs to a goal): 32 is the classic
    default. On seven of our suite's eight grids (each over two sizes) the best configuration
    uses the smaller size; a screen started at 64 of 16-256 left the search walking down with
    the budget it needed for the learning rate (benchmarks/regret.py, autoopt-all-sizes)."""
    return min(space.batch_sizes, key=lambda size: (abs(math.log(size / WARM_START_BATCH_SIZE)), size))


# ---- narrowing the space from a study file or --set flags ---------------------------------


def parse_bound(value: Any, *, where: str, prior: Range | None) -> Bound:
    """A study-file value: ``[low, high]`` is a range (log scale as the prior's), a scalar is fixed."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise UserError(f"{where}: a range is two numbers [low, high], but got {value!r}.")
        low, high = value
        log = prior.log if prior is not None else False
        if low > high:
            raise UserError(f"{where}: low > high in [{low}, {high}]; write the smaller bound first.")
        if log and low <= 0:
            raise UserError(f"{where}: this range is sampled on a log scale, so low must be > 0, but got {low}.")
        is_int = isinstance(low, int) and isinstance(high, int) and prior is not None and isinstance(prior.low, int)
        return Range(low, high, log=log) if is_int else Range(float(low), float(high), log=log)
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # true/false is only for on/off flags
        return value
    raise UserError(f"{where}: expected a number or a [low, high] range, but got {value!r}.")


def narrow_optimizer(space: SearchSpace, optimizer: str, table: Mapping[str, Any], *, where: str) -> SearchSpace:
    """Apply ``{hyperparameter: bound}`` to one optimizer."""
    info = _known_optimizer(optimizer, where=where)
    known = set(info.ranges) | ({"momentum", "nesterov"} if "nesterov" in info.defaults else set())
    merged = dict(space.overrides.get(info.name, {}))
    for hp, value in table.items():
        if hp not in known:
            raise UserError(
                f"{where}.{hp}: {info.name} has no hyperparameter {hp!r}; known: {', '.join(sorted(known))}."
            )
        if hp == "nesterov":
            merged[hp] = _parse_flag(value, where=f"{where}.{hp}")
            continue
        prior = info.ranges.get(hp, SGD_MOMENTUM if hp == "momentum" else None)
        merged[hp] = parse_bound(value, where=f"{where}.{hp}", prior=prior)
    return replace(space, overrides={**space.overrides, info.name: merged})


def _parse_flag(value: Any, *, where: str) -> bool:
    """An on/off hyperparameter (SGD's ``nesterov``): true/false or 1/0; torch and the
    recommended line get a bool."""
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise UserError(f"{where}: this is on or off: write true or false (or 1 or 0), but got {value!r}.")


def _known_optimizer(name: str, *, where: str) -> Any:
    try:
        return registry.get(name)
    except KeyError as exc:
        raise UserError(f"{where}: {exc.args[0]}.") from None


def with_optimizers(space: SearchSpace, names: list[str], *, where: str) -> SearchSpace:
    if not names:
        raise UserError(f"{where}: name at least one optimizer, e.g. adam,sgd.")
    return replace(space, optimizers=tuple(_known_optimizer(n, where=where).name for n in names))


def with_lookahead(space: SearchSpace, mode: Any, *, where: str) -> SearchSpace:
    if isinstance(mode, bool):  # TOML's true/false; any other non-string (a list, a table) is refused below
        mode = "on" if mode else "off"
    if mode not in LOOKAHEAD_MODES:
        raise UserError(f"{where}: lookahead must be one of {', '.join(LOOKAHEAD_MODES)} (or true/false), got {mode!r}.")
    return replace(space, lookahead=mode)


def with_lookahead_bounds(space: SearchSpace, table: Mapping[str, Any], *, where: str) -> SearchSpace:
    for key, value in table.items():
        if key not in ("k", "alpha"):
            raise UserError(f"{where}.{key}: Lookahead has only k and alpha.")
        prior = space.lookahead_k if key == "k" else space.lookahead_alpha
        bound = parse_bound(value, where=f"{where}.{key}", prior=prior)
        if not isinstance(bound, Range):
            bound = Range(bound, bound) if key == "alpha" else Range(int(bound), int(bound))
        _check_lookahead(key, bound, where=f"{where}.{key}")
        space = replace(space, **{f"lookahead_{key}": bound})
    return space


def _check_lookahead(key: str, bound: Range, *, where: str) -> None:
    if key == "k" and (bound.low < 1 or int(bound.low) != bound.low or int(bound.high) != bound.high):
        raise UserError(f"{where}: k is a whole number of steps >= 1, but got [{bound.low}, {bound.high}].")
    if key == "alpha" and not (0 < bound.low and bound.high <= 1):
        raise UserError(f"{where}: alpha must lie in (0, 1], but got [{bound.low}, {bound.high}].")


def with_batch_sizes(space: SearchSpace, sizes: Any, *, where: str) -> SearchSpace:
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        sizes = [sizes]
    if not (isinstance(sizes, list) and sizes and all(isinstance(s, int) and s >= 1 for s in sizes)):
        raise UserError(f"{where}: batch sizes are a list of positive integers, e.g. [32, 64, 128], got {sizes!r}.")
    return replace(space, batch_sizes=tuple(sorted(set(sizes))))
