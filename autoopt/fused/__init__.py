"""Fused trials: many configurations of one small model trained at once as one vmapped model.

See ``group.py`` for what members share (the batch order) and what each keeps, ``rules.py``
for which configurations fuse (the vectorized update rules sit on the optimizers' registry
entries, ``autoopt.optimizers.fused_rules``), ``check.py`` for which models qualify, and
``autoopt.executors.fused`` for how groups run inside a search.
"""

from autoopt.fused.check import fusion_blocker
from autoopt.fused.group import FusedGroup, GroupKey
from autoopt.fused.rules import NotFusable, fused_rule, member_hyperparameters

__all__ = ["FusedGroup", "GroupKey", "NotFusable", "fused_rule", "fusion_blocker", "member_hyperparameters"]
