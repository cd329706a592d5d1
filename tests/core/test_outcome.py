"""A stored trial's cause: its own ``cause`` attr, else (studies from before it) what its reason began with."""

from __future__ import annotations

import pytest
import torch

from autoopt.outcome import FAIL, PRUNED, Cause, TrialOutcome
from autoopt.training.runner import user_code_failure
from autoopt.storage import record, stored_cause


@pytest.mark.parametrize(("attrs", "cause"), [
    ({record.FAIL_REASON: "out of memory at batch size 64: ...", record.CAUSE: "out_of_memory"}, Cause.OUT_OF_MEMORY),
    ({record.FAIL_REASON: "anything a person reads", record.CAUSE: "infrastructure"}, Cause.INFRASTRUCTURE),
    ({record.FAIL_REASON: "out of memory at batch size 64: CUDA out of memory"}, Cause.OUT_OF_MEMORY),
    ({record.FAIL_REASON: "worker process died (exit code -9) while running this trial"}, Cause.INFRASTRUCTURE),
    ({record.FAIL_REASON: "stale: no heartbeat from the process running it"}, Cause.INFRASTRUCTURE),
    ({record.FAIL_REASON: "ray node/actor died on node x: ..."}, Cause.INFRASTRUCTURE),
    ({record.FAIL_REASON: "interrupted: the search was stopped while it ran"}, Cause.INTERRUPTED),
    ({record.FAIL_REASON: "timeout: exceeded the per-trial limit of 1 s at epoch 2"}, Cause.TIMEOUT),
    ({record.FAIL_REASON: "error: KeyError: 'x' (at model.py:3)"}, Cause.USER_ERROR),
    ({record.PRUNE_REASON: "diverged: reported value became nan at epoch 1"}, Cause.DIVERGED),
    ({record.PRUNE_REASON: "pruned after epoch 3: 0.5 trailed ..."}, Cause.PRUNED),
    ({}, None),
])  # fmt: skip
def test_a_stored_trial_is_classified_by_its_cause_and_old_ones_by_their_reason(attrs, cause):
    assert stored_cause(attrs) is cause


def test_an_outcome_without_a_cause_takes_the_one_its_state_implies():
    assert TrialOutcome(FAIL, reason="error: ValueError: bad").cause is Cause.USER_ERROR
    assert TrialOutcome(PRUNED).cause is Cause.PRUNED
    assert TrialOutcome(FAIL, cause=Cause.TIMEOUT).cause is Cause.TIMEOUT


@pytest.mark.parametrize(("error", "cause"), [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), Cause.OUT_OF_MEMORY),
    (MemoryError("cannot allocate activations"), Cause.OUT_OF_MEMORY),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity)"), Cause.OUT_OF_MEMORY),
    (RuntimeError("MPS backend out of memory (MPS allocated: 1.2 GB)"), Cause.OUT_OF_MEMORY),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"),
     Cause.OUT_OF_MEMORY),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x8 and 6x16)"), Cause.USER_ERROR),
    (ValueError("out of memory, says the user's own message"), Cause.USER_ERROR),
])  # fmt: skip
def test_an_error_in_user_code_is_out_of_memory_only_when_an_allocator_says_so(error, cause):
    """One classifier for a trial alone and a fused group (``autoopt.training.fused.trainer``), so both retry OOM alike."""
    try:
        raise error
    except Exception as exc:  # noqa: BLE001 - the traceback is what the reason cites
        failure = user_code_failure(exc, batch_size=64)
    assert failure.cause is cause
    if cause is Cause.OUT_OF_MEMORY:
        assert failure.reason.startswith("out of memory at batch size 64: ")
    else:
        assert failure.reason.startswith(f"error: {type(error).__name__}: ") and "(at " in failure.reason
