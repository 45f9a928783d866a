"""A stalled audit store: bounded waits, a prompt refusal, and never a late commit.

Each test holds a real lock in the real database (a SQLite writer in ``BEGIN IMMEDIATE``, a
PostgreSQL ``LOCK TABLE … ACCESS EXCLUSIVE``) or slows a real transaction down.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from serving.audit import AuditStore, AuditUnavailable, _begin_immediate
from tests.serving.audit_records import held_write_lock, make_record

DEADLINE_S = 0.5
#: Slack for a loaded 2-core machine; the refusal must still come long before the old 30 s.
SLACK_S = 0.75


@pytest.fixture
def fast_store(url: str):
    store = AuditStore(url, deadline_s=DEADLINE_S)
    store.create_schema()
    yield store
    store.close()


def _timed(action):
    start = time.monotonic()
    try:
        return action(), time.monotonic() - start
    except AuditUnavailable as exc:
        return exc, time.monotonic() - start


def test_a_locked_store_refuses_within_the_deadline_and_never_commits_late(
    fast_store: AuditStore, url: str
) -> None:
    kept, refused = make_record(), make_record()
    fast_store.record(kept)
    with held_write_lock(url):
        outcome, waited = _timed(lambda: fast_store.record(refused))
        assert isinstance(outcome, AuditUnavailable), outcome
        assert f"could not record decision {refused.request_id}" in str(outcome)
        assert waited < DEADLINE_S + SLACK_S
        ready, probed = _timed(fast_store.ping)
        assert ready is False and probed < DEADLINE_S + SLACK_S
    time.sleep(3 * DEADLINE_S)  # time for a late commit, had one been queued
    assert fast_store.get(refused.request_id) is None
    assert [r.request_id for r in fast_store.list()] == [kept.request_id]
    assert fast_store.ping()
    fast_store.record(refused)  # the client's retry is recorded once
    assert len(fast_store.list()) == 2 and fast_store.verify().ok


def test_a_write_behind_a_lock_released_in_time_is_recorded_once(
    fast_store: AuditStore, url: str
) -> None:
    """The writer keeps asking for the lock (SQLite: polled, not SQLite's sleeping busy
    handler) and takes it once the other client lets go, within the deadline."""
    record = make_record()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with held_write_lock(url):
            pending = pool.submit(fast_store.record, record)
            time.sleep(DEADLINE_S / 3)
            assert not pending.done()  # waiting for the lock
        stored = pending.result()
    assert stored.request_id == record.request_id
    assert [r.request_id for r in fast_store.list()] == [record.request_id]
    assert fast_store.verify().ok


def test_a_batch_behind_a_lock_is_refused_whole(fast_store: AuditStore, url: str) -> None:
    batch = [make_record(channel="score_batch") for _ in range(5)]
    with held_write_lock(url):
        outcome, waited = _timed(lambda: fast_store.record_many(batch))
    assert isinstance(outcome, AuditUnavailable) and waited < DEADLINE_S + SLACK_S
    time.sleep(3 * DEADLINE_S)
    assert fast_store.list() == []


def test_rows_written_but_not_committed_by_the_deadline_are_rolled_back(
    fast_store: AuditStore,
) -> None:
    """The rows are in the open transaction when the request gives up: no COMMIT follows."""
    engine = fast_store._engine

    def slow_insert(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
            time.sleep(3 * DEADLINE_S)

    sa.event.listen(engine, "after_cursor_execute", slow_insert)
    try:
        late = make_record()
        outcome, waited = _timed(lambda: fast_store.record(late))
        assert isinstance(outcome, AuditUnavailable)
        assert "not committed within 0.5 s; it never will be" in str(outcome)
        assert waited < DEADLINE_S + SLACK_S
        time.sleep(6 * DEADLINE_S)  # the slow transaction has long finished by now
    finally:
        sa.event.remove(engine, "after_cursor_execute", slow_insert)
    assert fast_store.get(late.request_id) is None
    assert fast_store.verify().rows == 0
    fast_store.record(late)
    assert fast_store.verify().rows == 1


def test_requests_queued_behind_a_stalled_write_are_refused_in_time(
    fast_store: AuditStore, url: str
) -> None:
    """Many threads at once: each is answered within its deadline, none is stored."""
    from concurrent.futures import ThreadPoolExecutor

    records = [make_record() for _ in range(12)]
    with held_write_lock(url), ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda r: _timed(lambda: fast_store.record(r)), records))
    assert all(isinstance(o, AuditUnavailable) for o, _ in outcomes)
    assert max(w for _, w in outcomes) < DEADLINE_S + SLACK_S
    time.sleep(3 * DEADLINE_S)
    assert fast_store.list() == []


def test_the_deadline_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from techrisk_base.errors import InvalidArgument
    from techrisk_base.settings import audit_deadline_s

    monkeypatch.setenv("TECHRISK_AUDIT_DEADLINE_S", "1.5")
    assert audit_deadline_s() == 1.5
    for bad in ("soon", "0", "-1", "nan"):
        monkeypatch.setenv("TECHRISK_AUDIT_DEADLINE_S", bad)
        with pytest.raises(InvalidArgument, match="TECHRISK_AUDIT_DEADLINE_S must be a number"):
            audit_deadline_s()


def test_a_large_batch_gets_time_for_its_size(url: str) -> None:
    """A write slower than the deadline fails one decision, but not a batch of 2,500, which
    waits one deadline per 250 rows (``ROWS_PER_DEADLINE``)."""
    store = AuditStore(url, deadline_s=0.3)
    store.create_schema()

    def slow_insert(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
            time.sleep(0.45)

    sa.event.listen(store._engine, "after_cursor_execute", slow_insert)
    try:
        with pytest.raises(AuditUnavailable, match=r"not committed within 0\.3 s"):
            store.record(make_record())
        store.record_many([make_record(channel="score_batch") for _ in range(2_500)])
    finally:
        sa.event.remove(store._engine, "after_cursor_execute", slow_insert)
    assert store.verify().rows == 2_500
    store.close()


class _Refusing:
    """A connection whose ``BEGIN IMMEDIATE`` fails with SQLite's ``codes`` in turn, then
    succeeds: the extended busy codes cannot be provoked on demand in a real database."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls = 0

    def exec_driver_sql(self, statement: str) -> None:
        self.calls += 1
        if self.codes:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = self.codes.pop(0)
            raise sa.exc.OperationalError(statement, None, error)


@pytest.mark.parametrize(
    "code", [5, 261, 517, 773], ids=["busy", "recovery", "snapshot", "timeout"]
)
def test_every_kind_of_busy_is_waited_out(code: int) -> None:
    """Four processes opening a new database at once failed one with 'database is locked':
    SQLITE_BUSY_RECOVERY (another process recovering the WAL) was not taken for busy."""
    connection = _Refusing(code, code)
    _begin_immediate(connection, wait_s=5)
    assert connection.calls == 3


def test_an_error_other_than_busy_is_not_retried() -> None:
    connection = _Refusing(sqlite3.SQLITE_READONLY)
    with pytest.raises(sa.exc.OperationalError):
        _begin_immediate(connection, wait_s=5)
    assert connection.calls == 1
