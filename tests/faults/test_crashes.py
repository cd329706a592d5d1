"""Killed workers, killed or frozen searches, Ctrl-C: nothing finished is lost, nothing stays RUNNING."""

from __future__ import annotations

import pytest

from autoopt.storage import HEARTBEAT_SECONDS
from fault_support import ctrl_c, driver_kills, frozen_driver, worker_kills

pytestmark = pytest.mark.e2e


def test_a_killed_worker_fails_its_trial_which_is_retried_with_its_params(sqlite_url, study_name, tmp_path):
    result = worker_kills(sqlite_url, tmp_path, study_name, kills=1)
    assert result.notes == []
    assert (result.finished, result.failed_with_reason, result.lost) == (5, 1, 0)
    assert result.reasons == {"worker process died": 1}


def test_a_killed_search_resumes_and_fails_its_orphan_as_stale_then_retries_it(storage_url, study_name, tmp_path):
    result = driver_kills(storage_url, tmp_path, study_name, kills=1)
    assert result.notes == []
    assert (result.finished, result.failed_with_reason, result.lost) == (4, 1, 0)


def test_ctrl_c_fails_running_trials_as_interrupted_and_exits_130(sqlite_url, study_name, tmp_path):
    result = ctrl_c(sqlite_url, tmp_path, study_name, interrupts=1)
    assert result.notes == []
    assert result.finished == 4 and result.lost == 0
    assert set(result.reasons) == {"interrupted"} and 1 <= result.failed_with_reason <= 2  # --jobs 2


def test_a_frozen_search_loses_its_trial_to_a_live_one_within_the_heartbeat_grace(sqlite_url, study_name, tmp_path):
    result, detected_after = frozen_driver(sqlite_url, tmp_path, study_name)
    assert result.notes == []
    assert (result.failed_with_reason, result.lost) == (1, 0) and result.finished >= 12
    # Stale after 2 x HEARTBEAT_SECONDS without a heartbeat, found at the next check (every
    # HEARTBEAT_SECONDS); the rest is the second search's start-up on busy cores.
    assert detected_after < 3 * HEARTBEAT_SECONDS + 45
