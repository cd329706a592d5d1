"""Trials in threads of the driver process: the default for ``--jobs 1`` (no start-up cost)."""

from __future__ import annotations

import queue
import threading

import torch

from autoopt.training.data import Data
from autoopt.executors.base import Event, Executor, Finished, Report
from autoopt.training.runner import TrialJob, run_trial
from autoopt.training.task import Task


class InlineExecutor(Executor):
    def __init__(self, task: Task, data: Data | None, device: torch.device, *, slots: int = 1) -> None:
        self.task, self.data, self.device, self.slots = task, data, device, slots
        self._events: queue.Queue[Event] = queue.Queue()
        self._answers: dict[int, queue.Queue[bool]] = {}
        self._jobs: queue.Queue[TrialJob | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(slots)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            answers = self._answers[job.number]

            def reporter(epoch: int, value: float, train_loss: float, number: int = job.number) -> bool:
                self._events.put(Report(number, epoch, value, train_loss))
                return answers.get()

            self._events.put(Finished(job.number, run_trial(self.task, self.data, job, reporter, device=self.device)))

    def submit(self, job: TrialJob) -> None:
        self._answers[job.number] = queue.Queue()
        self._jobs.put(job)

    def poll(self, timeout: float) -> list[Event]:
        try:
            events = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self._events.empty():
            events.append(self._events.get_nowait())
        for event in events:
            if isinstance(event, Finished):
                self._answers.pop(event.number, None)
        return events

    def answer(self, number: int, stop: bool) -> None:
        if number in self._answers:
            self._answers[number].put(stop)

    def close(self) -> None:
        for answers in self._answers.values():
            answers.put(True)  # release a trial waiting on its answer
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
