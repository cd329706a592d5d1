"""Optimizers autoopt builds: torch's own plus Lion and Lookahead. Imports only torch."""

from autoopt.optimizers.factory import build, from_recommendation
from autoopt.optimizers.lion import Lion
from autoopt.optimizers.lookahead import Lookahead
from autoopt.optimizers.registry import OptimizerInfo, Range, get, names, register

__all__ = [
    "Lion",
    "Lookahead",
    "OptimizerInfo",
    "Range",
    "build",
    "from_recommendation",
    "get",
    "names",
    "register",
]
