"""A fused group: members sharing optimizer family and batch size, trained as one stacked model.

Every member keeps what a trial alone would have: its own initial weights (built under
its own seed, as ``runner._train`` builds them), its own hyperparameters, optimizer
state, step count and Lookahead slow weights. What members share is the data: one batch
order for the whole group (common random numbers), so their differences come from their
configurations and their initial weights, not from the luck of the shuffle.

Members join and leave between epochs. Every per-member quantity lives in ``rows``, one
row per member, so joining is a ``cat`` and leaving is one index over every entry: the
stacked work always covers exactly the members still training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from autoopt.data import Data
from autoopt.fused.rules import fused_rule, member_hyperparameters
from autoopt.fused.stack import StackedModel, evaluate_members
from autoopt.runner import EVAL_BATCH, TrialJob, build_seeded, default_loss
from autoopt.task import Task


@dataclass(frozen=True)
class GroupKey:
    """What members of one group share."""

    optimizer: str
    batch_size: int
    lookahead: bool


class FusedGroup:
    """The stacked members of one group and the epoch loop they share."""

    def __init__(self, task: Task, data: Data, device: torch.device, key: GroupKey, *, batch_seed: int) -> None:
        self.task, self.data, self.device, self.key = task, data, device, key
        self.rule = fused_rule(key.optimizer)
        self.batch_seed = batch_seed
        self.order = torch.Generator().manual_seed(batch_seed)
        self.epochs_drawn = 0  # batch orders drawn so far: a joiner's order starts after these
        self.jobs: list[TrialJob] = []
        self.rows: dict[str, Tensor] = {}
        self.stack: StackedModel | None = None

    def __len__(self) -> int:
        return len(self.jobs)

    def add(self, job: TrialJob) -> None:
        """Build ``job``'s model under its own seed and append it as a fresh member at step 0."""
        hyperparameters = member_hyperparameters(job.config.optimizer, job.config.optimizer_kwargs)
        model = build_seeded(self.task, job.seed, self.device)
        if self.stack is None:
            self.stack = StackedModel(model, self.task.loss_fn or default_loss)
        params, buffers = self.stack.row(model)
        row = {"params": params, "step": torch.zeros(1, device=self.device)}
        row |= {f"state.{name}": torch.zeros_like(params) for name in self.rule.state}
        row |= {f"state.{name}": torch.full((1,), start, device=self.device) for name, start in self.rule.member_state.items()}
        row |= {f"hp.{name}": torch.full((1,), value, device=self.device) for name, value in hyperparameters.items()}
        row |= {f"buffer.{name}": tensor for name, tensor in buffers.items()}
        if self.key.lookahead:
            lookahead = job.config.lookahead or {}
            row |= {"slow": params.clone(), "lookahead.k": torch.full((1,), float(lookahead.get("k", 5)), device=self.device),
                    "lookahead.alpha": torch.full((1,), float(lookahead.get("alpha", 0.5)), device=self.device)}  # fmt: skip
        self.rows = {name: torch.cat([self.rows[name], value[None]]) if self.rows else value[None] for name, value in row.items()}
        self.jobs.append(job)

    def keep(self, indices: list[int]) -> None:
        """Drop every member not in ``indices`` (finished, pruned, failed)."""
        if len(indices) == len(self.jobs):
            return
        self.jobs = [self.jobs[i] for i in indices]
        index = torch.tensor(indices, dtype=torch.long, device=self.device)
        self.rows = {name: value.index_select(0, index) for name, value in self.rows.items()} if indices else {}

    def _entries(self, prefix: str) -> dict[str, Tensor]:
        return {name.removeprefix(prefix): value for name, value in self.rows.items() if name.startswith(prefix)}

    def train_epoch(self) -> list[float]:
        """One epoch over the group's next batch order; each member's mean training loss."""
        params, step = self.rows["params"], self.rows["step"]
        state, hyperparameters, buffers = self._entries("state."), self._entries("hp."), self._entries("buffer.")
        total, count = torch.zeros(len(self.jobs), device=self.device), 0
        for inputs, targets in self.data.train.batches(self.key.batch_size, generator=self.order):
            grads, losses = self.stack.loss_and_grad(params, buffers, inputs, targets)
            step += 1
            self.rule.update(params, grads, state, hyperparameters, step)
            if self.key.lookahead:
                self._lookahead(params, step)
            # Summed on the device and read once per epoch: a NaN member is found at the epoch's
            # end without a host sync per step, and it cannot reach the others meanwhile.
            total += losses.detach() * len(targets)
            count += len(targets)
        self.epochs_drawn += 1
        return (total / count).tolist()

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
        return evaluate_members(self.stack, self.rows["params"], self._entries("buffer."), batches, measure)

    def member_model(self, index: int) -> torch.nn.Module:
        """Member ``index`` as an ordinary module (a copy): for checks and for tests."""
        model = build_seeded(self.task, self.jobs[index].seed, self.device)
        torch.nn.utils.vector_to_parameters(self.rows["params"][index].clone(), model.parameters())
        return model
