"""autoopt: find which PyTorch optimizer suits your model, and how to set it.

>>> import autoopt
>>> spec = autoopt.build_spec("model.py", overrides={"trials": 20})   # doctest: +SKIP
>>> autoopt.search(spec)                                               # doctest: +SKIP
>>> rec = autoopt.recommend("model", "sqlite:///autoopt.db")          # doctest: +SKIP
>>> optimizer = autoopt.optimizers.from_recommendation(net.parameters(), rec.to_dict())  # doctest: +SKIP

The names below are imported on first use (PEP 562): ``import autoopt`` and the command
line's ``--help`` stay fast because torch, Optuna and the search engine load only when a
name that needs them is touched.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from autoopt._version import __version__
from autoopt.errors import UserError

# public name -> the module that defines it
_LAZY = {
    "optimizers": "autoopt.optimizers",
    "SearchResult": "autoopt.engine.run",
    "search": "autoopt.engine.run",
    "Recommendation": "autoopt.engine.recommend",
    "recommend": "autoopt.engine.recommend",
    "Pruned": "autoopt.training.runner",
    "TrialContext": "autoopt.training.runner",
    "StudySpec": "autoopt.engine.spec",
    "build_spec": "autoopt.engine.spec",
    "Task": "autoopt.training.task",
    "load_task": "autoopt.training.task",
}

_SUBMODULES = {"optimizers"}  # exported as the module itself

if TYPE_CHECKING:
    from autoopt import optimizers
    from autoopt.engine.run import SearchResult, search
    from autoopt.engine.recommend import Recommendation, recommend
    from autoopt.training.runner import Pruned, TrialContext
    from autoopt.engine.spec import StudySpec, build_spec
    from autoopt.training.task import Task, load_task


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'autoopt' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name in _SUBMODULES else getattr(module, name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """``autoopt.recommend`` and ``autoopt.search`` stay the functions, as they were when this
    package imported them eagerly.

    Importing a submodule of the same name would make Python set the package's attribute of
    that name to the module; this keeps the function there instead (``from autoopt.x import
    ...`` reads ``sys.modules`` and is unaffected).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _LAZY and name not in _SUBMODULES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Pruned",
    "Recommendation",
    "SearchResult",
    "StudySpec",
    "Task",
    "TrialContext",
    "UserError",
    "build_spec",
    "load_task",
    "optimizers",
    "recommend",
    "search",
]
