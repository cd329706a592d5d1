"""docker-compose.yml starts the cluster stack it promises, and publishes nothing beyond 127.0.0.1.

The stack cannot start here (no Docker daemon); its structure is checked instead, and
`docker-compose config` validates it where the Compose CLI exists (CI installs Debian's).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from skip_reasons import needs

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"
RAY_PORTS = {"6379", "8265", "10001"}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_stack_has_the_database_a_ray_head_gpu_workers_and_the_dashboard(services: dict[str, Any]) -> None:
    assert {"postgres", "ray-head", "ray-worker", "dashboard"} <= set(services)


def test_every_service_has_a_health_check(services: dict[str, Any]) -> None:
    assert [name for name, service in services.items() if "test" not in service.get("healthcheck", {})] == []


def test_the_database_lives_in_a_named_volume() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    mounts = [volume.split(":")[0] for volume in compose["services"]["postgres"]["volumes"]]
    assert set(mounts) & set(compose["volumes"])


def test_published_ports_bind_to_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_the_ray_gcs_port_is_not_published(services: dict[str, Any]) -> None:
    published = {str(port).split(":")[-1] for service in services.values() for port in service.get("ports", [])}
    assert "6379" not in published and published & RAY_PORTS == {"8265", "10001"}


def test_workers_reserve_nvidia_gpus_and_can_be_scaled(services: dict[str, Any]) -> None:
    worker = services["ray-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "container_name" not in worker and not worker.get("ports"), "--scale needs no fixed name or host port"


def test_services_start_after_what_they_need_is_healthy(services: dict[str, Any]) -> None:
    assert services["ray-head"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["ray-worker"]["depends_on"]["ray-head"]["condition"] == "service_healthy"


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.mark.skipif(_compose_cli() is None, reason=needs("docker-compose to validate docker-compose.yml",
                                                          "apt-get install docker-compose"))
def test_compose_validates_the_file() -> None:
    result = subprocess.run([*_compose_cli(), "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
