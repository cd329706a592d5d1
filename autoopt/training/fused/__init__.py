"""Fused trials: many configurations of one small model trained at once as one vmapped model.

See ``group.py`` for what members share (the forward and backward passes) and what each
keeps (everything a trial alone has), ``rules.py`` for which configurations fuse (the
vectorized update rules sit on the optimizers' registry entries,
``autoopt.optimizers.fused_rules``), ``check.py`` for which models qualify, ``payoff.py``
for whether fusing pays on this machine, and ``autoopt.executors.fused`` for how groups run
inside a search (``autoopt.engine.fusion`` sizes them).
"""

from autoopt.training.fused.check import fusion_blocker
from autoopt.training.fused.group import FusedGroup, GroupKey
from autoopt.training.fused.rules import NotFusable, fused_rule, member_hyperparameters

__all__ = ["FusedGroup", "GroupKey", "NotFusable", "fused_rule", "fusion_blocker", "member_hyperparameters"]
