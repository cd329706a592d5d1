"""The search settings, each declared once: name, type, default, help, flag, study-file key and rule.

Everything that lists settings is derived from ``SETTINGS``: the ``autoopt search`` options
(``autoopt.cli.commands``), the keys a study file's ``[study]`` table accepts and their type checks,
the keys of ``build_spec(overrides=...)``, and ``check_spec``'s checks and messages
(``autoopt.engine.spec``); ``StudySpec``'s fields are checked against it when ``autoopt.engine.spec`` is
imported. A new setting is one ``Setting(...)`` line here plus its ``StudySpec`` field.

This module imports nothing heavy: the command line builds its options from it before torch
or Optuna load.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from autoopt.errors import UserError
from autoopt.storage.urls import STORAGE_ENV, STORAGE_HELP

DEFAULT_BUDGET = 30  # full trainings: range test, screen, search and confirmations together
DEFAULT_EPOCHS = 10
SAMPLERS = ("tpe", "random")
BACKENDS = ("local", "ray")
PRUNERS = ("auto", "asha", "hyperband", "none")
MAX_STUDY_NAME = 512

# What each accepted kind of value is called in a message.
_KINDS: dict[Any, str] = {str: "a quoted string", int: "a whole number", bool: "true or false",
                          float: "a number", (int, str): 'a whole number or "auto"'}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One condition on a setting's value; ``says`` completes "--flag must be ...", e.g. ``>= 1``."""

    holds: Callable[[Any], bool]
    says: str


@dataclass(frozen=True)
class Setting:
    """One search setting: a ``StudySpec`` field, an ``autoopt search`` flag and a ``[study]`` key."""

    name: str  # the key of build_spec(overrides=...) and of the search command's parameters
    kind: Any  # the type a value has: int, float (an int is taken too), str, bool, or (int, str)
    default: Any  # None: unset (the meaning is in ``shown_default`` or the help)
    help: str
    rules: tuple[Rule, ...] = ()
    shown_default: str | None = None  # what --help says of the default, where not the value itself
    field: str | None = None  # the StudySpec field, where not ``name``
    toml_key: str | None = None  # the [study] key, where not ``name``
    from_flag: Callable[[Any], Any] | None = None  # the flag's text to the value, where Typer's type is not it

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def spec_field(self) -> str:
        return self.field or self.name

    @property
    def key(self) -> str:
        """Its key in a study file's [study] table."""
        return self.toml_key or self.name

    @property
    def kind_text(self) -> str:
        return _KINDS[self.kind]

    @property
    def help_default(self) -> str | None:
        """The default as ``--help`` shows it."""
        if self.shown_default is not None or self.default is None:
            return self.shown_default
        if self.kind is bool:
            return "on" if self.default else "off"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)

    def _expected(self) -> str:
        """What a value must be, for a value of the wrong type: ``a whole number >= 1``."""
        if not self.rules:
            return self.kind_text
        says = self.rules[0].says
        return f"{self.kind_text} {says}" if says.startswith((">", "<")) else says

    def has_kind(self, value: Any) -> bool:
        """Whether ``value`` is of this setting's type (``None`` only where that is the default)."""
        if value is None:
            return self.default is None
        if isinstance(value, bool):
            return self.kind is bool
        accepted = {float: (int, float)}.get(self.kind, self.kind)
        return isinstance(value, accepted)

    def problem(self, value: Any) -> str | None:
        """The message for an impossible value, naming the flag; ``None`` when it is fine."""
        if not self.has_kind(value):
            return f"{self.flag} must be {self._expected()}, but got {value!r}."
        if value is None:
            return None
        for rule in self.rules:
            if not rule.holds(value):
                return f"{self.flag} must be {rule.says}, but got {value!r}."
        return None


def _at_least(low: int, unit: str = "") -> Rule:
    return Rule(lambda v: v >= low, f">= {low}{unit}")


def _positive(unit: str = "") -> Rule:
    return Rule(lambda v: v > 0, f"> 0{unit}")


def _one_of(choices: tuple[str, ...]) -> Rule:
    return Rule(lambda v: v in choices, f"one of {', '.join(choices)}")


def _fuse_from_flag(text: str) -> int | str:
    return int(text) if text.isdigit() else text


SETTINGS: tuple[Setting, ...] = (
    Setting("study", str, None, "Study name", field="study_name", toml_key="name", shown_default="the model file's stem",
            rules=(Rule(lambda v: bool(v.strip()) and len(v) <= MAX_STUDY_NAME,
                        f"a non-empty name of at most {MAX_STUDY_NAME} characters"),
                   Rule(str.isprintable, "printable (no control or separator characters)"))),
    Setting("storage", str, None, f"SQLAlchemy URL of the trial database (or set ${STORAGE_ENV})", shown_default=STORAGE_HELP),
    Setting("budget", int, DEFAULT_BUDGET, "Full trainings (E epochs each) the study may spend: range test, screen, "
            "search and confirmations together; resumed runs included", rules=(_at_least(1, " full training"),)),
    Setting("trials", int, None, "At most this many screen and search trials, resumed runs included",
            rules=(_at_least(1),), shown_default="no limit but --budget"),
    Setting("epochs", int, None, "Epochs per trial", rules=(_at_least(1),),
            shown_default=f"the model file's `epochs`, else {DEFAULT_EPOCHS}"),
    Setting("timeout", float, None, "Time budget of the whole search, in seconds", rules=(_positive(" seconds"),)),
    Setting("trial_timeout", float, None, "Time limit of one trial, in seconds", rules=(_positive(" seconds"),)),
    Setting("retries", int, 1, "Re-run a trial lost to a crash (worker died, no heartbeat) this many times, same params",
            rules=(_at_least(0),)),
    Setting("epoch_budget", int, None, "Stop starting search trials once this many epochs were trained (this run)",
            rules=(_at_least(1),)),
    Setting("seed", int, None, "Seed: the same seed gives the same trials and values on CPU (bit for bit across "
            "processes with a fixed --fuse)"),
    Setting("jobs", int, 1, "Trials run in parallel processes on this machine", rules=(_at_least(1),)),
    Setting("fuse", (int, str), "auto", "Train up to K trials at once as one vmapped model: K, auto (small models, "
            "where it pays) or 1 (off)",
            rules=(Rule(lambda v: v == "auto" or (type(v) is int and v >= 1), "a whole number >= 1 or auto"),),
            from_flag=_fuse_from_flag),
    Setting("sampler", str, "tpe", "tpe or random", rules=(_one_of(SAMPLERS),)),
    Setting("pruner", str, "auto", "auto (prune only at epochs whose rankings held until the end), asha, hyperband or none",
            rules=(_one_of(PRUNERS),)),
    Setting("confirm_top", int, 5, "Re-train this many best configurations on fresh seeds", rules=(_at_least(0),)),
    Setting("confirm_seeds", int, 2, "Seeds each re-trained configuration reaches; the leaders get twice as many",
            rules=(_at_least(0),)),
    Setting("warm_start", bool, True, "Screen every optimizer at its defaults, all epochs, first"),
    Setting("race", bool, True, "Search only the optimizers whose screen came within noise of the best"),
    Setting("calibrate", bool, True, "Scale the warm starts' learning rates by a short range test first"),
    Setting("backend", str, "local", "local or ray", rules=(_one_of(BACKENDS),)),
    Setting("address", str, None, "Ray cluster address: auto, ray://HEAD:10001", shown_default="start a local Ray"),
    Setting("cpus_per_trial", float, 1.0, "CPUs each Ray trial reserves", rules=(_positive(),)),
    Setting("gpus_per_trial", float, 0.0, "GPUs each Ray trial reserves; fractions share a GPU", rules=(_at_least(0),)),
)  # fmt: skip

BY_NAME = {s.name: s for s in SETTINGS}
BY_KEY = {s.key: s for s in SETTINGS}
MODEL_KEY = "model"  # the one [study] key that is no setting: the command line's MODEL_FILE argument
STUDY_KEYS = (MODEL_KEY, *BY_KEY)
_KEY_OF_NAME = {s.name: s.key for s in SETTINGS if s.key != s.name}  # study -> name
_NAME_OF_KEY = {key: name for name, key in _KEY_OF_NAME.items()}


def unknown_key(key: str, known: Iterable[str], *, named: str, aliases: dict[str, str]) -> UserError:
    """The error for ``key``, none of ``known`` (``named`` is how the message writes it): the
    closest known key suggested (``aliases`` first: the other spelling of the same setting), then all."""
    known = list(known)
    close = [aliases[key]] if key in aliases else difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UserError(f"{named} is not a known setting.{hint} Known: {', '.join(known)}.")


def check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """``build_spec(overrides=...)`` as given, once every key names a setting."""
    for key in overrides:
        if key not in BY_NAME:
            raise unknown_key(key, BY_NAME, named=f"build_spec(overrides=...): {key!r}", aliases=_NAME_OF_KEY)
    return overrides


def check_study_table(table: dict[str, Any], *, where: str) -> None:
    """Reject an unknown key or a value of the wrong type in a study file's [study] table."""
    for key, value in table.items():
        if key == MODEL_KEY:
            ok, kind_text = isinstance(value, str), _KINDS[str]
        elif key in BY_KEY:
            setting = BY_KEY[key]
            ok, kind_text = value is not None and setting.has_kind(value), setting.kind_text
        else:
            raise unknown_key(key, STUDY_KEYS, named=f"{where}[study].{key}", aliases=_KEY_OF_NAME)
        if not ok:
            raise UserError(f"{where}[study].{key} has the wrong type ({value!r}); write {kind_text}.")


def from_flags(values: dict[str, Any]) -> dict[str, Any]:
    """The search command's setting options as ``overrides``: only those given, each as its setting's value."""
    overrides = {}
    for name, value in values.items():
        if value is not None:
            convert = BY_NAME[name].from_flag
            overrides[name] = convert(value) if convert else value
    return overrides
