"""Many writers on one study, and the database server restarted under a running search."""

from __future__ import annotations

import pytest

from fault_support import many_writers, postgres_restarts, trials_of

pytestmark = pytest.mark.e2e
DRIVERS, TRIALS = 8, 200


def test_eight_searches_on_one_study_reach_its_count_without_lock_errors(storage_url, study_name, tmp_path):
    result = many_writers(storage_url, tmp_path, study_name, drivers=DRIVERS, trials=TRIALS)
    assert result.notes == []
    # Each search counts the whole study before it starts a trial, so the trials already running
    # when the count is reached may overshoot it by at most one per other search (--jobs 1).
    assert TRIALS <= result.finished <= TRIALS + DRIVERS - 1
    assert (result.failed_with_reason, result.lost) == (0, 0)
    numbers = [t.number for t in trials_of(storage_url, study_name)]
    assert sorted(numbers) == list(range(len(numbers)))


@pytest.mark.postgres
def test_a_search_outlives_a_postgresql_restart(pg_url, study_name, tmp_path):
    result = postgres_restarts(pg_url, tmp_path, study_name, restarts=1)
    assert result.notes == []
    assert result.finished >= 6 and result.lost == 0
