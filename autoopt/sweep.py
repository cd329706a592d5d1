"""Sweeps: ``autoopt search`` run as a Ray job on a cluster, scheduled and followed from a laptop.

A sweep is one Ray job whose entrypoint is ``autoopt search STUDY_FILE --backend ray
--address auto``; the study file's folder travels as the job's ``working_dir`` and its
trials go to the study's (shared) database. Jobs carry ``metadata={"autoopt": "sweep"}``,
which is how ``list_sweeps`` tells them from other jobs on the cluster. Several sweeps
may run at once: each asks the cluster for its own trial actors.

The job server runs arbitrary code for anyone who reaches it: keep it on 127.0.0.1 and
reach it through an SSH tunnel (``ssh -L 8265:127.0.0.1:8265 HEAD``), never a public port.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoopt.errors import UserError

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
SWEEP_TAG = {"autoopt": "sweep"}


@dataclass(frozen=True)
class Sweep:
    """One sweep as the cluster reports it."""

    id: str
    study: str
    status: str  # PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED
    message: str
    start_time: float | None  # seconds since the epoch
    end_time: float | None


AGENT_WAIT_S = 60  # how long a submission waits for a just-started cluster's job agent


def _client(address: str) -> Any:
    from ray.job_submission import JobSubmissionClient  # Ray is an optional extra, imported when used

    from autoopt.executors.ray import first_line

    try:
        return JobSubmissionClient(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"--address {address}: cannot reach a Ray job server ({first_line(exc)}). Start the "
                        "cluster (docker compose up -d) and open an SSH tunnel to its port 8265, then "
                        f"pass --address {DEFAULT_ADDRESS}.") from None  # fmt: skip


def submit(study_file: Path, *, address: str = DEFAULT_ADDRESS, storage: str | None = None,
           study: str | None = None) -> str:  # fmt: skip
    """Schedule the search ``study_file`` describes on the cluster; return the sweep's id at once."""
    from autoopt.executors.ray import runtime_env_for  # imports Ray, an optional extra
    from autoopt.engine.spec import build_spec  # imports torch: not for `autoopt sweep --help`

    study_file = Path(study_file).expanduser().resolve()
    if study_file.suffix != ".toml":
        raise UserError(f"{study_file}: a sweep takes a study file (.toml) whose [study].model names the model.")
    overrides = {key: value for key, value in (("storage", storage), ("study", study)) if value is not None}
    spec = build_spec(study_file, overrides=overrides)
    folder = study_file.parent
    if not spec.model_file.is_relative_to(folder):
        raise UserError(f"{spec.model_file}: the model file must sit in the study file's folder ({folder}) or "
                        "below it; only that folder travels to the cluster.")  # fmt: skip
    if spec.storage.startswith("sqlite"):
        raise UserError(f"--storage {spec.storage}: a sweep's trials must go to a database that both the cluster "
                        "and you reach, e.g. postgresql://user@db-host:5432/autoopt (an SQLite file would stay "
                        "in the job's temporary folder). Pass --storage or set [study].storage.")  # fmt: skip
    command = ["autoopt", "search", study_file.name, "--backend", "ray", "--address", "auto",
               "--study", spec.study_name, "--storage", spec.storage]  # fmt: skip
    sweep_id = f"autoopt-{_slug(spec.study_name)}-{uuid.uuid4().hex[:8]}"
    runtime_env = runtime_env_for(folder) | {"env_vars": {"PYTHONUNBUFFERED": "1"}}
    client = _client(address)
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            return client.submit_job(
                entrypoint=shlex.join(command),
                submission_id=sweep_id,
                runtime_env=runtime_env,
                metadata=SWEEP_TAG | {"study": spec.study_name},
                entrypoint_num_cpus=0,  # the driver only asks and tells; trials reserve the resources
            )
        except RuntimeError as exc:
            # A cluster that has just started answers before its job agent is up (Ray: "No
            # available agent to submit job, please try again later"): wait for it, a while.
            if "no available agent" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise UserError(f"--address {address}: the cluster's job agent did not come up within "
                                f"{AGENT_WAIT_S} s; check `ray status` on the head node, then submit again.") from None
            time.sleep(1.0)


def status(sweep_id: str, *, address: str = DEFAULT_ADDRESS) -> Sweep:
    return _as_sweep(_call(_client(address).get_job_info, sweep_id))


def logs(sweep_id: str, *, address: str = DEFAULT_ADDRESS) -> str:
    return _call(_client(address).get_job_logs, sweep_id)


def follow(sweep_id: str, *, address: str = DEFAULT_ADDRESS) -> Iterator[str]:
    """Yield the sweep's log as it grows, until the sweep ends."""
    stream = _call(_client(address).tail_job_logs, sweep_id)
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.close()


def stop(sweep_id: str, *, address: str = DEFAULT_ADDRESS) -> bool:
    """Ask the sweep to stop; its finished trials stay stored. False if it had already ended."""
    return _call(_client(address).stop_job, sweep_id)


def list_sweeps(*, address: str = DEFAULT_ADDRESS) -> list[Sweep]:
    """The cluster's sweeps, newest first (other Ray jobs are left out)."""
    jobs = [job for job in _client(address).list_jobs() if (job.metadata or {}).get("autoopt") == "sweep"]
    return sorted((_as_sweep(job) for job in jobs), key=lambda s: s.start_time or 0, reverse=True)


def _call(method: Any, sweep_id: str) -> Any:
    try:
        return method(sweep_id)
    except RuntimeError as exc:
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            raise UserError(f"no sweep {sweep_id!r} on this cluster; `autoopt sweep list` shows them.") from None
        raise


def _as_sweep(job: Any) -> Sweep:
    seconds = [None if t is None else t / 1000 for t in (job.start_time, job.end_time)]  # Ray gives ms
    return Sweep(id=job.submission_id or job.job_id, study=(job.metadata or {}).get("study", "?"),
                 status=str(job.status.value if hasattr(job.status, "value") else job.status),
                 message=job.message or "", start_time=seconds[0], end_time=seconds[1])  # fmt: skip


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "study"


__all__ = ["DEFAULT_ADDRESS", "Sweep", "follow", "list_sweeps", "logs", "status", "stop", "submit"]
