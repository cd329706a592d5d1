"""Lion against the paper, lion-pytorch and pytorch-optimizer; its two paths against each other."""

from __future__ import annotations

import warnings

import lion_pytorch
import pytest
import pytorch_optimizer
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.optimizers import Lion, blocks

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)
DTYPES = [torch.float32, torch.float64, torch.bfloat16]


class PaperLion(torch.optim.Optimizer):
    """Algorithm 2 of Chen et al. (2023), written out with plain tensor arithmetic."""

    def __init__(self, params, lr: float, betas: tuple[float, float], weight_decay: float) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                p.copy_(p - lr * (torch.sign(c) + wd * p))
                m.copy_(beta2 * m + (1 - beta2) * p.grad)


def _grouped(cls, groups, **defaults):
    # Group 0 decays its weights and runs at a higher rate; group 1 uses the defaults given.
    return cls([{"params": groups[0], "lr": 3e-3, "weight_decay": 0.5}, {"params": groups[1]}], **defaults)


REFERENCES = {
    "paper": lambda groups: _grouped(PaperLion, groups, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1),
    "lion-pytorch": lambda groups: _grouped(lion_pytorch.Lion, groups, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1),
    "pytorch-optimizer": lambda groups: _grouped(pytorch_optimizer.Lion, groups, lr=1e-3, weight_decay=0.1),
}


# The eager paths, with the native kernel off; "default" takes it where it can (float32 on the CPU).
PATHS = {
    "foreach": {"foreach": True, "fused": False},
    "single": {"foreach": False, "fused": False},
    "flat": {"flat": True, "fused": False},
    "default": {},
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("reference", list(REFERENCES))
def test_matches_reference_step_by_step_across_save_and_load(lockstep, reference, path):
    lockstep(lambda groups: _grouped(Lion, groups, lr=1e-3, weight_decay=0.1, **PATHS[path]), REFERENCES[reference])


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("reference", list(REFERENCES))
def test_matches_reference_in_float32(lockstep, reference, path):
    lockstep(
        lambda groups: _grouped(Lion, groups, lr=1e-3, weight_decay=0.1, **PATHS[path]), REFERENCES[reference],
        dtype=torch.float32, atol=1e-5, rtol=1e-5,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, "Invalid learning rate: -1.0"),
        ({"betas": (1.0, 0.99)}, "Invalid beta parameter at index 0: 1.0"),
        ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        ({"weight_decay": -0.5}, "Invalid weight_decay value: -0.5"),
    ],
)
def test_invalid_hyperparameters_raise_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Lion([torch.zeros(2, requires_grad=True)], **kwargs)


def _random_problem(seed: int, shapes: list[tuple[int, ...]], dtype: torch.dtype, steps: int):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).to(dtype) for s in shapes]
    grads = [[torch.randn(s, generator=gen).to(dtype) for s in shapes] for _ in range(steps)]
    return params, grads


def _run(params, grads, **kwargs) -> list[torch.Tensor]:
    params = [p.clone().requires_grad_() for p in params]
    optimizer = Lion(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        optimizer.step()
    return [p.detach() for p in params]


SHAPES = st.lists(st.lists(st.integers(1, 9), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4)
HYPERPARAMETERS = st.fixed_dictionaries(
    {
        "lr": st.floats(1e-5, 1e-1),
        "betas": st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.999)),
        "weight_decay": st.sampled_from([0.0, 0.01, 1.0]),
        "maximize": st.booleans(),
    }
)


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, dtype=st.sampled_from(DTYPES), hyperparameters=HYPERPARAMETERS)
def test_every_path_agrees_exactly_with_the_single_tensor_one(seed, shapes, dtype, hyperparameters):
    # The native kernel (float32's default) does the eager ops' arithmetic in their order; exactly
    # equal results hold where its compiled loop and torch's kernels round alike, as on this CI's x86.
    params, grads = _random_problem(seed, shapes, dtype, steps=3)
    single = _run(params, grads, foreach=False, fused=False, **hyperparameters)
    for path in ({"foreach": True, "fused": False}, {"flat": True, "fused": False}, {}):
        for a, b in zip(single, _run(params, grads, **path, **hyperparameters)):
            assert torch.equal(a, b)


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, dtype=st.sampled_from(DTYPES), hyperparameters=HYPERPARAMETERS)
def test_one_step_matches_the_paper_in_every_dtype(seed, shapes, dtype, hyperparameters):
    params, grads = _random_problem(seed, shapes, dtype, steps=1)
    ours = _run(params, grads, **hyperparameters)
    lr, (beta1, _), wd = hyperparameters["lr"], hyperparameters["betas"], hyperparameters["weight_decay"]
    sign = -1.0 if hyperparameters["maximize"] else 1.0
    for p, g, new in zip(params, grads[0], ours):
        p64, g64 = p.double(), sign * g.double()
        expected = p64 - lr * (torch.sign((1 - beta1) * g64) + wd * p64)  # the momentum starts at zero
        # bfloat16 rounds the step size itself (torch's add_ casts alpha to the tensor's dtype)
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(new, expected.to(dtype), atol=1e-5 + lr * eps, rtol=2 * eps)


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, lr=st.floats(1e-5, 1e-1))
def test_every_coordinate_moves_by_exactly_the_learning_rate(seed, shapes, lr):
    params, grads = _random_problem(seed, shapes, torch.float64, steps=4)
    before = _run(params, grads[:3], lr=lr)
    after = _run(params, grads, lr=lr)
    for a, b in zip(before, after):
        torch.testing.assert_close((b - a).abs(), torch.full_like(a, lr))


@pytest.mark.parametrize("path", [{"foreach": True, "fused": False}, {"flat": True}], ids=["foreach", "flat"])
@pytest.mark.parametrize("shape", [(300, 70), (70, 300)])
def test_blocked_paths_cut_large_tensors_without_changing_results(monkeypatch, shape, path):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4096)  # forces cuts inside tensors and blocks across them
    params, grads = _random_problem(3, [shape, (5,), shape, (1000,), (0,), (7, 3)], torch.float32, steps=3)
    grads = [[g.t().contiguous().t() if g.dim() == 2 else g for g in step] for step in grads]  # non-contiguous
    for a, b in zip(_run(params, grads, foreach=False, fused=False), _run(params, grads, **path)):
        assert torch.equal(a, b)


def test_blocks_are_for_cpu_caches_only():
    big = [torch.empty(10**7, device="meta")] * 2
    assert len(list(blocks.cache_blocks(big, big))) == 1
    assert len(list(blocks.cache_blocks([torch.empty(10**7)], [torch.empty(10**7)]))) > 1


def test_maximize_equals_minimizing_the_negated_gradient():
    params, grads = _random_problem(5, [(4, 3), (2,)], torch.float32, steps=5)
    negated = [[-g for g in step] for step in grads]
    for a, b in zip(_run(params, grads, maximize=True), _run(params, negated)):
        assert torch.equal(a, b)


def test_complex_parameters_step_their_real_and_imaginary_parts():
    params, grads = _random_problem(6, [(3, 2, 2)], torch.float32, steps=3)
    as_complex = [[torch.view_as_complex(g) for g in step] for step in grads]
    ours = _run([torch.view_as_complex(params[0])], as_complex, weight_decay=0.1)
    assert torch.equal(torch.view_as_real(ours[0]), _run(params, grads, weight_decay=0.1)[0])


def test_parameters_without_gradient_keep_their_value_and_get_no_state():
    used, unused = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    optimizer = Lion([used, unused], lr=0.1)
    used.grad = torch.ones(3)
    optimizer.step()
    assert torch.equal(unused, torch.ones(3)) and unused not in optimizer.state
    torch.testing.assert_close(used.detach(), torch.full((3,), 0.9))


@pytest.mark.parametrize("options", [{"foreach": True}, {"foreach": False}, {}], ids=["foreach", "single", "default"])
def test_a_step_without_any_gradient_changes_nothing(options):
    p = torch.ones(3, requires_grad=True)
    Lion([p], **options).step()
    assert torch.equal(p, torch.ones(3))


def test_sparse_gradients_are_refused_as_torch_does():
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.zeros(4).to_sparse()
    with pytest.raises(RuntimeError, match="Lion does not support sparse gradients"):
        Lion([p]).step()


def _state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if t.dim() > 0)


def test_state_is_one_buffer_half_of_adams():
    params = [torch.randn(64, 32, requires_grad=True), torch.randn(32, requires_grad=True)]
    lion_opt, adam = Lion(params), torch.optim.Adam(params)
    for p in params:
        p.grad = torch.ones_like(p)
    lion_opt.step()
    adam.step()
    assert all(list(s) == ["exp_avg"] for s in lion_opt.state.values())
    assert 2 * _state_bytes(lion_opt) == _state_bytes(adam)


def test_lr_scheduler_sets_the_step_size():
    p = torch.zeros(3, requires_grad=True)
    optimizer = Lion([p], lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        for lr in (1e-2, 1e-3):
            before = p.detach().clone()
            p.grad = torch.ones(3)
            optimizer.step()
            scheduler.step()
            torch.testing.assert_close(before - p.detach(), torch.full((3,), lr))


def test_closure_is_evaluated_with_gradients_and_its_loss_returned():
    p = torch.ones(2, requires_grad=True)
    optimizer = Lion([p], lr=0.5)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 2.0
    torch.testing.assert_close(p.detach(), torch.full((2,), 0.5))


def test_state_dicts_without_the_newer_options_still_load():
    p = torch.zeros(2, requires_grad=True)
    saved = Lion([p]).state_dict()
    for group in saved["param_groups"]:
        del group["maximize"], group["foreach"], group["fused"]
    optimizer = Lion([p])
    optimizer.load_state_dict(saved)
    p.grad = torch.ones(2)
    optimizer.step()
    assert optimizer.param_groups[0]["maximize"] is False and optimizer.param_groups[0]["fused"] is None
