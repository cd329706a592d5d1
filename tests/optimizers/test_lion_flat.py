"""Lion's flat path: its layout follows the parameters, gradients and state as they change."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.optimizers import Lion, Lookahead, blocks

HYPERPARAMETERS = {"lr": 1e-2, "betas": (0.9, 0.99), "weight_decay": 0.1}


def _params(shapes, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes]


def _lockstep(shapes, grads_at, *, between=None, dtypes=None, steps=6, wrap=lambda opt: opt):
    """Run the flat and the foreach paths side by side; ``grads_at(step, i)`` False leaves a gradient None.

    ``between(step, params, optimizer)`` may change things between steps, on both sides alike.
    Returns both sides' parameters and optimizers after every step has been compared.
    """
    dtypes = dtypes or [torch.float32] * len(shapes)
    sides = {}
    for path in ("flat", "foreach"):
        params = [p.to(d).detach().requires_grad_() for p, d in zip(_params(shapes), dtypes)]
        sides[path] = (params, wrap(Lion(params, flat=path == "flat", **HYPERPARAMETERS)))
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        grads = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in sides["flat"][0]]
        for params, optimizer in sides.values():
            for i, (p, g) in enumerate(zip(params, grads)):
                p.grad = g.clone() if grads_at(step, i) else None
            optimizer.step()
            if between:
                between(step, params, optimizer)
        for a, b in zip(sides["flat"][0], sides["foreach"][0]):
            assert torch.equal(a, b), f"step {step}"
    return sides


def test_parameters_and_momenta_become_views_of_one_buffer_each():
    sides = _lockstep([(4, 3), (3,), (2, 2, 2)], lambda step, i: True, steps=2)
    params, optimizer = sides["flat"]
    assert len({p.untyped_storage().data_ptr() for p in params}) == 1
    assert len({s["exp_avg"].untyped_storage().data_ptr() for s in optimizer.state.values()}) == 1
    assert all(list(s) == ["exp_avg"] for s in optimizer.state.values())


def test_a_gradient_that_comes_and_goes_is_followed():
    # Parameter 1 has no gradient at steps 2 and 3: it keeps its value; parameter 2 never has one.
    sides = _lockstep([(5, 4), (6,), (3,)], lambda step, i: i == 0 or (i == 1 and step not in (2, 3)))
    params, optimizer = sides["flat"]
    assert params[2] not in optimizer.state


def test_a_skipped_gradient_leaves_the_layout_alone():
    """A branch the batch did not take: that step runs per tensor on the views, without copying buffers."""
    params = _params([(5, 4), (6,)])
    optimizer = Lion(params, flat=True, **HYPERPARAMETERS)
    storage = []
    for grads_given in ((0, 1), (0,), (1,), (0, 1)):
        for i, p in enumerate(params):
            p.grad = torch.ones_like(p) if i in grads_given else None
        optimizer.step()
        storage.append((optimizer._layouts[0], [p.data_ptr() for p in params]))
    assert all(layout is storage[0][0] and ptrs == storage[0][1] for layout, ptrs in storage)


def test_a_replaced_parameter_storage_is_noticed():
    def replace(step, params, optimizer):
        if step == 2:  # as model.to(other_device) does
            params[0].data = params[0].data.clone()

    _lockstep([(5, 4), (6,)], lambda step, i: True, between=replace)


def test_state_loaded_mid_run_is_laid_out_again():
    saved = {}

    def reload(step, params, optimizer):  # momenta from step 1 replace those of step 3
        if step == 1:
            saved[id(optimizer)] = copy.deepcopy(optimizer.state_dict())
        if step == 3:
            optimizer.load_state_dict(saved[id(optimizer)])

    _lockstep([(5, 4), (6,)], lambda step, i: True, between=reload)


def test_a_group_of_mixed_dtypes_steps_per_tensor():
    sides = _lockstep([(5, 4), (6,)], lambda step, i: True, dtypes=[torch.float32, torch.float64])
    params, _ = sides["flat"]
    assert len({p.untyped_storage().data_ptr() for p in params}) == 2


def test_a_copy_of_the_optimizer_lays_out_its_own_buffers():
    params = _params([(4, 3), (3,)])
    optimizer = Lion(params, flat=True, **HYPERPARAMETERS)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()
    params_copy, optimizer_copy = copy.deepcopy((params, optimizer))
    for pair in ((params, optimizer), (params_copy, optimizer_copy)):
        for p in pair[0]:
            p.grad = torch.full_like(p, -1.0)
        pair[1].step()
    assert all(torch.equal(a, b) for a, b in zip(params, params_copy))
    assert params[0].untyped_storage().data_ptr() != params_copy[0].untyped_storage().data_ptr()


def test_lookahead_over_flat_lion_follows_the_re_pointed_parameters(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 256)  # large tensors are cut into pieces: the sync plan must notice
    _lockstep([(40, 30), (7,), (200,)], lambda step, i: True, steps=12, wrap=lambda opt: Lookahead(opt, k=3))


@pytest.mark.parametrize("flat", [True, False])
def test_the_flat_option_is_kept_per_group_and_saved(flat):
    params = _params([(2,)])
    optimizer = Lion([{"params": params, "flat": flat}], flat=not flat)
    assert optimizer.param_groups[0]["flat"] is flat
    assert optimizer.state_dict()["param_groups"][0]["flat"] is flat


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    shapes=st.lists(st.lists(st.integers(0, 6), max_size=3).map(tuple), min_size=1, max_size=6),
    present=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=5),
    block_bytes=st.sampled_from([16, 64, 2 << 20]),
    maximize=st.booleans(),
)
def test_any_pattern_of_missing_gradients_steps_as_the_single_tensor_rule(shapes, present, block_bytes, maximize):
    """Random shapes (0-d and empty included), random missing gradients per step, random block cuts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blocks, "BLOCK_BYTES", block_bytes)
        sides = {}
        for path in ({"flat": True}, {"foreach": False}):
            params = _params(shapes, dtype=torch.float64)
            sides[tuple(path)] = (params, Lion(params, maximize=maximize, **path, **HYPERPARAMETERS))
        gen = torch.Generator().manual_seed(2)
        for step in present:
            grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
            for params, optimizer in sides.values():
                for p, g, given_grad in zip(params, grads, step):
                    p.grad = g.clone() if given_grad else None
                optimizer.step()
        (flat, _), (single, _) = sides.values()
        assert all(torch.equal(a, b) for a, b in zip(flat, single))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.compile's own imports
def test_a_compiled_model_trains_the_same_with_the_flat_path():
    """torch.compile'd modules read their parameters as graph inputs: re-pointing them must be seen."""
    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    trained = []
    for flat in (True, False):
        model = copy.deepcopy(base)
        forward = torch.compile(model)
        optimizer = Lion(model.parameters(), lr=1e-2, flat=flat)
        batches = torch.Generator().manual_seed(1)
        for _ in range(6):
            optimizer.zero_grad()
            forward(torch.randn(32, 8, generator=batches)).pow(2).mean().backward()
            optimizer.step()
        trained.append([p.detach() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*trained))
    assert not torch.equal(trained[0][0], base[0].weight)
