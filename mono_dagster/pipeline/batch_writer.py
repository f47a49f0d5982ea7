"""A writer thread that commits a run's batches one at a time, in order, while the caller prepares the
next one: the database's own work (COPY, index updates, the commit's flush) overlaps the transform.

At most `depth` batches wait behind the one being written, which bounds the memory they hold. The
first error ends the writer; the caller gets it raised from its next call, and nothing after the
failed batch is written.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

# How long `close` waits for the batch being written (one transaction).
_JOIN_SECONDS = 60.0


class BatchWriter(Generic[Job, Result]):
    """`with BatchWriter(write) as writer: writer.submit(job) ... writer.finish()`."""

    def __init__(self, write: Callable[[Job], Result], *, depth: int = 1) -> None:
        self._write = write
        self._depth = depth
        self._jobs: deque[Job] = deque()
        self._results: deque[Result] = deque()
        self._error: BaseException | None = None
        self._busy = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mono-batch-writer", daemon=True)

    def __enter__(self) -> BatchWriter[Job, Result]:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def submit(self, job: Job) -> list[Result]:
        """Queues the job (waiting while `depth` jobs wait); returns the results committed meanwhile."""
        with self._changed:
            while len(self._jobs) >= self._depth and self._error is None:
                self._changed.wait()
            self._raise_error()
            self._jobs.append(job)
            self._changed.notify_all()
            return self._take_results()

    def finish(self) -> list[Result]:
        """Waits until every job is written; returns the results not returned before."""
        with self._changed:
            while (self._jobs or self._busy) and self._error is None:
                self._changed.wait()
            self._raise_error()
            return self._take_results()

    def close(self) -> None:
        """Drops the jobs not started, lets the one being written finish, and ends the thread."""
        with self._changed:
            self._closed = True
            self._jobs.clear()
            self._changed.notify_all()
        self._thread.join(_JOIN_SECONDS)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _take_results(self) -> list[Result]:
        results = list(self._results)
        self._results.clear()
        return results

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._jobs and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                job = self._jobs.popleft()
                self._busy = True
                self._changed.notify_all()
            try:
                result = self._write(job)
            except BaseException as exc:  # raised in the caller's thread by its next call
                with self._changed:
                    self._error, self._busy = exc, False
                    self._jobs.clear()
                    self._changed.notify_all()
                return
            with self._changed:
                self._results.append(result)
                self._busy = False
                self._changed.notify_all()
