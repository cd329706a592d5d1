"""Trials in worker processes on this machine: ``--jobs N``.

Each worker imports the model file and loads the data once, then trains job after job.
A worker that dies (SIGKILL, segfault, OOM killer) fails only the trial it held, with
the reason, and is replaced.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path

import torch

from autoopt.executors.base import Event, Executor, Finished, Report
from autoopt.outcome import FAIL, Cause, TrialOutcome
from autoopt.training.runner import TrialJob, pick_device, run_trial


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while a worker is started: a spawned child inherits the disposition
    through exec, and Python leaves an ignored SIGINT ignored, so a Ctrl-C while the worker
    still imports torch (seconds) does not kill it with a KeyboardInterrupt traceback on the
    user's terminal. Only the main thread may set handlers; elsewhere the child is on its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_main(conn: Connection, model_file: str, threads: int, gpu: int | None) -> None:
    # Ctrl-C reaches the whole process group: the driver stops the workers itself, after it
    # marked their trials failed, so a worker must not die of it mid-trial with a traceback.
    # (Ignored from its start, see _ctrl_c_ignored; again here for start methods that fork.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    torch.set_num_threads(threads)
    from autoopt.training.data import load_data  # imported here: the child starts clean under spawn
    from autoopt.training.task import load_task

    task = load_task(model_file)
    device = pick_device()
    data = load_data(task.datasets(), task.path).to(device) if task.train is None else None
    conn.send(("ready",))
    while (job := conn.recv()) is not None:

        def reporter(epoch: int, value: float, train_loss: float, number: int = job.number) -> bool:
            conn.send(("report", number, epoch, value, train_loss))
            answer = conn.recv()
            if answer is None:  # the driver is closing (Ctrl-C, the search's end): leave now, not when killed
                raise SystemExit(0)
            return answer

        conn.send(("done", job.number, run_trial(task, data, job, reporter, device=device)))


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext, model_file: Path, threads: int,
                 gpu: int | None) -> None:  # fmt: skip
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, str(model_file), threads, gpu), daemon=True)
        with _ctrl_c_ignored():
            self.process.start()
        child.close()
        self.gpu = gpu
        self.job: TrialJob | None = None
        self.ready = False


class LocalExecutor(Executor):
    def __init__(self, model_file: Path, *, slots: int) -> None:
        self.model_file, self.slots = model_file, slots
        self._context = multiprocessing.get_context("spawn")
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        self._threads = max(1, (os.cpu_count() or 1) // slots)
        self._workers = [self._spawn(i % gpus if gpus else None) for i in range(slots)]
        self._pending: list[TrialJob] = []

    def _spawn(self, gpu: int | None) -> _Worker:
        return _Worker(self._context, self.model_file, self._threads, gpu)

    def submit(self, job: TrialJob) -> None:
        self._pending.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in self._workers:
            if self._pending and worker.ready and worker.job is None:
                worker.job = self._pending.pop(0)
                worker.conn.send(worker.job)

    def poll(self, timeout: float) -> list[Event]:
        by_handle = {w.conn: w for w in self._workers} | {w.process.sentinel: w for w in self._workers}
        events: list[Event] = []
        for handle in wait(list(by_handle), timeout=timeout):
            worker = by_handle[handle]
            if worker not in self._workers:
                continue  # already replaced in this poll
            if handle is worker.conn and worker.conn.poll():
                events.extend(self._receive(worker))
            elif not worker.process.is_alive():
                events.extend(self._replace(worker))
        self._dispatch()
        return events

    def _receive(self, worker: _Worker) -> list[Event]:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=5)
            return self._replace(worker)
        if message[0] == "ready":
            worker.ready = True
            return []
        if message[0] == "report":
            return [Report(*message[1:])]
        worker.job = None
        return [Finished(message[1], message[2])]

    def _replace(self, worker: _Worker) -> list[Event]:
        code = worker.process.exitcode
        self._workers[self._workers.index(worker)] = self._spawn(worker.gpu)
        if worker.job is None:
            if not worker.ready:
                raise RuntimeError(f"a worker process exited with code {code} while loading {self.model_file}")
            return []
        reason = f"worker process died (exit code {code}) while running this trial"
        return [Finished(worker.job.number, TrialOutcome(state=FAIL, reason=reason, cause=Cause.INFRASTRUCTURE))]

    def answer(self, number: int, stop: bool) -> None:
        for worker in self._workers:
            if worker.job is not None and worker.job.number == number:
                try:
                    worker.conn.send(stop)
                except (BrokenPipeError, OSError):
                    pass  # the worker died; its sentinel reports it on the next poll

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
