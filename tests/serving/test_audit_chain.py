"""Tamper evidence, idempotency keys and retention in the audit store, on both backends."""

from __future__ import annotations

import argparse
import datetime as dt
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest
import sqlalchemy as sa
from alembic import command
from rich.console import Console

from serving.audit import (
    GENESIS_HASH,
    AuditStore,
    IdempotencyConflict,
    TamperedDecision,
    alembic_config,
    chain_hash,
    decisions,
)
from serving.audit_cli import ChainBroken, add_audit_commands, run_audit
from tests.serving.audit_records import INPUT, REPO, make_record


def _run_cli(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="techrisk")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    console = Console(record=True, width=250, color_system=None)
    run_audit(parser.parse_args(argv), console=console)
    return console.export_text()


def _execute(url: str, sql: str, **params: object) -> None:
    """Change the database behind the store's back, as a person with SQL access could."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(sql), params)
    engine.dispose()


def _filled(store: AuditStore, n: int) -> list[str]:
    start = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    records = [make_record(created_at=start + dt.timedelta(days=i)) for i in range(n)]
    for record in records:
        store.record(record)
    return [r.request_id for r in records]


# --- the chain -------------------------------------------------------------------------------


def test_rows_form_one_chain_from_genesis(store: AuditStore) -> None:
    ids = _filled(store, 3)
    store.record_many([make_record(channel="score_batch") for _ in range(2)])
    rows = [store.get(i) for i in ids]
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].row_hash
    assert rows[2].prev_hash == rows[1].row_hash
    report = store.verify()
    assert report.ok and report.rows == 5


def test_verify_names_the_first_edited_row(store: AuditStore, url: str) -> None:
    ids = _filled(store, 5)
    _execute(
        url,
        "UPDATE decisions SET pd = 0.001, decision = 'approve' WHERE request_id IN (:a, :b)",
        a=ids[2],
        b=ids[3],
    )
    report = store.verify()
    assert (report.first_bad, report.seq, report.rows) == (ids[2], 3, 2)
    assert "content does not match its row hash" in report.problem
    with pytest.raises(TamperedDecision, match=f"decision {ids[2]} fails its check"):
        store.get(ids[2])
    stored = store.inspect(ids[2])
    assert not stored.ok and stored.row["pd"] == 0.001


def test_verify_finds_rows_removed_inside_and_at_the_end(store: AuditStore, url: str) -> None:
    ids = _filled(store, 5)
    _execute(url, "DELETE FROM decisions WHERE request_id = :id", id=ids[4])
    tail = store.verify()
    assert not tail.ok and "rows were removed from the end" in tail.problem
    _execute(url, "DELETE FROM decisions WHERE request_id = :id", id=ids[1])
    inside = store.verify()
    assert (inside.first_bad, inside.problem) == (ids[2], "rows 2 to 2 are missing before it")


def test_a_rewritten_row_with_a_fresh_hash_breaks_the_next_link(
    store: AuditStore, url: str
) -> None:
    """Recomputing the edited row's own hash is not enough: the next row names the old one."""
    ids = _filled(store, 3)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        query = sa.select(decisions).where(decisions.c.request_id == ids[1])
        row = dict(connection.execute(query).one()._mapping) | {"pd": 0.001}
        connection.execute(
            sa.update(decisions)
            .where(decisions.c.request_id == ids[1])
            .values(pd=0.001, row_hash=chain_hash(row, row["seq"], row["prev_hash"]))
        )
    engine.dispose()
    assert store.get(ids[1]).pd == 0.001  # the row alone passes its own check
    report = store.verify()
    assert report.first_bad == ids[2]
    assert "does not link to the row before it" in report.problem


def test_cli_lists_and_shows_an_edited_row_with_a_warning(
    store: AuditStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited input used to crash ``audit list --credit-code`` with a traceback."""
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    ids = _filled(store, 2)
    edited_input = INPUT | {"financials": [{"fiscal_year": 2023, "revenue": 99999.0}]}
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.update(decisions).where(decisions.c.request_id == ids[0]).values(input=edited_input)
        )
    engine.dispose()

    listing = _run_cli(["audit", "list", "--credit-code", INPUT["firm"]["credit_code"]])
    assert "2 decision(s), newest first" in listing
    assert "FAILS" in listing and listing.count(" ok ") + listing.count("ok\n") >= 1
    assert f"Warning / 警告: decision {ids[0]} fails its check" in listing
    assert "input does not match its hash" in listing

    shown = _run_cli(["audit", "show", ids[0]])
    assert '"revenue": 99999' in shown
    assert "fails its check" in shown
    assert "fails its check" not in _run_cli(["audit", "show", ids[1]])

    with pytest.raises(ChainBroken, match=f"broken at row 1 \\(request id {ids[0]}\\)"):
        _run_cli(["audit", "verify"])


def test_cli_verify_says_how_many_rows_match(
    store: AuditStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    _filled(store, 3)
    assert "Audit chain verified: 3 row(s)" in _run_cli(["audit", "verify"])


def test_concurrent_processes_keep_one_linear_chain(store: AuditStore, url: str) -> None:
    """Two writer processes (as two service workers), each with threads, one chain."""
    script = (
        "import sys; from concurrent.futures import ThreadPoolExecutor;"
        "from serving.audit import AuditStore; from tests.serving.audit_records import make_record;"
        "store = AuditStore(sys.argv[1]); print('ready', flush=True); sys.stdin.readline();"
        "list(ThreadPoolExecutor(8).map(store.record, [make_record() for _ in range(40)]))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, url],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    report = store.verify()
    assert report.ok and report.rows == 80


def test_concurrent_records_share_transactions(store: AuditStore) -> None:
    """Group commit: 40 threads released at once are committed in fewer transactions."""
    commits: list[int] = []
    sa.event.listen(store._engine, "commit", lambda _connection: commits.append(1))
    gate = Barrier(40)

    def record_at_once(_: int) -> None:
        gate.wait()
        store.record(make_record())

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(record_at_once, range(40)))
    assert len(store.list(limit=100)) == 40
    assert len(commits) < 40
    assert store.verify().ok


# --- idempotency -----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_decision_on_record(store: AuditStore) -> None:
    first = make_record(idempotency_key="loan-7781/attempt", response={"pd": 0.0321})
    retry = make_record(idempotency_key="loan-7781/attempt", response={"pd": 0.0321})
    assert store.record(first) == first
    on_record = store.record(retry)
    assert on_record.request_id == first.request_id
    assert on_record.response == {"pd": 0.0321}
    assert [r.request_id for r in store.list()] == [first.request_id]


def test_the_same_key_with_another_body_is_a_conflict(store: AuditStore) -> None:
    store.record(make_record(idempotency_key="k-1"))
    other = make_record(idempotency_key="k-1", input=INPUT | {"product": "xyd"})
    with pytest.raises(IdempotencyConflict) as caught:
        store.record(other)
    assert caught.value.field == "Idempotency-Key"
    assert caught.value.value == "k-1"
    assert "must not be reused with a different body" in caught.value.rule
    assert len(store.list()) == 1


def test_concurrent_retries_with_one_key_record_once(store: AuditStore) -> None:
    retries = [make_record(idempotency_key="same-key") for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(store.record, retries))
    assert len({a.request_id for a in answers}) == 1
    assert len(store.list()) == 1
    assert store.verify().ok


def test_an_invalid_key_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="idempotency_key must be 1 to 200 printable ASCII"):
        make_record(idempotency_key="has space")


# --- retention, migration, file mode ---------------------------------------------------------


def test_purge_removes_old_rows_and_the_rest_still_verifies(store: AuditStore) -> None:
    ids = _filled(store, 6)  # created 2024-07-01 .. 2024-07-06
    removed = store.purge(dt.datetime(2024, 7, 4, tzinfo=dt.UTC))
    assert removed == 3
    assert sorted(r.request_id for r in store.list()) == sorted(ids[3:])
    report = store.verify()
    assert report.ok and report.rows == 3
    assert store.purge(dt.datetime(2024, 7, 4, tzinfo=dt.UTC)) == 0
    store.record(make_record())
    assert store.verify().rows == 4


def test_migration_chains_rows_written_before_it(url: str) -> None:
    """A store at revision 0001 with rows gets them numbered and hashed, oldest first."""
    store = AuditStore(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001_decisions")
    old = [make_record(created_at=dt.datetime(2024, 1, day, tzinfo=dt.UTC)) for day in (3, 1, 2)]
    columns = [
        "request_id", "created_at", "credit_code", "product", "as_of", "model_name",
        "model_version", "pd", "score", "grade", "decision", "reasons", "input_sha256",
        "input", "channel",
    ]  # fmt: skip
    legacy = sa.Table("decisions", sa.MetaData(), *(decisions.c[c]._copy() for c in columns))
    with engine.begin() as connection:
        connection.execute(sa.insert(legacy), [{c: getattr(r, c) for c in columns} for r in old])
    engine.dispose()
    store.create_schema()
    assert [store.get(r.request_id).seq for r in old] == [3, 1, 2]
    assert store.verify().rows == 3
    store.record(make_record())
    assert store.verify().ok and store.verify().rows == 4
    store.close()


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    store.record(make_record())
    for name in ("audit.db", "audit.db-wal"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"
    store.close()


# --- encryption at rest ----------------------------------------------------------------------


def test_an_encrypted_input_is_not_in_clear_and_reads_back_with_the_key(url: str) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    store = AuditStore(url, key=key)
    store.create_schema()
    written = make_record()
    store.record(written)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT CAST(input AS TEXT) FROM decisions")).scalar()
    engine.dispose()
    assert INPUT["firm"]["name"] not in raw and '"fernet"' in raw
    assert store.get(written.request_id) == written
    assert store.verify().ok and store.verify().sealed == 0

    keyless = AuditStore(url, key="")
    assert keyless.verify().ok and keyless.verify().sealed == 1
    assert keyless.list_stored()[0].sealed and keyless.list_stored()[0].ok
    with pytest.raises(TamperedDecision, match="set TECHRISK_AUDIT_KEY"):
        keyless.get(written.request_id)
    other = AuditStore(url, key=Fernet.generate_key().decode())
    assert "cannot be decrypted" in other.inspect(written.request_id).problem
    for s in (store, keyless, other):
        s.close()


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    from techrisk_base.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="TECHRISK_AUDIT_KEY must be a Fernet key") as caught:
        AuditStore("sqlite:///:memory:", key="not-a-key-secret")
    assert "not-a-key-secret" not in str(caught.value)
