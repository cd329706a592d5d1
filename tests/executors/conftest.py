"""Fixtures of the executor contract suite: each executor in turn, and a Ray cluster for Ray's."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from executor_support import EXECUTORS, Executor, executor_named

from skip_reasons import needs


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A real Ray cluster on this machine (its GCS, raylet and workers are processes of their own),
    one CPU so one actor, that this process is connected to: the Ray searches use it as they find it.

    Not tests/cluster's ``Cluster`` of several nodes: a driver in the process that started one
    cannot connect to it here (it looks for the GCS at the machine's address, not loopback's).
    """
    ray = pytest.importorskip("ray", reason=needs("Ray for the Ray executor", "pip install -e '.[dev]'"))
    # "local": a new cluster; with no address Ray would join any other one running on this machine.
    ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.ray) if name.startswith("ray") else name for name in EXECUTORS])
def executor(request: pytest.FixtureRequest) -> Executor:
    """Each executor in turn."""
    return executor_named(request.param, request)


@pytest.fixture(autouse=True)
def _single_threaded(one_thread: None) -> None:
    """Every test here runs on one thread (tests/conftest.py says why)."""
