"""Every Lion path and both Lookahead syncs against the plain rule; the native kernel taken, declined and missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from autoopt.optimizers import Lion, Lookahead, native

# Two groups with their own rates, decays and betas: the kernel must take each group's own.
GROUPS = [
    {"shapes": [(64, 33), (33,), (5, 3, 2)], "lr": 3e-3, "weight_decay": 0.5, "betas": (0.9, 0.99)},
    {"shapes": [(20, 20), ()], "lr": 1e-3, "weight_decay": 0.1, "betas": (0.95, 0.98)},
]
STEPS = 6


@pytest.fixture(scope="module")
def kernel() -> object:
    ops = native.load(wait=True)
    if ops is None:  # no compiler here: the fallback tests below still run
        pytest.skip("the native kernel could not be built on this machine")
    return ops


@pytest.fixture
def no_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A fresh cache folder and a C++ compiler that does not exist: the build fails as it would without one."""
    monkeypatch.setenv("AUTOOPT_KERNEL_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(native, "_ops", native._UNLOADED)


def _problem(dtype: torch.dtype = torch.float32) -> tuple[list[list[torch.Tensor]], list[list[list[torch.Tensor]]]]:
    gen = torch.Generator().manual_seed(0)
    params = [[torch.randn(s, generator=gen).to(dtype) for s in g["shapes"]] for g in GROUPS]
    grads = [[[torch.randn(s, generator=gen).to(dtype) for s in g["shapes"]] for g in GROUPS] for _ in range(STEPS)]
    return params, grads


def _reference(params, grads) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The rule as the paper writes it, group by group."""
    params = [[p.double() for p in group] for group in params]
    momenta = [[torch.zeros_like(p) for p in group] for group in params]
    for step in grads:
        for g, group_params, group_momenta, group_grads in zip(GROUPS, params, momenta, step):
            (beta1, beta2), lr, wd = g["betas"], g["lr"], g["weight_decay"]
            for i, (p, m, grad) in enumerate(zip(group_params, group_momenta, group_grads)):
                grad = grad.double()
                group_params[i] = p - lr * (torch.sign(beta1 * m + (1 - beta1) * grad) + wd * p)
                group_momenta[i] = beta2 * m + (1 - beta2) * grad
    return sum(params, []), sum(momenta, [])


def _run(params, grads, **options) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    params = [[p.clone().requires_grad_() for p in group] for group in params]
    groups = [{"params": ps, **{k: g[k] for k in ("lr", "weight_decay", "betas")}} for g, ps in zip(GROUPS, params)]
    optimizer = Lion(groups, **options)
    for step in grads:
        for group_params, group_grads in zip(params, step):
            for p, grad in zip(group_params, group_grads):
                p.grad = grad.clone()
        optimizer.step()
    flat = sum(params, [])
    return [p.detach() for p in flat], [optimizer.state[p]["exp_avg"] for p in flat]


PATHS = {
    "single-tensor": {"foreach": False, "fused": False},
    "foreach": {"foreach": True, "fused": False},
    "flat": {"flat": True, "fused": False},
    "default": {},
}
KERNEL_PATHS = {"native": {"fused": True}, "native flat": {"flat": True, "fused": True}}


def _assert_matches_reference(ours, reference) -> None:
    for a, b in zip(ours[0] + ours[1], reference[0] + reference[1]):
        torch.testing.assert_close(a.double(), b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("path", list(PATHS))
def test_every_path_matches_the_plain_rule_in_parameters_and_momenta(path):
    params, grads = _problem()
    _assert_matches_reference(_run(params, grads, **PATHS[path]), _reference(params, grads))


@pytest.mark.parametrize("path", list(KERNEL_PATHS))
def test_the_native_kernel_matches_the_plain_rule_and_the_eager_paths(kernel, path):
    params, grads = _problem()
    ours = _run(params, grads, **KERNEL_PATHS[path])
    _assert_matches_reference(ours, _reference(params, grads))
    # The kernel does the eager ops' arithmetic in their order: equal to the foreach path within rounding.
    eager = _run(params, grads, fused=False)
    for a, b in zip(ours[0] + ours[1], eager[0] + eager[1]):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-6)


def test_the_default_path_is_the_native_kernel_where_it_is_built(kernel, monkeypatch):
    taken = []
    lion_ = native.lion_
    monkeypatch.setattr(native, "lion_", lambda *a, **k: taken.append(lion_(*a, **k)) or taken[-1])
    params, grads = _problem()
    _run(params, grads)
    assert taken and all(taken)


def test_without_a_compiler_every_default_path_falls_back_to_the_same_results(no_compiler, tmp_path):
    assert native.load(wait=True) is None
    assert (next(tmp_path.rglob("FAILED"))).exists()  # later processes do not try the build again
    params, grads = _problem()
    for options in ({}, {"flat": True}):
        _assert_matches_reference(_run(params, grads, **options), _reference(params, grads))
    with pytest.raises(RuntimeError, match=r"Lion\(fused=True\).*kernel built: False"):
        _run(params, grads, fused=True)


def test_a_fresh_process_loads_the_built_kernel_without_compiling(kernel):
    # As each trial's subprocess does: with no compiler to be found, the cached build still loads.
    code = "from autoopt.optimizers import native; print(native.load() is not None)"
    env = {**os.environ, "CXX": "/nonexistent/c++", "PATH": os.path.dirname(sys.executable)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_a_build_killed_midway_is_redone_not_waited_on(kernel, monkeypatch, tmp_path):
    # What a trial process killed mid-build leaves: torch's lock file and a half-written library.
    monkeypatch.setenv("AUTOOPT_KERNEL_DIR", str(tmp_path))
    folder = native.build_directory()
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    (folder / f"{native._NAME}.so").write_bytes(b"half a library")
    code = "from autoopt.optimizers import native; print(native.load(wait=True) is not None)"  # a fresh process
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    assert out.stdout.strip() == "True" and (folder / "BUILT").exists()


def test_the_first_process_builds_in_the_background_and_steps_without_waiting(no_compiler, tmp_path):
    # The build fails fast here (no compiler); what is tested is who runs it and who waits for it.
    start = time.monotonic()
    assert native.load() is None and native.load() is None  # no stall; the same answer all process long
    assert time.monotonic() - start < 5
    failed = native.build_directory() / "FAILED"
    while not failed.exists() and time.monotonic() - start < 300:  # the detached builder, done
        time.sleep(0.2)
    assert failed.exists()
    params, grads = _problem()
    _assert_matches_reference(_run(params, grads), _reference(params, grads))


def test_the_environment_switch_turns_the_kernel_off(monkeypatch):
    monkeypatch.setenv("AUTOOPT_NATIVE", "0")
    monkeypatch.setattr(native, "_ops", native._UNLOADED)
    assert native.load() is None


@pytest.mark.parametrize(
    "unfit",
    [
        lambda t: t.double(),
        lambda t: t.bfloat16(),
        lambda t: t.t().contiguous().t() if t.dim() == 2 else t[None].expand(2, *t.shape)[0],  # not contiguous
        lambda t: t.to_sparse(),
        lambda t: t.to("meta"),
    ],
    ids=["float64", "bfloat16", "non-contiguous", "sparse", "meta"],
)
def test_the_kernel_declines_unfit_tensors_having_changed_nothing(kernel, unfit):
    params, grads, momenta = (list(torch.randn(3, 4, 5).unbind()) for _ in range(3))
    before = [t.clone() for t in params + momenta]
    grads[1] = unfit(grads[1])
    assert not native.lion_(params, grads, momenta, lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.1, maximize=False)
    assert all(torch.equal(a, b) for a, b in zip(params + momenta, before))


def test_unfit_groups_fall_back_and_fused_true_refuses_them(kernel):
    params, grads = _problem(torch.float64)
    _assert_matches_reference(_run(params, grads), _reference(params, grads))
    with pytest.raises(RuntimeError, match="could not take this group"):
        _run(params, grads, fused=True)


def test_the_kernel_bumps_versions_as_in_place_ops_do(kernel):
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    optimizer = Lion([p], fused=True)
    before = p._version
    optimizer.step()
    assert p._version > before


def _lookahead_run(*, native_sync: bool, monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    if not native_sync:
        monkeypatch.setattr(native, "lookahead_sync_", lambda *a: False)
    params, grads = _problem()
    params = [p.clone().requires_grad_() for group in params for p in group]
    optimizer = Lookahead(torch.optim.SGD(params, lr=0.1), k=2, alpha=0.3)
    for step in grads:
        for p, g in zip(params, sum(step, [])):
            p.grad = g
        optimizer.step()
    monkeypatch.undo()
    return [p.detach() for p in params] + [optimizer.state[p]["slow_param"] for p in params]


def test_lookahead_native_sync_matches_the_foreach_sync_and_the_rule(kernel, monkeypatch):
    ours = _lookahead_run(native_sync=True, monkeypatch=monkeypatch)
    eager = _lookahead_run(native_sync=False, monkeypatch=monkeypatch)
    for a, b in zip(ours, eager):
        torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-6)
    fast, slow = torch.randn(1000), torch.randn(1000)
    for alpha in (0.3, 0.5, 0.8):  # both of torch.lerp's formulas
        f, s = fast.clone(), slow.clone()
        assert native.lookahead_sync_([f], [s], alpha)
        torch.testing.assert_close(s, slow + alpha * (fast - slow))
        assert torch.equal(f, s)
