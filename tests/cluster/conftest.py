"""Fixtures of the cluster tests: the shared database, study names, a three-node Ray cluster."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import optuna
import pytest

pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402
from ray_cluster import start_cluster  # noqa: E402


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("AUTOOPT_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("AUTOOPT_TEST_DATABASE_URL must be set in CI: the cluster tests need the shared database")
        pytest.skip("set AUTOOPT_TEST_DATABASE_URL=postgresql://... to run the cluster tests")
    return url


@pytest.fixture
def new_study_name(database_url: str) -> Iterator[Callable[[], str]]:
    """Fresh study names in the shared database; their studies are deleted afterwards."""
    names: list[str] = []

    def make() -> str:
        names.append(f"cluster-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    from autoopt.storage import open_storage

    storage = open_storage(database_url)
    for name in set(names) & {s.study_name for s in storage.get_all_studies()}:
        optuna.delete_study(study_name=name, storage=storage)


@pytest.fixture
def study_name(new_study_name: Callable[[], str]) -> str:
    return new_study_name()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head and two worker nodes, one CPU each, shared by a module's tests."""
    cluster = start_cluster(workers=2)
    yield cluster
    cluster.shutdown()


