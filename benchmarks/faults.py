"""Inject each fault of tests/faults several times and print what survived, per scenario.

    AUTOOPT_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python benchmarks/faults.py

Columns: scenario, injections, trials finished, trials failed with a recorded reason, trials
lost (left RUNNING/WAITING, failed without a reason, or finished before a fault and changed
or missing after it). Restarting PostgreSQL needs root on the database host (pg_ctlcluster).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "faults"))

from fault_support import (  # noqa: E402
    POSTGRES_ENV,
    Census,
    ctrl_c,
    driver_kills,
    frozen_driver,
    many_writers,
    postgres_restarts,
    worker_kills,
)


def main() -> None:
    pg = os.environ.get(POSTGRES_ENV)
    work = Path(tempfile.mkdtemp(prefix="autoopt-faults-"))
    sqlite = f"sqlite:///{work / 'trials.db'}"
    name = lambda: f"faults-{uuid.uuid4().hex[:8]}"  # noqa: E731
    rows: list[Census] = [
        worker_kills(sqlite, work, name(), kills=5),
        driver_kills(sqlite, work, name(), kills=3),
        ctrl_c(sqlite, work, name(), interrupts=2),
        frozen_driver(sqlite, work, name())[0],
        many_writers(sqlite, work, name()),
    ]
    rows[-1].scenario += " (SQLite)"
    if pg:
        rows.append(driver_kills(pg, work, name(), kills=3))
        rows[-1].scenario += " (PostgreSQL)"
        rows.append(many_writers(pg, work, name()))
        rows[-1].scenario += " (PostgreSQL)"
        rows.append(postgres_restarts(pg, work, name(), restarts=2))
    print(f"{'scenario':34} {'injections':>10} {'finished':>9} {'failed+reason':>14} {'lost':>5}  reasons")
    for row in rows:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(row.reasons.items()))
        print(f"{row.scenario:34} {row.injections:>10} {row.finished:>9} {row.failed_with_reason:>14} {row.lost:>5}  {reasons}")
        for note in row.notes:
            print(f"    note: {note[-300:]}")


if __name__ == "__main__":
    main()
