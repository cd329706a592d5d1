"""A study spec: everything one search needs, from defaults < study file < command-line flags.

A study file is TOML::

    [study]
    model = "digits.py"          # relative to this file
    name = "digits"              # default: the model file's stem
    budget = 30                  # full trainings in all (range test, screen, search, confirmations)
    trials = 40                  # at most this many screen and search trials
    epochs = 15
    timeout = 600                # seconds for the whole search
    seed = 0
    jobs = 1

    [space]
    optimizers = ["adam", "adamw", "sgd", "lion"]
    batch_size = [32, 64, 128]
    lookahead = "search"         # "search", "on", "off" (or true / false)

    [space.adam]
    lr = [1e-4, 1e-2]            # a range; the prior's log scale is kept
    beta1 = 0.9                  # a fixed value

    [space.lookahead]
    k = [3, 8]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autoopt.errors import UserError
from autoopt.phases import DEFAULT_BUDGET
from autoopt.space import (
    SearchSpace,
    narrow_optimizer,
    with_batch_sizes,
    with_lookahead,
    with_lookahead_bounds,
    with_optimizers,
)
from autoopt.storage import default_storage

DEFAULT_EPOCHS = 10
SAMPLERS = ("tpe", "random")
BACKENDS = ("local", "ray")
PRUNERS = ("auto", "asha", "hyperband", "none")


@dataclass(frozen=True)
class StudySpec:
    model_file: Path
    study_name: str
    storage: str
    budget: int = DEFAULT_BUDGET  # full trainings (E epochs each) the whole study may spend, all phases counted
    trials: int | None = None  # at most this many screen and search trials (finished), resumed runs included
    epochs: int | None = None  # None: the model file's `epochs`, else DEFAULT_EPOCHS
    timeout: float | None = None
    epoch_budget: int | None = None  # stop starting search trials once this many epochs were trained
    trial_timeout: float | None = None
    retries: int = 1  # re-runs of a trial lost to infrastructure (worker died, heartbeat lost), same params
    seed: int | None = None
    jobs: int = 1
    fuse: int | str = 1  # trials trained together as one vmapped model (autoopt.fused); "auto": by model size
    space: SearchSpace = field(default_factory=SearchSpace)
    sampler: str = "tpe"
    pruner: str = "auto"  # at rungs whose early rankings held until E (autoopt.pruning)
    warm_start: bool = True  # first screen every optimizer at its defaults, the full epochs (autoopt.phases)
    race: bool = True  # then search only the families within noise of the best
    calibrate: bool = True  # ... their learning rates scaled by a short range test (autoopt.calibrate)
    confirm_top: int = 5  # re-train the best few configurations ...
    confirm_seeds: int = 2  # ... until each has this many seeds; the leaders get twice as many
    backend: str = "local"  # "local" (this machine) or "ray" (a Ray cluster)
    address: str | None = None  # Ray cluster address ("auto", "ray://host:10001"); None starts a local one
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractional values let small trials share a GPU


_STUDY_KEYS = {
    "model": str, "name": str, "storage": str, "budget": int, "trials": int, "epochs": int, "timeout": (int, float),
    "trial_timeout": (int, float), "retries": int, "epoch_budget": int, "seed": int, "jobs": int, "fuse": (int, str), "sampler": str, "pruner": str,
    "warm_start": bool, "race": bool, "calibrate": bool, "confirm_top": int, "confirm_seeds": int, "backend": str, "address": str,
    "cpus_per_trial": (int, float), "gpus_per_trial": (int, float),
}  # fmt: skip
_KINDS = {str: "a quoted string", int: "a whole number", bool: "true or false", (int, float): "a number",
          (int, str): 'a whole number or "auto"'}  # fmt: skip


def read_study_file(path: Path) -> dict[str, Any]:
    """Parse a study TOML file into ``{"study": {...}, "space": {...}}`` with clear errors."""
    if not path.exists():
        raise UserError(f"{path}: no such study file; pass an existing TOML file to --config.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: is not valid TOML ({exc}). Fix the file and run again.") from None
    unknown = set(data) - {"study", "space"}
    if unknown:
        raise UserError(f"{path}: unknown section(s) {sorted(unknown)}; a study file has [study] and [space].")
    study = data.get("study", {})
    for key, value in study.items():
        expected = _STUDY_KEYS.get(key)
        if expected is None:
            raise UserError(f"{path}: [study].{key} is not a known setting; known: {', '.join(_STUDY_KEYS)}.")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise UserError(f"{path}: [study].{key} has the wrong type ({value!r}); write {_KINDS[expected]}.")
    return data


# The command-line flag each key of a flag-built [space] table came from, for error messages.
_FLAG_OF_KEY = {"optimizers": "--optimizers", "batch_size": "--batch-sizes", "lookahead": "--lookahead"}


def space_from_table(table: dict[str, Any], *, where: str | None, space: SearchSpace | None = None) -> SearchSpace:
    """Narrow ``space`` by a [space] table; ``where=None`` means the table came from flags."""
    space = space or SearchSpace()
    for key, value in table.items():
        if where is not None:
            at = f"{where}.{key}"
        else:
            at = f"--set {key}" if isinstance(value, dict) else _FLAG_OF_KEY.get(key, f"--set {key}")
        if key == "optimizers":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UserError(f"{at}: a list of optimizer names, e.g. [\"adam\", \"sgd\"].")
            space = with_optimizers(space, value, where=at)
        elif key == "batch_size":
            space = with_batch_sizes(space, value, where=at)
        elif key == "lookahead" and isinstance(value, dict):
            space = with_lookahead_bounds(space, value, where=at)
        elif key == "lookahead":
            space = with_lookahead(space, value, where=at)
        elif isinstance(value, dict):
            space = narrow_optimizer(space, key, value, where=at)
        else:
            raise UserError(f"{at}: unknown setting; [space] takes optimizers, batch_size, lookahead, "
                            "and one [space.<optimizer>] table per optimizer.")  # fmt: skip
    return space


def check_spec(spec: StudySpec) -> StudySpec:
    """Reject impossible settings, naming the flag."""
    checks = [
        (spec.trials is None or spec.trials >= 1, f"--trials must be >= 1, but got {spec.trials}."),
        (spec.budget >= 1, f"--budget must be >= 1 full training, but got {spec.budget}."),
        (spec.epochs is None or spec.epochs >= 1, f"--epochs must be >= 1, but got {spec.epochs}."),
        (spec.jobs >= 1, f"--jobs must be >= 1, but got {spec.jobs}."),
        (spec.fuse == "auto" or (type(spec.fuse) is int and spec.fuse >= 1),
         f"--fuse must be a whole number >= 1 or auto, but got {spec.fuse!r}."),
        (spec.epoch_budget is None or spec.epoch_budget >= 1, f"--epoch-budget must be >= 1, but got {spec.epoch_budget}."),
        (spec.timeout is None or spec.timeout > 0, f"--timeout must be > 0 seconds, but got {spec.timeout}."),
        (spec.trial_timeout is None or spec.trial_timeout > 0,
         f"--trial-timeout must be > 0 seconds, but got {spec.trial_timeout}."),
        (spec.retries >= 0, f"--retries must be >= 0, but got {spec.retries}."),
        (spec.sampler in SAMPLERS, f"--sampler must be one of {', '.join(SAMPLERS)}, but got {spec.sampler!r}."),
        (spec.pruner in PRUNERS, f"--pruner must be one of {', '.join(PRUNERS)}, but got {spec.pruner!r}."),
        (spec.backend in BACKENDS, f"--backend must be one of {', '.join(BACKENDS)}, but got {spec.backend!r}."),
        (spec.cpus_per_trial > 0 and spec.gpus_per_trial >= 0,
         "--cpus-per-trial must be > 0 and --gpus-per-trial >= 0."),
        (spec.confirm_top >= 0 and spec.confirm_seeds >= 0, "--confirm-top and --confirm-seeds must be >= 0."),
        (bool(spec.study_name.strip()) and len(spec.study_name) <= 512,
         "--study must be a non-empty name of at most 512 characters."),
        (spec.study_name.isprintable(),
         f"--study {spec.study_name!r} holds control or separator characters; use printable characters."),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    return spec


def build_spec(
    target: str | Path,
    *,
    config: Path | None = None,
    overrides: dict[str, Any] | None = None,
    space_table: dict[str, Any] | None = None,
) -> StudySpec:
    """Merge defaults, the study file and flags (``overrides`` holds only flags the user gave).

    ``target`` is a model file, or a study file whose [study].model names one.
    """
    target = Path(target)
    if target.suffix == ".toml" and config is None:
        config, target = target, None
    data = read_study_file(config) if config is not None else {}
    study = data.get("study", {})
    if target is None:
        if "model" not in study:
            raise UserError(f"{config}: [study].model must name the model file, e.g. model = \"model.py\".")
        target = (config.parent / study["model"]).resolve()
    settings = {k: v for k, v in study.items() if k not in ("model", "name", "storage")}
    settings.update(overrides or {})
    name = settings.pop("study", None)
    name = study.get("name", target.stem) if name is None else name  # an empty --study is refused, not replaced
    storage = settings.pop("storage", None) or study.get("storage") or default_storage()
    space = space_from_table(data.get("space", {}), where=f"{config}: [space]") if data else SearchSpace()
    if space_table:
        space = space_from_table(space_table, where=None, space=space)
    spec = StudySpec(model_file=target, study_name=name, storage=storage, space=space)
    return check_spec(replace(spec, **settings))
