"""A process pool whose stuck or crashed tasks cost a timeout, never the batch.

multiprocessing.Pool never completes the result of a task whose process died, and cannot
cancel a running task; so every task gets a deadline, and a breach terminates and rebuilds the
pool, resubmitting the other tasks that were still in flight.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import Any

from pipeline.run.pagework import init_worker

POLL_S = 0.02


@dataclass(order=True)
class _Task:
    priority: tuple
    seq: int
    key: Any = field(compare=False)
    fn: Callable[..., Any] = field(compare=False)
    args: tuple = field(compare=False)
    timeout_s: float = field(compare=False)
    result: AsyncResult | None = field(default=None, compare=False)
    deadline: float = field(default=0.0, compare=False)
    started: float = field(default=0.0, compare=False)


@dataclass
class TaskPool:
    """At most `workers` tasks run at once, so a task's deadline starts when it really starts.

    Waiting tasks run in priority order (the orchestrator uses document order), so a batch
    finishes documents one after another instead of all of them at the end.
    """

    workers: int
    _pool: Any = None
    _running: list[_Task] = field(default_factory=list)
    _waiting: list[_Task] = field(default_factory=list)  # a heap
    _seq: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("forkserver")
        self._pool = ctx.Pool(self.workers, initializer=init_worker, maxtasksperchild=200)

    def submit(self, key: Any, fn: Callable[..., Any], args: tuple, timeout_s: float,
               priority: tuple = ()) -> None:
        heapq.heappush(self._waiting, _Task(priority, next(self._seq), key, fn, args, timeout_s))

    def pending(self) -> int:
        return len(self._running) + len(self._waiting)

    def cancel(self, predicate: Callable[[Any], bool]) -> None:
        """Drop waiting tasks whose key matches (e.g. the rest of a rejected document)."""
        self._waiting = [t for t in self._waiting if not predicate(t.key)]
        heapq.heapify(self._waiting)

    def _launch(self) -> None:
        while self._waiting and len(self._running) < self.workers:
            task = heapq.heappop(self._waiting)
            task.result = self._pool.apply_async(task.fn, task.args)
            task.started = time.monotonic()
            task.deadline = task.started + task.timeout_s
            self._running.append(task)

    def results(self) -> list[tuple[Any, Any, bool]]:
        """Block until at least one task ends; (key, value, timed_out) for each that did."""
        while True:
            self._launch()
            if not self._running:
                return []
            done = []
            now = time.monotonic()
            for task in list(self._running):
                if task.result is not None and task.result.ready():
                    self._running.remove(task)
                    try:
                        done.append((task.key, task.result.get(), False))
                    except Exception as exc:  # the task raised past its own guard
                        done.append((task.key, exc, False))
            expired = [t for t in self._running if now > t.deadline]
            if expired:
                for task in expired:
                    self._running.remove(task)
                    done.append((task.key, None, True))
                self._restart()
            if done:
                self._launch()  # refill freed slots before the coordinator does its own work
                return done
            time.sleep(POLL_S)

    def _restart(self) -> None:
        self._pool.terminate()
        self._pool.join()
        for task in self._running:  # innocent bystanders of the killed pool: run them again
            heapq.heappush(self._waiting, task)
        self._running = []
        self._start()

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
