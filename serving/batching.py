"""Natural batching on an event loop: the requests that are waiting together are scored together.

A worker's event loop scores one small request at a time. Under load, while it scores one,
others arrive; scoring them one by one pays the fixed cost of a feature build and a model
call (hundreds of small numpy and LightGBM calls) for each. A :class:`LoopBatcher` hands the
work of every request that reached it within a few turns of the loop to one call instead,
so that cost is shared. Nothing waits for a batch to fill or for a timer: the call runs once
the loop has taken in what the network brought meanwhile (a request read from its socket
needs two turns to reach the batcher), so a lone request (a loan officer's query, a
sequential client) is scored after microseconds, and only requests that would have queued
anyway are grouped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LoopBatcher(Generic[T, R]):
    """Runs ``process`` on the items submitted within ``turns`` turns of the loop after the
    first, in one call of at most ``limit`` items (a batch's items are answered together, so
    its size bounds how long the first of them waits for the last).

    ``process`` returns one result per item, in order. If it raises, each item of that batch
    is processed alone, so an item that fails takes its own exception and no other's result.
    ``process`` runs on the loop (it must not block on I/O); its items come from one loop.
    ``observe`` is told each batch's size (the service's ``/metrics`` histogram).
    """

    def __init__(
        self,
        process: Callable[[Sequence[T]], list[R]],
        limit: int,
        turns: int = 1,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self._process = process
        self._limit = limit
        self._turns = turns
        self._observe = observe
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}

    async def submit(self, item: T) -> R:
        """``item``'s result, computed with the items submitted beside it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        pending.append((item, future))
        if len(pending) == 1:
            loop.call_soon(self._after, loop, self._turns)
        return await future

    def _after(self, loop: asyncio.AbstractEventLoop, turns: int) -> None:
        """Flush after ``turns`` more turns: each turn polls the sockets first, and what they
        brought runs before the next turn's callbacks."""
        if turns > 1:
            loop.call_soon(self._after, loop, turns - 1)
        else:
            self._flush(loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._pending.pop(loop, [])
        batch, rest = pending[: self._limit], pending[self._limit :]
        if rest:
            self._pending[loop] = rest
            loop.call_soon(self._flush, loop)
        live = [(item, future) for item, future in batch if not future.cancelled()]
        if not live:
            return
        if self._observe is not None:
            self._observe(len(live))
        try:
            results = self._process([item for item, _ in live])
        except Exception as exc:
            if len(live) == 1:
                live[0][1].set_exception(exc)
            else:  # whose was it? each item alone, so the exception reaches its own caller
                self._one_by_one(live)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)

    def _one_by_one(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        for item, future in batch:
            try:
                future.set_result(self._process([item])[0])
            except Exception as exc:
                future.set_exception(exc)
