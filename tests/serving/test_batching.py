"""Natural batching on the event loop: requests waiting together are scored in one call, each
gets its own answer and its own error, and a lone request is not held back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from serving.audit import AuditStore
from serving.batching import LoopBatcher
from serving.schemas import ScoreRequest
from serving.scoring import Scorer
from tests.aio import run_coroutine


class _Doubler:
    """Doubles numbers, refuses negative ones, and remembers the size of every call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.calls.append(len(items))
        if any(i < 0 for i in items):
            raise ValueError(f"negative in {list(items)}")
        return [2 * i for i in items]


def test_items_submitted_together_go_in_one_call_and_get_their_own_results() -> None:
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16)

    async def main() -> list[int]:
        return await asyncio.gather(*(batcher.submit(i) for i in range(5)))

    assert run_coroutine(main()) == [0, 2, 4, 6, 8]
    assert process.calls == [5]


def test_a_lone_item_is_processed_at_once() -> None:
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16)

    async def main() -> list[int]:
        first = await batcher.submit(1)
        second = await batcher.submit(2)
        return [first, second]

    assert run_coroutine(main()) == [2, 4]
    assert process.calls == [1, 1]


def test_an_item_that_reaches_the_batcher_within_its_turns_joins_the_batch() -> None:
    """A request read while the loop was busy needs a turn or two to reach the batcher."""
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16, turns=3)

    async def after(turns: int, item: int) -> int:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await batcher.submit(item)

    async def main() -> list[int]:
        return await asyncio.gather(batcher.submit(1), after(2, 2), after(5, 3))

    assert run_coroutine(main()) == [2, 4, 6]
    assert process.calls == [2, 1]


def test_an_item_that_fails_takes_its_own_error_and_no_other_item_fails() -> None:
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16)

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(
            *(batcher.submit(i) for i in (1, -1, 3)), return_exceptions=True
        )

    first, failed, third = run_coroutine(main())
    assert (first, third) == (2, 6)
    assert isinstance(failed, ValueError) and str(failed) == "negative in [-1]"
    assert process.calls == [3, 1, 1, 1]


def test_a_batch_holds_at_most_its_limit() -> None:
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16)

    async def main() -> list[int]:
        return await asyncio.gather(*(batcher.submit(i) for i in range(40)))

    assert run_coroutine(main()) == [2 * i for i in range(40)]
    assert process.calls == [16, 16, 8]


def test_a_cancelled_waiter_is_left_out_of_its_batch() -> None:
    process = _Doubler()
    batcher = LoopBatcher(process, limit=16)

    async def main() -> int:
        gone = asyncio.ensure_future(batcher.submit(5))
        kept = asyncio.ensure_future(batcher.submit(7))
        await asyncio.sleep(0)  # both reach the batcher
        gone.cancel()
        return await kept

    assert run_coroutine(main()) == 14
    assert process.calls == [1]


@pytest.fixture
def batches() -> list[int]:
    """The batch sizes the scorer reports (the service reports them to /metrics)."""
    return []


@pytest.fixture
def scorer(registry, tmp_path, monkeypatch, batches: list[int]) -> Scorer:
    from serving.model_source import from_registry

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TECHRISK_MODEL_URI", raising=False)
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    yield Scorer(from_registry(), store, on_batch=batches.append)
    store.close()


def test_concurrent_requests_scored_together_are_answered_and_recorded_as_alone(
    scorer: Scorer, batches: list[int], sample_requests: list[dict]
) -> None:
    """Eight firms, one of them twice (a firm's second application is built apart from its
    first): the same PDs, reasons and points as one by one, and one audit row each."""
    requests = [ScoreRequest.model_validate(b) for b in sample_requests[:8]]
    requests.append(requests[2])
    alone = [scorer.score(r) for r in requests]

    async def main():
        return await asyncio.gather(*(scorer.score_async(r) for r in requests))

    together = run_coroutine(main())
    assert batches == [len(requests)]

    def same(a, b) -> bool:
        drop = {"request_id"}
        return a.model_dump(exclude=drop) == b.model_dump(exclude=drop)

    assert all(same(a, b) for a, b in zip(alone, together, strict=True))
    assert len({t.request_id for t in together}) == len(requests)
    stored = {r.request_id: r for r in scorer.audit.list(limit=100)}
    assert len(stored) == 2 * len(requests)
    assert all(stored[t.request_id].pd == t.pd for t in together)
