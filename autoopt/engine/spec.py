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
    jobs = 1                     # every other setting of autoopt.engine.settings.SETTINGS too

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

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoopt.errors import UserError
from autoopt.engine.settings import (
    BACKENDS,
    BY_KEY,
    BY_NAME,
    DEFAULT_BUDGET,
    DEFAULT_EPOCHS,
    PRUNERS,
    SAMPLERS,
    SETTINGS,
    check_overrides,
    check_study_table,
)
from autoopt.engine.space import (
    SearchSpace,
    narrow_optimizer,
    with_batch_sizes,
    with_lookahead,
    with_lookahead_bounds,
    with_optimizers,
)
from autoopt.storage import given_or_default_storage


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
    fuse: int | str = "auto"  # trials trained together as one vmapped model (autoopt.training.fused); "auto": by model size
    space: SearchSpace = field(default_factory=SearchSpace)
    sampler: str = "tpe"
    pruner: str = "auto"  # at rungs whose early rankings held until E (autoopt.engine.pruning)
    warm_start: bool = True  # first screen every optimizer at its defaults, the full epochs (autoopt.engine.phases)
    race: bool = True  # then search only the families within noise of the best
    calibrate: bool = True  # ... their learning rates scaled by a short range test (autoopt.engine.calibrate)
    confirm_top: int = 5  # re-train the best few configurations ...
    confirm_seeds: int = 2  # ... until each has this many seeds; the leaders get twice as many
    backend: str = "local"  # "local" (this machine) or "ray" (a Ray cluster)
    address: str | None = None  # Ray cluster address ("auto", "ray://host:10001"); None starts a local one
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractional values let small trials share a GPU


def _fields_follow_the_settings() -> None:
    """StudySpec's settings are SETTINGS': the same names and defaults (checked at import)."""
    fields = {f.name: f for f in dataclasses.fields(StudySpec) if f.name not in ("model_file", "space")}
    declared = [s.spec_field for s in SETTINGS]
    if sorted(fields) != sorted(declared):
        raise RuntimeError(f"StudySpec's fields {list(fields)} differ from autoopt.engine.settings.SETTINGS {declared}")
    for s in SETTINGS:
        default = fields[s.spec_field].default
        if default is not dataclasses.MISSING and default != s.default:
            raise RuntimeError(f"StudySpec.{s.spec_field} defaults to {default!r}, SETTINGS to {s.default!r}")


_fields_follow_the_settings()


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
    check_study_table(data.get("study", {}), where=f"{path}: ")
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
    """Reject impossible settings, naming the flag (``autoopt.engine.settings.SETTINGS`` holds each rule)."""
    for setting in SETTINGS:
        problem = setting.problem(getattr(spec, setting.spec_field))
        if problem is not None:
            raise UserError(problem)
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
    from_file = {BY_KEY[k].name: v for k, v in study.items() if k in BY_KEY}
    given = check_overrides(overrides or {})
    settings = {**from_file, **given}
    name = given.get("study")
    settings["study"] = from_file.get("study", target.stem) if name is None else name  # an empty --study is refused
    settings["storage"] = (given_or_default_storage(given["storage"]) if given.get("storage") is not None else
                           given_or_default_storage(from_file.get("storage"), where=f"{config}: [study].storage"))
    space = space_from_table(data.get("space", {}), where=f"{config}: [space]") if data else SearchSpace()
    if space_table:
        space = space_from_table(space_table, where=None, space=space)
    fields = {BY_NAME[name].spec_field: value for name, value in settings.items()}
    return check_spec(StudySpec(model_file=target, space=space, **fields))
