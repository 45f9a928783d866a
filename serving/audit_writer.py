"""Group commit: one writer thread per process commits whatever requests have queued.

Concurrent requests' audit rows then share one transaction and one ``fsync``, while each
request still waits until its own rows are committed (durability before the answer is
unchanged). Each submission carries a deadline; a request that stops waiting is *abandoned*,
and an abandoned submission is never committed afterwards:

- the writer *claims* the submissions of a transaction just before ``COMMIT``; a submission
  can be abandoned only while it is unclaimed, and claiming skips abandoned ones;
- if any was abandoned after its rows were written, the transaction is rolled back and the
  rest are written again without it.

A request whose submission was claimed waits for the ``COMMIT`` to finish, so its answer
always agrees with the store.

A thread waits with :meth:`GroupWriter.submit`; a coroutine awaits
:meth:`GroupWriter.submit_async`, which leaves its event loop free to serve other requests
(and to queue their rows into the same transaction) while the commit runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

_QUEUED, _CLAIMED, _ABANDONED = "queued", "claimed", "abandoned"


class DeadlinePassed(Exception):
    """The submission was not committed within its deadline and never will be."""


@dataclass(eq=False)
class Submission(Generic[Item, Outcome]):
    """One request's rows, waiting for the writer."""

    item: Item
    state: str = _QUEUED
    outcome: Outcome | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    #: Called from the writer thread once finished (an awaiting coroutine's wake-up).
    on_finish: Callable[[], None] | None = None

    def finish(self, outcome: Outcome | None = None, error: BaseException | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.done.set()
        if self.on_finish is not None:
            self.on_finish()

    def result(self) -> Outcome:
        if self.error is not None:
            raise self.error
        return self.outcome  # type: ignore[return-value]


class Abandoned(Exception):
    """Raised inside a transaction when a submission was abandoned before it was claimed."""


#: ``commit(items, claim)`` writes the items in one transaction, calls ``claim()`` just before
#: ``COMMIT`` (letting :class:`Abandoned` propagate, after rolling back), and returns each
#: item's ``(outcome, error)`` in order: an error there fails that item alone.
Commit = Callable[[Sequence[Any], Callable[[], None]], Sequence[tuple[Any, BaseException | None]]]


class GroupWriter(Generic[Item, Outcome]):
    """A queue and one daemon thread that commits queued submissions together.

    Started lazily and again after a ``fork`` (a worker process has its own thread).
    """

    def __init__(self, commit: Commit, name: str = "techrisk-audit-writer") -> None:
        self._commit = commit
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Submission | None] = queue.SimpleQueue()
        self._pid: int | None = None

    def submit(self, item: Item, timeout_s: float) -> Outcome:
        """Queue ``item`` and wait until it is committed; past ``timeout_s`` raise
        :class:`DeadlinePassed` (the item is then never committed)."""
        submission: Submission = Submission(item)
        self._ensure_thread().put(submission)
        if not submission.done.wait(timeout_s):
            self._abandon(submission, timeout_s)
            submission.done.wait()  # claimed: COMMIT is under way, its result is the answer
        return submission.result()

    async def submit_async(self, item: Item, timeout_s: float) -> Outcome:
        """:meth:`submit` for a coroutine: the event loop is not blocked while it waits."""
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def wake() -> None:
            # A loop closed meanwhile (RuntimeError) has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_set_done, finished)

        submission: Submission = Submission(item, on_finish=wake)
        self._ensure_thread().put(submission)
        try:
            await asyncio.wait_for(asyncio.shield(finished), timeout_s)
        except TimeoutError:
            self._abandon(submission, timeout_s)
            await finished  # claimed: COMMIT is under way, its result is the answer
        except asyncio.CancelledError:
            # The request was cancelled (its client went away): not recorded if still queued.
            with self._lock:
                if submission.state == _QUEUED:
                    submission.state = _ABANDONED
            raise
        return submission.result()

    def _abandon(self, submission: Submission, timeout_s: float) -> None:
        """Past its deadline: abandon ``submission`` and raise, unless it is already claimed."""
        with self._lock:
            if submission.state == _QUEUED:
                submission.state = _ABANDONED
                raise DeadlinePassed(f"not committed within {timeout_s:g} s")

    def close(self) -> None:
        """Let this process's writer thread end once the queue before it is written; a later
        ``submit`` starts a new one."""
        with self._lock:
            if self._pid == os.getpid():
                self._queue.put(None)
            self._pid = None

    def _ensure_thread(self) -> queue.SimpleQueue[Submission | None]:
        """The queue of this process's running writer thread, started if need be."""
        with self._lock:
            if self._pid == os.getpid():
                return self._queue
            self._queue = queue.SimpleQueue()
            self._pid = os.getpid()
            threading.Thread(
                target=self._run, args=(self._queue,), name=self._name, daemon=True
            ).start()
            return self._queue

    def _run(self, own: queue.SimpleQueue[Submission | None]) -> None:
        """Write what has queued, batch after batch, until the ``close`` sentinel."""
        while True:
            batch = [own.get()]
            while True:
                try:
                    batch.append(own.get_nowait())
                except queue.Empty:
                    break
            pending = [s for s in batch if s is not None]
            if pending:
                self._write(pending)
            if len(pending) < len(batch):
                return

    def _write(self, batch: list[Submission]) -> None:
        """Commit ``batch``, rolling back and retrying without submissions abandoned meanwhile."""
        while True:
            with self._lock:
                batch = [s for s in batch if s.state != _ABANDONED]
            if not batch:
                return
            try:
                results = self._commit([s.item for s in batch], partial(self._claim, batch))
            except Abandoned:
                continue
            except Exception as exc:  # every waiter must hear of it
                for submission in batch:
                    if not submission.done.is_set():
                        submission.finish(error=exc)
                return
            for submission, (outcome, error) in zip(batch, results, strict=True):
                submission.finish(outcome, error)
            return

    def _claim(self, batch: Sequence[Submission]) -> None:
        with self._lock:
            if any(s.state == _ABANDONED for s in batch):
                raise Abandoned
            for submission in batch:
                submission.state = _CLAIMED


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
