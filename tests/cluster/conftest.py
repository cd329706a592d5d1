"""Fixtures of the cluster tests: the shared database, study names, a three-node Ray cluster."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from skip_reasons import needs

pytest.importorskip("ray", reason=needs("Ray for the cluster tests", "pip install -e '.[dev]'"))
from ray.cluster_utils import Cluster  # noqa: E402
from postgres_support import delete_studies, postgres_url  # noqa: E402
from ray_cluster import start_cluster  # noqa: E402


@pytest.fixture(scope="session")
def database_url() -> str:
    return postgres_url("cluster")


@pytest.fixture
def new_study_name(database_url: str) -> Iterator[Callable[[], str]]:
    """Fresh study names in the shared database; their studies are deleted afterwards."""
    names: list[str] = []

    def make() -> str:
        names.append(f"cluster-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    delete_studies(database_url, lambda name: name in names)


@pytest.fixture
def study_name(new_study_name: Callable[[], str]) -> str:
    return new_study_name()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head and two worker nodes, one CPU each, shared by a module's tests."""
    cluster = start_cluster(workers=2)
    yield cluster
    cluster.shutdown()


