"""Only ``autoopt/storage/`` touches anything private in Optuna.

Every module of autoopt outside that package is parsed, and each of these is a touch:

- importing a private Optuna module: any dotted part that starts with ``_``
  (``import optuna.storages._rdb``, ``from optuna.storages._cached_storage import ...``);
- importing a private name from Optuna (``from optuna.storages import _CachedStorage``);
- reading or writing an underscore attribute of anything but ``self`` / ``cls``
  (``study._storage``, ``trial._trial_id``, ``optuna.storages._heartbeat``), or naming one
  to ``getattr`` / ``setattr`` / ``hasattr``. The one exception: attributes of a name
  imported from a library other than Optuna (``torch._foreach_add_``), which are that
  library's business, not Optuna's.

A module that needs something private asks ``autoopt.storage`` for a function that does it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import autoopt

PACKAGE = Path(autoopt.__file__).parent
WALLED_IN = PACKAGE / "storage"  # the one place allowed to touch Optuna's private parts
OPTUNA = ("optuna", "optuna_dashboard")
# (path below autoopt/, what private_touches says after the line number) -> why it cannot go
# through autoopt.storage, e.g. ("trial_loop.py", "reads or writes the private attribute study._storage").
ALLOWED: dict[tuple[str, str], str] = {}


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def _is_optuna(module: str) -> bool:
    return module.split(".")[0] in OPTUNA


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _other_libraries(tree: ast.Module) -> set[str]:
    """Names the module binds by importing from a library other than Optuna (and other than autoopt)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _is_optuna(alias.name) and alias.name.split(".")[0] != "autoopt":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not _is_optuna(node.module) and node.module.split(".")[0] != "autoopt":
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def private_touches(source: str, label: str) -> list[str]:
    """Each private Optuna touch in ``source``, as ``label:line: what``."""
    tree = ast.parse(source)
    foreign = _other_libraries(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"imports the private module {a.name}") for a in node.names
                      if _is_optuna(a.name) and _private(a.name)]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and node.module and _is_optuna(node.module):
            if _private(node.module):
                found.append((node.lineno, f"imports from the private module {node.module}"))
            found += [(node.lineno, f"imports the private name {a.name} from {node.module}") for a in node.names
                      if a.name.startswith("_")]  # fmt: skip
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not _dunder(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            root = _root(node.value)
            if isinstance(root, ast.Name) and root.id in foreign:
                continue
            found.append((node.lineno, f"reads or writes the private attribute {ast.unparse(node)}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and node.args[1].value.startswith("_") and not _dunder(node.args[1].value)):  # fmt: skip
            found.append((node.lineno, f"names the private attribute {node.args[1].value!r} to {node.func.id}"))
    return [f"{label}:{line}: {what}" for line, what in sorted(found)]


def test_no_module_outside_autoopt_storage_touches_anything_private_in_optuna():
    touches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if WALLED_IN in path.parents:
            continue
        label = str(path.relative_to(PACKAGE.parent))
        relative = str(path.relative_to(PACKAGE))
        touches += [t for t in private_touches(path.read_text(), label)
                    if (relative, t.split(": ", 1)[1]) not in ALLOWED]  # fmt: skip
    assert not touches, "Only autoopt/storage/ may touch Optuna's private parts; put these behind a function there:\n" + "\n".join(touches)


def test_every_allowed_exception_says_why():
    assert all(reason.strip() for reason in ALLOWED.values())


@pytest.mark.parametrize(
    "planted",
    [
        "import optuna.storages._rdb.models",
        "import optuna._imports as imports",
        "from optuna.storages._cached_storage import _CachedStorage",
        "from optuna.storages._rdb import models",
        "from optuna.storages import _CachedStorage",
        "def count(study):\n    return study._storage.get_n_trials(study._study_id)",
        "import optuna\nBEAT = optuna.storages._heartbeat.BaseHeartbeat",
        "class Loop:\n    def beat(self, trial):\n        self.study._storage.record_heartbeat(trial._trial_id)",
        "def forget(study):\n    study._thread_local.cached_all_trials = None",
        "def backend(storage):\n    return getattr(storage, '_backend', storage)",
        "from optuna.trial import FrozenTrial\nPARAMS = FrozenTrial._params",
        "def first(study):\n    return study.trials[0]._trial_id",
    ],
)
def test_a_planted_touch_is_caught_and_named_by_file_and_line(planted, tmp_path):
    module = tmp_path / "planted.py"
    module.write_text('"""A module that breaks the wall."""\n\n' + planted + "\n")
    touches = private_touches(module.read_text(), module.name)
    assert touches, f"not caught:\n{planted}"
    assert all(t.startswith("planted.py:") for t in touches)
    assert int(touches[0].split(":")[1]) >= 3  # the line of the planted code, after the docstring


@pytest.mark.parametrize(
    "clean",
    [
        "class Cache:\n    def get(self):\n        return self._trials\n    @classmethod\n    def make(cls):\n        return cls._new()",
        "import torch\ntorch._foreach_add_([], [])",
        "from torch.optim import Optimizer\nGROUP = Optimizer._group_tensors_by_device_and_dtype",
        "def name(study):\n    return type(study).__name__",
        "from optuna.storages import RDBStorage\nfrom optuna.trial import TrialState",
        "from autoopt.storage import trial_id_of\nNUMBER = trial_id_of",
    ],
)
def test_what_is_not_a_private_optuna_touch_passes(clean):
    assert private_touches(clean, "clean.py") == []


def test_autoopt_storage_is_where_the_private_touches_are():
    """The wall stands around something: the storage package does reach into Optuna."""
    touches = [t for path in sorted(WALLED_IN.rglob("*.py")) for t in private_touches(path.read_text(), path.name)]
    assert any("_CachedStorage" in t for t in touches) and any("_trial_id" in t for t in touches)
