"""The executors of the contract suite, as the settings under which the search builds each one.

A module of its own (not conftest): with several test folders, `from conftest import` is ambiguous."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

# The settings under which autoopt.executors.build.make_executor builds each executor.
EXECUTORS: dict[str, dict[str, Any]] = {
    "inline": {"jobs": 1},
    "local": {"jobs": 2},
    "fused": {"fuse": 2},
    "ray": {"backend": "ray"},  # on the cluster the ``ray_cluster`` fixture starts and connects to
    "ray fused": {"backend": "ray", "fuse": 2},  # fused groups on that cluster's actors
}


class Executor(NamedTuple):
    name: str
    settings: dict[str, Any]

    @property
    def fused(self) -> bool:
        return self.settings.get("fuse", 1) > 1

    @property
    def on_ray(self) -> bool:
        return self.settings.get("backend") == "ray"


def executor_named(name: str, request: pytest.FixtureRequest) -> Executor:
    executor = Executor(name, dict(EXECUTORS[name]))
    if executor.on_ray:
        request.getfixturevalue("ray_cluster")
    return executor


def every_executor(request: pytest.FixtureRequest) -> list[Executor]:
    return [executor_named(name, request) for name in EXECUTORS]
