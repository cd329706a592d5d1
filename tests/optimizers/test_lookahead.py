"""Lookahead against the paper and pytorch-optimizer, and as a plain optimizer to schedulers and checkpoints."""

from __future__ import annotations

import copy
import warnings

import lion_pytorch
import pytest
import pytorch_optimizer
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.optimizers import Lion, Lookahead

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)
DTYPES = [torch.float32, torch.float64, torch.bfloat16]


class PaperLookahead:
    """Algorithm 1 of Zhang et al. (2019): k fast steps, then slow += alpha * (fast - slow) and fast = slow."""

    def __init__(self, optimizer: torch.optim.Optimizer, k: int, alpha: float) -> None:
        self.optimizer, self.k, self.alpha, self.steps = optimizer, k, alpha, 0
        self.fast = [p for group in optimizer.param_groups for p in group["params"]]
        self.slow = [p.detach().clone() for p in self.fast]

    @torch.no_grad()
    def step(self) -> None:
        self.optimizer.step()
        self.steps += 1
        if self.steps % self.k == 0:
            for fast, slow in zip(self.fast, self.slow):
                slow.add_(self.alpha * (fast - slow))
                fast.copy_(slow)


def _grouped(cls, groups, **defaults):
    # Group 0 decays its weights and runs at a higher rate; group 1 uses the defaults given.
    return cls([{"params": groups[0], "lr": 3e-3, "weight_decay": 0.5}, {"params": groups[1]}], **defaults)


INNER = {  # ours, and an independent optimizer proven to step the same
    "adamw": (lambda g: _grouped(torch.optim.AdamW, g, lr=1e-3), lambda g: _grouped(torch.optim.AdamW, g, lr=1e-3)),
    "lion": (lambda g: _grouped(Lion, g, lr=1e-3), lambda g: _grouped(lion_pytorch.Lion, g, lr=1e-3)),
}
WRAPPERS = {
    "paper": lambda inner: PaperLookahead(inner, k=5, alpha=0.5),
    "pytorch-optimizer": lambda inner: pytorch_optimizer.Lookahead(inner, k=5, alpha=0.5),
}


@pytest.mark.parametrize("reference", list(WRAPPERS))
@pytest.mark.parametrize("inner", list(INNER))
def test_matches_reference_step_by_step_across_save_and_load_mid_cycle(lockstep, inner, reference):
    make_ours, make_reference = INNER[inner]
    lockstep(
        lambda groups: Lookahead(make_ours(groups), k=5, alpha=0.5),
        lambda groups: WRAPPERS[reference](make_reference(groups)),
        reload_at=137,  # mid-cycle: the slow weights differ from the fast ones
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"k": 0}, ValueError, "Invalid k: 0"),
        ({"k": 2.5}, ValueError, "Invalid k: 2.5"),
        ({"alpha": 1.5}, ValueError, "Invalid alpha: 1.5"),
        ({"alpha": -0.1}, ValueError, "Invalid alpha: -0.1"),
    ],
)
def test_invalid_arguments_raise_naming_the_value(kwargs, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")):
        Lookahead(torch.optim.SGD([torch.zeros(1, requires_grad=True)]), **kwargs)


def test_wrapping_something_other_than_an_optimizer_is_refused():
    with pytest.raises(TypeError, match="wraps a torch.optim.Optimizer, but got list"):
        Lookahead([torch.zeros(1, requires_grad=True)])


def _steps(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], grads: list[torch.Tensor], n: int) -> None:
    for _ in range(n):
        for p, g in zip(params, grads):
            p.grad = g.clone()
        optimizer.step()


def _problem(seed: int, shapes: list[tuple[int, ...]], dtype: torch.dtype) -> tuple[list, list]:
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).to(dtype).requires_grad_() for s in shapes]
    return params, [torch.randn(s, generator=gen).to(dtype) for s in shapes]


SHAPES = st.lists(st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3)


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, k=st.integers(1, 6), cycles=st.integers(1, 3), alpha=st.floats(0, 1))
def test_sgd_with_a_constant_gradient_moves_alpha_times_k_steps_per_cycle(seed, shapes, k, cycles, alpha):
    params, grads = _problem(seed, shapes, torch.float64)
    start = [p.detach().clone() for p in params]
    _steps(Lookahead(torch.optim.SGD(params, lr=0.01), k=k, alpha=alpha), params, grads, cycles * k)
    for p, p0, g in zip(params, start, grads):
        torch.testing.assert_close(p.detach(), p0 - cycles * alpha * k * 0.01 * g)


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, dtype=st.sampled_from(DTYPES), k=st.integers(1, 6))
def test_alpha_one_is_exactly_the_wrapped_optimizer(seed, shapes, dtype, k):
    params, grads = _problem(seed, shapes, dtype)
    alone = [p.detach().clone().requires_grad_() for p in params]
    _steps(Lookahead(Lion(params, lr=0.01), k=k, alpha=1.0), params, grads, 2 * k + 1)
    _steps(Lion(alone, lr=0.01), alone, grads, 2 * k + 1)
    assert all(torch.equal(a, b) for a, b in zip(params, alone))


@PROPERTY
@given(seed=st.integers(0, 2**16), shapes=SHAPES, dtype=st.sampled_from(DTYPES), k=st.integers(1, 6))
def test_alpha_zero_returns_to_the_start_every_k_steps(seed, shapes, dtype, k):
    params, grads = _problem(seed, shapes, dtype)
    start = [p.detach().clone() for p in params]
    _steps(Lookahead(torch.optim.Adam(params, lr=0.1), k=k, alpha=0.0), params, grads, 2 * k)
    assert all(torch.equal(p, p0) for p, p0 in zip(params, start))


def _wrapped_sgd(lr: float = 1.0, k: int = 2) -> tuple[Lookahead, torch.Tensor]:
    p = torch.zeros(1, requires_grad=True)
    return Lookahead(torch.optim.SGD([p], lr=lr), k=k, alpha=0.5), p


def test_param_groups_and_defaults_are_the_wrapped_optimizers_own_objects():
    lookahead, _ = _wrapped_sgd()
    assert isinstance(lookahead, torch.optim.Optimizer)
    assert lookahead.param_groups is lookahead.optimizer.param_groups
    assert lookahead.defaults is lookahead.optimizer.defaults
    lookahead.load_state_dict(lookahead.state_dict())  # the wrapped optimizer replaces its list here
    assert lookahead.param_groups is lookahead.optimizer.param_groups


def test_zero_grad_clears_the_gradients():
    lookahead, p = _wrapped_sgd()
    p.grad = torch.ones(1)
    lookahead.zero_grad()
    assert p.grad is None


def test_state_dict_holds_wrapped_state_slow_weights_and_step_counter():
    lookahead, p = _wrapped_sgd(k=2)
    _steps(lookahead, [p], [torch.ones(1)], 3)  # slow weight after step 2: 0 + 0.5 * (-2 - 0) = -1
    saved = lookahead.state_dict()
    assert saved["step"] == 3
    assert torch.equal(saved["slow_params"][0], torch.tensor([-1.0]))
    assert saved["optimizer"]["param_groups"] == lookahead.optimizer.state_dict()["param_groups"]
    restored, q = _wrapped_sgd(k=2)
    restored.load_state_dict(saved)
    with torch.no_grad():
        q.copy_(p)
    _steps(restored, [q], [torch.ones(1)], 1)  # step 4 completes the cycle: -1 + 0.5 * (-3 + 1) = -2
    assert torch.equal(q.detach(), torch.tensor([-2.0]))


def test_loading_something_else_than_a_lookahead_state_dict_says_what_is_missing():
    lookahead, _ = _wrapped_sgd()
    with pytest.raises(ValueError, match=r"lacks \['slow_params', 'step'\]"):
        lookahead.load_state_dict({"optimizer": lookahead.optimizer.state_dict()})


def test_lr_scheduler_drives_the_wrapped_optimizer_without_warnings():
    lookahead, p = _wrapped_sgd(lr=0.1, k=3)
    scheduler = torch.optim.lr_scheduler.StepLR(lookahead, step_size=1, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        for expected_lr in (0.1, 0.05):
            before = p.detach().clone()
            _steps(lookahead, [p], [torch.ones(1)], 1)
            scheduler.step()
            torch.testing.assert_close(before - p.detach(), torch.tensor([expected_lr]))
    assert lookahead.optimizer.param_groups[0]["lr"] == 0.025


def test_one_cycle_schedule_finds_the_wrapped_optimizers_betas():
    p = torch.zeros(2, requires_grad=True)
    lookahead = Lookahead(torch.optim.AdamW([p]))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(lookahead, max_lr=0.1, total_steps=10)
    _steps(lookahead, [p], [torch.ones(2)], 1)
    scheduler.step()
    assert lookahead.optimizer.param_groups[0]["betas"][0] != 0.9  # momentum cycling reached AdamW


def test_added_param_group_joins_at_the_next_cycle():
    lookahead, a = _wrapped_sgd(lr=1.0, k=2)
    b = torch.zeros(1, requires_grad=True)
    _steps(lookahead, [a], [torch.ones(1)], 1)
    lookahead.add_param_group({"params": [b]})
    _steps(lookahead, [a, b], [torch.ones(1)] * 2, 1)  # end of cycle 1: a is pulled back, b was not in it
    assert (a.item(), b.item()) == (-1.0, -1.0)
    _steps(lookahead, [a, b], [torch.ones(1)] * 2, 2)  # cycle 2: both start at -1, reach -3, pulled to -2
    assert (a.item(), b.item()) == (-2.0, -2.0)


def test_a_cycle_over_no_parameters_is_a_no_op():
    lookahead = Lookahead(torch.optim.SGD([{"params": []}], lr=0.1), k=1)
    lookahead.step()
    assert lookahead.state_dict()["slow_params"] == {}


def test_deepcopy_steps_exactly_like_the_original():
    params, grads = _problem(0, [(3, 2)], torch.float32)
    lookahead = Lookahead(torch.optim.Adam(params, lr=0.1), k=2)
    _steps(lookahead, params, grads, 3)
    twin = copy.deepcopy(lookahead)
    twin_params = twin.param_groups[0]["params"]
    _steps(lookahead, params, grads, 3)
    _steps(twin, twin_params, grads, 3)
    assert torch.equal(params[0], twin_params[0])


def test_step_hooks_and_closure_work_as_on_any_optimizer():
    lookahead, p = _wrapped_sgd()
    calls = []
    lookahead.register_step_pre_hook(lambda optimizer, args, kwargs: calls.append(optimizer))

    def closure() -> torch.Tensor:
        lookahead.zero_grad()
        loss = (p - 1).pow(2).sum()
        loss.backward()
        return loss

    assert lookahead.step(closure).item() == 1.0
    assert calls == [lookahead]


# The slow-weight update keeps its tensor lists between cycles; these changes must still reach it.


def test_param_group_added_after_cycles_joins_the_slow_weight_update():
    lookahead, a = _wrapped_sgd(lr=1.0, k=2)
    _steps(lookahead, [a], [torch.ones(1)], 4)  # two cycles: the update's lists are built and kept
    b = torch.zeros(1, requires_grad=True)
    lookahead.add_param_group({"params": [b]})
    _steps(lookahead, [a, b], [torch.ones(1)] * 2, 2)  # b: 0 -> -2, pulled back to -1
    assert b.item() == -1.0


def test_replaced_params_list_is_updated_instead_of_the_old_tensors():
    lookahead, a = _wrapped_sgd(lr=1.0, k=2)
    _steps(lookahead, [a], [torch.ones(1)], 2)
    b = torch.zeros(1, requires_grad=True)
    lookahead.param_groups[0]["params"] = [b]
    _steps(lookahead, [b], [torch.ones(1)], 2)  # b joins at this cycle: 0 -> -2, pulled back to -1
    assert (a.item(), b.item()) == (-1.0, -1.0)  # a, no longer optimized, is no longer pulled either


def test_load_state_dict_after_steps_updates_the_loaded_slow_weights():
    lookahead, p = _wrapped_sgd(lr=1.0, k=2)
    _steps(lookahead, [p], [torch.ones(1)], 1)
    saved = copy.deepcopy(lookahead.state_dict())  # slow weight 0, step 1
    _steps(lookahead, [p], [torch.ones(1)], 2)  # step 2 pulls p to -1, the slow weight to -1; step 3: p = -2
    lookahead.load_state_dict(saved)
    _steps(lookahead, [p], [torch.ones(1)], 1)  # -2 -> -3, pulled toward the loaded 0, not the dropped -1
    assert p.item() == -1.5


def test_swapped_parameter_data_is_what_the_slow_weight_update_writes():
    big = torch.zeros(1 << 20, requires_grad=True)  # large enough to be updated in flat pieces
    lookahead = Lookahead(torch.optim.SGD([big], lr=1.0), k=2, alpha=0.5)
    _steps(lookahead, [big], [torch.ones(1 << 20)], 2)  # big: 0 -> -2, pulled back to -1
    big.data = big.data.clone()
    _steps(lookahead, [big], [torch.ones(1 << 20)], 2)  # -1 -> -3, pulled back to -2
    assert torch.equal(big.detach(), torch.full((1 << 20,), -2.0))


def _tiling(base: torch.Tensor, sizes: list[int]) -> list[torch.nn.Parameter]:
    """Parameters that are end-to-end views of ``base``, as an optimizer with a flat buffer leaves them."""
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    return [torch.nn.Parameter(base[o : o + n]) for o, n in zip(offsets, sizes)]


def test_parameters_that_tile_one_buffer_are_synced_as_one_and_the_results_do_not_change():
    sizes = [5, 1, 0, 7, 3]
    tiled = _tiling(torch.zeros(16), sizes)
    apart = [torch.zeros(n, requires_grad=True) for n in sizes]
    optimizers = [Lookahead(torch.optim.SGD(params, lr=1.0), k=2, alpha=0.5) for params in (tiled, apart)]
    for step in range(6):
        for params, optimizer in zip((tiled, apart), optimizers):
            for i, p in enumerate(params):
                p.grad = torch.full_like(p, float(step + i))
            optimizer.step()
        assert all(torch.equal(a, b) for a, b in zip(tiled, apart))
    slow = [optimizers[0].state[p]["slow_param"] for p in tiled]
    assert len({s.untyped_storage().data_ptr() for s in slow}) == 1  # moved into one buffer
    assert sum(len(block_fast) for block_fast, _ in optimizers[0]._plan.blocks) == 1
    torch.testing.assert_close(torch.cat(slow), torch.cat([optimizers[1].state[p]["slow_param"] for p in apart]))


def test_a_tiled_parameter_given_new_storage_is_synced_in_its_new_place():
    tiled = _tiling(torch.zeros(8), [3, 5])
    lookahead = Lookahead(torch.optim.SGD(tiled, lr=1.0), k=2, alpha=0.5)
    _steps(lookahead, tiled, [torch.ones(3), torch.ones(5)], 2)  # 0 -> -2, pulled back to -1
    tiled[0].data = tiled[0].data.clone()  # as an optimizer laying its buffer out again does
    _steps(lookahead, tiled, [torch.ones(3), torch.ones(5)], 2)  # -1 -> -3, pulled back to -2
    assert torch.equal(torch.cat([p.detach() for p in tiled]), torch.full((8,), -2.0))
