"""Building the executor a study spec asks for; the search gets one and never asks which it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from autoopt.training.data import Data
from autoopt.executors.base import Executor
from autoopt.executors.fused import FusedExecutor
from autoopt.executors.inline import InlineExecutor
from autoopt.executors.local import LocalExecutor
from autoopt.training.task import Task

if TYPE_CHECKING:  # the spec flows down as data; the executors import nothing of the search
    from autoopt.engine.spec import StudySpec


def make_executor(spec: StudySpec, task: Task, data: Data | None, device: torch.device, *, fuse: int = 1,
                  least: int = 2) -> Executor:
    """Where ``spec``'s trials run: on Ray with ``--backend ray``; in fused groups of ``fuse`` when
    ``fuse > 1`` (groups of fewer than ``least`` train one at a time); else in threads of this process for ``--jobs 1``, worker processes for more.
    The phased search (``spec.warm_start``) submits together what should train together and
    never asks for members to fill a group, so its groups are not refilled."""
    refill = not spec.warm_start
    if spec.backend == "ray":  # Ray is an optional extra
        from autoopt.executors.ray import RayExecutor
        from autoopt.executors.ray_fused import RayFusedExecutor

        return RayFusedExecutor(spec, task, size=fuse, least=least, refill=refill) if fuse > 1 else RayExecutor(spec)
    if fuse > 1:
        return FusedExecutor(task, data, device, size=fuse, least=least, workers=spec.jobs, refill=refill)
    if spec.jobs == 1:
        return InlineExecutor(task, data, device)
    return LocalExecutor(task.path, slots=spec.jobs)
