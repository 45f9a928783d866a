"""The group writer awaited from an event loop: shared commits, deadlines, cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import pytest

from serving.audit_writer import DeadlinePassed, GroupWriter
from tests.aio import run_coroutine


class GatedCommit:
    """A commit that waits for ``gate`` before claiming, and keeps what it committed."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[int]] = []

    def __call__(
        self, items: Sequence[int], claim: Callable[[], None]
    ) -> list[tuple[int, BaseException | None]]:
        self.entered.set()
        self.gate.wait(10)
        claim()
        self.batches.append(list(items))
        return [(item * 10, None) for item in items]

    @property
    def committed(self) -> list[int]:
        return [item for batch in self.batches for item in batch]


def test_concurrent_coroutines_share_a_commit_and_each_gets_its_outcome():
    commit = GatedCommit()
    writer: GroupWriter[int, int] = GroupWriter(commit)

    async def scenario() -> list[int]:
        first = asyncio.create_task(writer.submit_async(0, 10))
        await asyncio.to_thread(commit.entered.wait, 10)  # the writer holds item 0
        rest = [asyncio.create_task(writer.submit_async(i, 10)) for i in range(1, 5)]
        await asyncio.sleep(0.05)  # all four queued behind the open transaction
        commit.gate.set()
        return await asyncio.gather(first, *rest)

    try:
        assert run_coroutine(scenario()) == [0, 10, 20, 30, 40]
    finally:
        writer.close()
    assert commit.batches == [[0], [1, 2, 3, 4]]


def test_past_the_deadline_a_coroutine_gets_deadline_passed_and_is_never_committed():
    commit = GatedCommit()
    writer: GroupWriter[int, int] = GroupWriter(commit)

    async def scenario() -> None:
        with pytest.raises(DeadlinePassed):
            await writer.submit_async(1, 0.1)

    try:
        run_coroutine(scenario())
        commit.gate.set()  # the store answers again, after the client was told 503
        assert writer.submit(2, 10) == 20
    finally:
        writer.close()
    assert commit.committed == [2]


def test_a_cancelled_coroutine_is_not_committed_afterwards():
    commit = GatedCommit()
    writer: GroupWriter[int, int] = GroupWriter(commit)

    async def scenario() -> None:
        task = asyncio.create_task(writer.submit_async(1, 10))
        await asyncio.to_thread(commit.entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        run_coroutine(scenario())
        commit.gate.set()
        assert writer.submit(2, 10) == 20
    finally:
        writer.close()
    assert commit.committed == [2]


def test_a_failed_commit_reaches_the_awaiting_coroutine():
    def failing(items: Sequence[int], claim: Callable[[], None]) -> list:
        raise OSError("disk full")

    writer: GroupWriter[int, int] = GroupWriter(failing)
    try:
        with pytest.raises(OSError, match="disk full"):
            run_coroutine(writer.submit_async(1, 10))
    finally:
        writer.close()
