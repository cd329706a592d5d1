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
    "SearchResult": "autoopt.engine",
    "search": "autoopt.engine",
    "Recommendation": "autoopt.recommend",
    "recommend": "autoopt.recommend",
    "Pruned": "autoopt.runner",
    "TrialContext": "autoopt.runner",
    "StudySpec": "autoopt.spec",
    "build_spec": "autoopt.spec",
    "Task": "autoopt.task",
    "load_task": "autoopt.task",
}

_SUBMODULES = {"optimizers"}  # exported as the module itself

if TYPE_CHECKING:
    from autoopt import optimizers
    from autoopt.engine import SearchResult, search
    from autoopt.recommend import Recommendation, recommend
    from autoopt.runner import Pruned, TrialContext
    from autoopt.spec import StudySpec, build_spec
    from autoopt.task import Task, load_task


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
    """``autoopt.recommend`` is the function, as it was when this package imported it eagerly.

    Importing the submodule ``autoopt.recommend`` makes Python set the package's attribute of
    that name to the module; this keeps the function there instead (``from autoopt.recommend
    import ...`` reads ``sys.modules`` and is unaffected).
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
