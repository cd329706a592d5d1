"""What the search does when a trial fails or diverges, decided by its ``Cause``, never its reason text.

- Infrastructure (a worker process died, a heartbeat stopped, a Ray node went away): the
  trial is queued again with the same params, up to ``--retries`` times (``autoopt.storage.stale``).
- Out of memory: the trial fails with the reason and is re-run once at half its batch
  size. The search then avoids the batch sizes that did not fit: every later trial whose
  sampled ``batch_size`` is at or above the smallest one that ran out of memory (for any
  optimizer: activations, not optimizer state, dominate) trains at the largest batch size
  below it, which its ``batch_size`` user attr records. Optuna's TPE ignores FAIL trials,
  so it would keep sampling there; instead each such capped trial gets the constraint
  ``batch_size_fits = 1`` (``Trial.set_constraint``: infeasible), and TPE ranks infeasible
  trials below every feasible one, so it learns to sample smaller batch sizes. TPE reads
  constraints of COMPLETE and PRUNED trials only, which is why the capped trials, not the
  failed one, carry it. ``batch_size`` params of capped trials are what was sampled.
- Divergence (a NaN or inf loss or value): a verdict on the configuration, like pruning,
  so the trial is stored PRUNED with its reason, counts toward ``--trials`` and is not
  retried. Stored as FAIL, TPE would never see it and would keep sampling learning rates
  that blow up; as PRUNED with the constraint ``converges = 1`` (infeasible), TPE ranks it
  below every feasible trial. It still counts toward "10 trials in a row failed".
- User code errors (and timeouts) fail the trial, reason recorded; never retried.
"""

from __future__ import annotations

from dataclasses import replace

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoopt.engine import phases
from autoopt.errors import UserError
from autoopt.outcome import COMPLETE, FAIL, PRUNED, Cause, TrialOutcome
from autoopt.engine.search_result import SearchResult
from autoopt.trial_config import TrialConfig
from autoopt.engine.spec import StudySpec
from autoopt.storage import record, retry_trial, stored_cause

MAX_CONSECUTIVE_FAILURES = 10
OOM_CONSTRAINT = "batch_size_fits"
DIVERGED_CONSTRAINT = "converges"


def smallest_oom_batch_size(study: optuna.Study) -> int | None:
    """The smallest batch size that ran out of memory in this study so far."""
    sizes = [t.user_attrs[record.BATCH_SIZE] for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
             if stored_cause(t.user_attrs) is Cause.OUT_OF_MEMORY and record.BATCH_SIZE in t.user_attrs]  # fmt: skip
    return min(sizes, default=None)


class FailurePolicy:
    """The failure policy of one search: batch sizes that fit, verdicts, retries, and when to give up."""

    def __init__(self, study: optuna.Study, spec: StudySpec, result: SearchResult) -> None:
        self.study, self.spec, self.result = study, spec, result
        self.consecutive_failures = 0
        self.oom_batch_size = smallest_oom_batch_size(study)

    def batch_size_that_fits(self, size: int) -> int:
        """``size``, or the largest allowed batch size below the smallest one that ran out of memory."""
        limit = self.oom_batch_size
        if limit is None or size < limit or limit < 2:
            return size
        smaller = [b for b in self.spec.space.batch_sizes if b < limit]
        return max(smaller, default=max(1, limit // 2))

    def fitting(self, trial: optuna.Trial, config: TrialConfig) -> TrialConfig:
        """``config`` at a batch size that fits; a trial capped so is marked infeasible for TPE."""
        batch_size = self.batch_size_that_fits(trial.user_attrs.get(record.BATCH_SIZE, config.batch_size))
        if batch_size < config.batch_size:
            trial.set_constraint(OOM_CONSTRAINT, 1.0)
            config = replace(config, batch_size=batch_size)
        return config

    @staticmethod
    def judge(outcome: TrialOutcome) -> None:
        """A diverged trial is a verdict on its configuration: stored pruned, not failed."""
        if outcome.state == FAIL and outcome.cause is Cause.DIVERGED:
            outcome.state = PRUNED

    @staticmethod
    def constrain(trial: optuna.Trial, outcome: TrialOutcome) -> None:
        """Mark a diverged trial infeasible, so that TPE ranks it below every feasible one."""
        if outcome.state == PRUNED and outcome.cause is Cause.DIVERGED:
            trial.set_constraint(DIVERGED_CONSTRAINT, 1.0)

    def count(self, number: int, outcome: TrialOutcome) -> None:
        """Count a trial the study was just told of, and how many failed in a row."""
        if outcome.state == COMPLETE:
            self.result.complete += 1
            self.consecutive_failures = 0
        elif outcome.state == PRUNED:
            self.result.pruned += 1
            if outcome.cause is Cause.DIVERGED:
                self.result.diverged += 1
                self.result.failures.append(f"trial {number}: {outcome.reason}")
                self.consecutive_failures += 1
            else:
                self.consecutive_failures = 0
        else:
            self.result.failed += 1
            self.result.failures.append(f"trial {number}: {outcome.reason}")
            if outcome.cause is not Cause.INFRASTRUCTURE:
                # A dead node fails a whole fused group at once; that says nothing of the model file.
                self.consecutive_failures += 1

    def retry(self, failed: FrozenTrial, cause: Cause) -> None:
        """Queue a re-run of a trial that failed for a reason other than its configuration."""
        if cause is Cause.INFRASTRUCTURE:
            self.result.retried += retry_trial(self.study, failed, self.spec.retries)
        elif cause is Cause.OUT_OF_MEMORY and record.OOM_RETRY_OF not in failed.user_attrs:
            size = failed.user_attrs[record.BATCH_SIZE]
            self.oom_batch_size = min(size, self.oom_batch_size or size)
            if size >= 2 and failed.user_attrs.get(record.ROLE, record.ROLE_SEARCH) == record.ROLE_SEARCH:
                attrs = {record.ROLE: record.ROLE_SEARCH, record.OOM_RETRY_OF: failed.number, record.BATCH_SIZE: size // 2,
                         record.PHASE: phases.phase_of(failed)}  # fmt: skip
                self.study.enqueue_trial(failed.params, user_attrs=attrs)
                self.result.retried += 1

    def gave_up(self) -> UserError | None:
        """The error that stops the search once too many trials failed in a row, else None."""
        if self.consecutive_failures < MAX_CONSECUTIVE_FAILURES:
            return None
        return UserError(
            f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed, so the search stopped. The last reason: "
            f"{self.result.failures[-1]}. Fix the model file, or narrow the space (e.g. lower learning "
            "rates), then run the same command again: finished trials are kept."
        )
