"""A fused group: members sharing a batch size and Lookahead on or off, trained as one stacked model.

Every member keeps what a trial alone would have: its own initial weights (built under
its own seed, as ``runner._train`` builds them), its own batch order (drawn from its own
seed, as ``runner._train`` draws it), its own optimizer, hyperparameters, optimizer state,
step count and Lookahead slow weights. A member is the trial it would have been alone,
trained in fewer, wider steps: the search gets the same values either way.

Members of several optimizer families share one group: the forward and backward passes
(most of a small model's step) run for all at once, and each family's update rule runs on
its own block of rows. Members join and leave between epochs. Every per-member quantity
lives in ``rows``, one row per member, with each family's members in one contiguous block
(so its rule updates a view, in place); each family's optimizer state lives in its block's
own rows. Joining is a ``cat``, leaving one index over every entry: the stacked work always
covers exactly the members still training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from autoopt.training.data import Data
from autoopt.training.fused.rules import fused_rule, member_hyperparameters
from autoopt.training.fused.stack import StackedModel, evaluate_members
from autoopt.optimizers.fused_rules import FusedRule
from autoopt.training.runner import EVAL_BATCH, TrialJob, build_seeded, default_loss
from autoopt.training.task import Task


@dataclass(frozen=True)
class GroupKey:
    """What a group is opened for: a family (the one its free slots are offered for) and what
    every member must share, the batch size and Lookahead on or off."""

    optimizer: str
    batch_size: int
    lookahead: bool

    def admits(self, other: GroupKey) -> bool:
        """Whether a member of ``other``'s key can train in this group (any family fuses)."""
        return (self.batch_size, self.lookahead) == (other.batch_size, other.lookahead)


@dataclass
class _Block:
    """The members of one optimizer family: their rule, and their state and hyperparameters as the rule reads them."""

    optimizer: str
    rule: FusedRule
    size: int = 0
    state: dict[str, Tensor] = field(default_factory=dict)
    hyperparameters: dict[str, Tensor] = field(default_factory=dict)


def _cat(rows: dict[str, Tensor], new: dict[str, Tensor], at: int) -> dict[str, Tensor]:
    """``rows`` with ``new`` inserted as row ``at`` of every entry."""
    if not rows:
        return {name: value[None] for name, value in new.items()}
    return {name: torch.cat([value[:at], new[name][None], value[at:]]) for name, value in rows.items()}


def _select(rows: dict[str, Tensor], indices: list[int], device: torch.device) -> dict[str, Tensor]:
    """``rows`` with only the rows ``indices`` of every entry."""
    index = torch.tensor(indices, dtype=torch.long, device=device)
    return {name: value.index_select(0, index) for name, value in rows.items()}


class FusedGroup:
    """The stacked members of one group and the epoch loop they share."""

    def __init__(self, task: Task, data: Data, device: torch.device, key: GroupKey) -> None:
        self.task, self.data, self.device, self.key = task, data, device, key
        self.jobs: list[TrialJob] = []
        self.orders: list[torch.Generator] = []  # each member's batch order, seeded as runner._train seeds it
        self.blocks: list[_Block] = []  # in row order
        self.rows: dict[str, Tensor] = {}  # entries every member has: params, step, Lookahead's
        self.buffers: dict[str, Tensor] = {}  # the module's buffers, per member
        self.stack: StackedModel | None = None

    def __len__(self) -> int:
        return len(self.jobs)

    def add(self, job: TrialJob) -> None:
        """Build ``job``'s model under its own seed and insert it as a fresh member at step 0, at
        the end of its family's block."""
        optimizer = job.config.optimizer
        hyperparameters = member_hyperparameters(optimizer, job.config.optimizer_kwargs)
        model = build_seeded(self.task, job.seed, self.device)
        if self.stack is None:
            self.stack = StackedModel(model, self.task.loss_fn or default_loss)
        block = next((b for b in self.blocks if b.optimizer == optimizer), None)
        if block is None:
            block = _Block(optimizer, fused_rule(optimizer))
            self.blocks.append(block)
        at = sum(b.size for b in self.blocks[: self.blocks.index(block) + 1])
        params, buffers = self.stack.row(model)
        shared = {"params": params, "step": torch.zeros(1, device=self.device)}
        if self.key.lookahead:
            lookahead = job.config.lookahead or {}
            shared |= {"slow": params.clone(), "lookahead.k": torch.full((1,), float(lookahead.get("k", 5)), device=self.device),
                       "lookahead.alpha": torch.full((1,), float(lookahead.get("alpha", 0.5)), device=self.device)}  # fmt: skip
        state = {name: torch.zeros_like(params) for name in block.rule.state}
        state |= {name: torch.full((1,), start, device=self.device) for name, start in block.rule.member_state.items()}
        values = {name: torch.full((1,), value, device=self.device) for name, value in hyperparameters.items()}
        self.rows = _cat(self.rows, shared, at)
        self.buffers = _cat(self.buffers, buffers, at)
        block.state = _cat(block.state, state, block.size)
        block.hyperparameters = _cat(block.hyperparameters, values, block.size)
        block.size += 1
        self.jobs.insert(at, job)
        self.orders.insert(at, torch.Generator().manual_seed(job.seed))

    def keep(self, indices: list[int]) -> None:
        """Drop every member not in ``indices`` (finished, pruned, failed)."""
        if len(indices) == len(self.jobs):
            return
        indices = sorted(indices)
        start = 0
        for block in self.blocks:
            local = [i - start for i in indices if start <= i < start + block.size]
            start += block.size
            block.size = len(local)
            block.state = _select(block.state, local, self.device)
            block.hyperparameters = _select(block.hyperparameters, local, self.device)
        self.blocks = [b for b in self.blocks if b.size]
        self.jobs = [self.jobs[i] for i in indices]
        self.orders = [self.orders[i] for i in indices]
        self.rows = _select(self.rows, indices, self.device) if indices else {}
        self.buffers = _select(self.buffers, indices, self.device) if indices else {}

    def train_epoch(self) -> list[float]:
        """One epoch, each member over its own next batch order; each member's mean training loss."""
        total, count = torch.zeros(len(self.jobs), device=self.device), 0
        for inputs, targets, size in self.data.train.member_batches(self.key.batch_size, self.orders):
            # Summed on the device and read once per epoch: a NaN member is found at the epoch's
            # end without a host sync per step, and it cannot reach the others meanwhile.
            total += self.step(inputs, targets) * size
            count += size
        return (total / count).tolist()

    def step(self, inputs: Any, targets: Any) -> Tensor:
        """One step of every member on its own batch (leading dimension: the member); their losses."""
        params, step = self.rows["params"], self.rows["step"]
        grads, losses = self.stack.loss_and_grad(params, self.buffers, inputs, targets)
        step += 1
        start = 0
        for block in self.blocks:  # each family's rule on its block of rows: views, updated in place
            rows = slice(start, start + block.size)
            block.rule.update(params[rows], grads[rows], block.state, block.hyperparameters, step[rows])
            start += block.size
        if self.key.lookahead:
            self._lookahead(params, step)
        return losses.detach()

    def _lookahead(self, params: Tensor, step: Tensor) -> None:
        """Lookahead per member: every k-th step of a member, slow += alpha (fast - slow); fast = slow."""
        slow, k, alpha = self.rows["slow"], self.rows["lookahead.k"], self.rows["lookahead.alpha"]
        due = torch.remainder(step, k) == 0
        slow.copy_(torch.where(due, slow.lerp(params, alpha), slow))
        params.copy_(torch.where(due, slow, params))

    def evaluate(self) -> list[float]:
        """Each member's validation value, as ``runner.evaluate`` computes it for one model."""
        measure = self.task.metric or self.task.loss_fn or default_loss
        batches = self.data.valid.batches(EVAL_BATCH, generator=None)
        return evaluate_members(self.stack, self.rows["params"], self.buffers, batches, measure)

    def member_model(self, index: int) -> torch.nn.Module:
        """Member ``index`` as an ordinary module (a copy): for checks and for tests."""
        model = build_seeded(self.task, self.jobs[index].seed, self.device)
        torch.nn.utils.vector_to_parameters(self.rows["params"][index].clone(), model.parameters())
        return model
