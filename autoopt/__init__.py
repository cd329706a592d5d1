"""autoopt: find which PyTorch optimizer suits your model, and how to set it.

>>> import autoopt
>>> spec = autoopt.build_spec("model.py", overrides={"trials": 20})   # doctest: +SKIP
>>> autoopt.search(spec)                                               # doctest: +SKIP
>>> rec = autoopt.recommend("model", "sqlite:///autoopt.db")          # doctest: +SKIP
>>> optimizer = autoopt.optimizers.from_recommendation(net.parameters(), rec.to_dict())  # doctest: +SKIP
"""

__version__ = "0.1.0"

from autoopt import optimizers  # noqa: E402
from autoopt.engine import SearchResult, search  # noqa: E402
from autoopt.errors import UserError  # noqa: E402
from autoopt.recommend import Recommendation, recommend  # noqa: E402
from autoopt.runner import Pruned, TrialContext  # noqa: E402
from autoopt.spec import StudySpec, build_spec  # noqa: E402
from autoopt.task import Task, load_task  # noqa: E402

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
