"""Shared fixtures: an isolated registry, and a driver that runs two optimizers in lockstep."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
import torch

from autoopt.optimizers import native, registry

# Two parameter groups of mixed shapes: the references must agree across groups too.
GROUP_SHAPES = [[(16, 8), (8,)], [(8, 4), (4,), (3, 5, 2)]]

MakeOptimizer = Callable[[list[list[torch.Tensor]]], torch.optim.Optimizer]


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names resolved by a test (``get("asgd")``) must not leak into other tests' registry."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture(autouse=True, scope="session")
def _native_kernel_built() -> None:
    """Lion's default path is the native kernel where it can be built: build it before any test steps.

    Otherwise the first test to step would start the build in the background, and the
    default path would be tested on its fallback alone.
    """
    native.load(wait=True)


@pytest.fixture(autouse=True)
def _single_threaded(one_thread: None) -> None:
    """Every test here runs on one thread (tests/conftest.py says why)."""


def make_groups(dtype: torch.dtype, seed: int = 0) -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes] for shapes in GROUP_SHAPES]


def _reloaded(optimizer: torch.optim.Optimizer, make: MakeOptimizer, groups: list[list[torch.Tensor]]):
    """A fresh optimizer on copies of ``groups``, restored from ``optimizer``'s state dict saved to bytes."""
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    copies = [[p.detach().clone().requires_grad_() for p in group] for group in groups]
    fresh = make(copies)
    fresh.load_state_dict(torch.load(buffer, weights_only=False))
    return fresh, copies


@pytest.fixture
def lockstep() -> Callable[..., None]:
    """Run ``make_ours`` and ``make_reference`` on equal parameters and equal random gradients.

    Parameters are compared after every step; at ``reload_at`` ours is saved, rebuilt on
    copies of its parameters, loaded, and continues while the reference runs through.
    """

    def run(
        make_ours: MakeOptimizer,
        make_reference: MakeOptimizer,
        *,
        steps: int = 300,
        reload_at: int | None = 150,
        dtype: torch.dtype = torch.float64,
        atol: float = 1e-12,
        rtol: float = 1e-10,
    ) -> None:
        ours_groups, reference_groups = make_groups(dtype), make_groups(dtype)
        ours, reference = make_ours(ours_groups), make_reference(reference_groups)
        gen = torch.Generator().manual_seed(1)
        for step in range(steps):
            if step == reload_at:
                ours, ours_groups = _reloaded(ours, make_ours, ours_groups)
            for p, q in zip(sum(ours_groups, []), sum(reference_groups, [])):
                p.grad = torch.randn(p.shape, generator=gen, dtype=dtype)
                q.grad = p.grad.clone()
            ours.step()
            reference.step()
            for p, q in zip(sum(ours_groups, []), sum(reference_groups, [])):
                torch.testing.assert_close(p, q, atol=atol, rtol=rtol, msg=lambda m: f"step {step}: {m}")

    return run
