"""The audit store on SQLite and PostgreSQL: what is written is what is read, every time."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from serving.audit import (
    VERSION_TABLE,
    AuditStore,
    AuditUnavailable,
    _plain,
    canonical_json,
    canonical_object,
    input_sha256,
    metadata,
)
from serving.audit_cli import UnknownDecision, add_audit_commands, run_audit
from serving.schemas import ScoreRequest
from techrisk_base.settings import database_url
from tests.serving.audit_records import (
    CREDIT_CODE,
    INPUT,
    OTHER_CODE,
    REPO,
    SHANGHAI,
    make_record,
)

# --- canonical input (backend-free) ----------------------------------------------------------


def test_canonical_json_is_stable_under_key_order() -> None:
    reordered = {
        "applied_on": "2024-06-30",
        "product": "tdld",
        "financials": [{"rd_expense": 180.0, "revenue": 1250.5, "fiscal_year": 2023}],
        "firm": dict(reversed(list(INPUT["firm"].items()))),
    }
    assert canonical_json(reordered) == canonical_json(INPUT)
    assert input_sha256(reordered) == input_sha256(INPUT)


def test_canonical_json_form() -> None:
    text = canonical_json({"b": 1.0, "a": [0.1, dt.date(2024, 1, 2)], "名": "科技", "c": -0.0})
    assert text == '{"a":[0.1,"2024-01-02"],"b":1,"c":0,"名":"科技"}'
    assert input_sha256({"x": 1}) == hashlib.sha256(b'{"x":1}').hexdigest()


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-05, -3.8812e-05, 6.87e-06, 0.0001, 1e16, 1.27e16, 5e-324])
    | st.text()
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES)
def test_canonical_text_is_the_standard_librarys(value: object) -> None:
    """The fast writer (orjson) must give the format's own bytes, which the standard library
    defines: stored hashes are of this text."""
    try:
        reference = json.dumps(
            _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except ValueError:
        return  # no canonical form (e.g. a key that is not a string): covered below
    assert canonical_json(value) == reference


def test_a_requests_json_dump_is_canonical_already(sample_requests) -> None:
    """The scorer hands the request's dump to the record without the canonical walk
    (``canonical_object``): its numbers must already be in canonical form, whole floats as
    integers, tiny and large ones as the standard library writes them."""
    bodies = [*sample_requests[:40], _with_amounts(sample_requests[0])]
    for body in bodies:
        dumped = ScoreRequest.model_validate(body).model_dump(mode="json")
        assert canonical_object(dumped).text == canonical_json(dumped)
        assert canonical_object(dumped) == json.loads(canonical_json(dumped))


def _with_amounts(body: dict) -> dict:
    """``body`` whose first financial year holds whole, tiny and fractional amounts."""
    year = body["financials"][0] | {"revenue": 1.0e6, "rd_expense": 3.8812e-05}
    return body | {"financials": [year, *body["financials"][1:]]}


def test_a_record_holds_its_canonical_text_parsed_back() -> None:
    """The record keeps the plain value it serialised instead of parsing its text again: the
    value must be what parsing would give, keys in the same (sorted) order, at every depth."""
    raw = {"z": 2.0, "firm": {"b": 1.0, "a": [{"y": 0.5, "x": dt.date(2024, 1, 2)}]}}
    record = make_record(input=raw, response={"pd": 1.0, "b": [3.0]}, idempotency_key="k-1")
    for value in (record.input, record.reasons, record.response):
        parsed = json.loads(value.text)
        assert value == parsed
        assert json.dumps(value, ensure_ascii=False) == json.dumps(parsed, ensure_ascii=False)
    assert list(record.input) == ["firm", "z"] and list(record.input["firm"]) == ["a", "b"]


def test_hash_changes_when_a_value_changes() -> None:
    changed = INPUT | {"financials": [{"fiscal_year": 2023, "revenue": 1250.6, "rd_expense": 180}]}
    assert input_sha256(changed) != input_sha256(INPUT)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"f": [{"revenue": float("nan")}]}, "$.f[0].revenue must be finite"),
        ({"when": {1, 2}}, "$.when is a set"),
        ({1: "x"}, "$ has a key that is not a string"),
    ],
)
def test_canonical_json_names_what_it_cannot_represent(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$").replace("[", r"\[")):
        canonical_json(payload)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"decision": "maybe"}, "decision must be one of"),
        ({"channel": "web"}, "channel must be one of"),
        ({"request_id": "REQ-1"}, "request_id must be 32 lowercase hex"),
        ({"credit_code": "913101"}, "credit_code must be 18 characters"),
        ({"created_at": dt.datetime(2024, 1, 1)}, "created_at must be timezone-aware"),
        ({"pd": 1.5}, r"pd must be a probability"),
        ({"input_sha256": "0" * 64}, "input_sha256 must be the SHA-256"),
    ],
)
def test_a_record_refuses_what_the_table_would_store_unevenly(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_record(**overrides)


def test_database_url_default_creates_var_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TECHRISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("TECHRISK_VAR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == "sqlite:///var/techrisk.db"
    store = AuditStore()
    store.create_schema()
    store.close()
    assert (tmp_path / "var" / "techrisk.db").is_file()


# --- the store on each backend ---------------------------------------------------------------


def test_round_trip_keeps_every_field(store: AuditStore) -> None:
    made_at = dt.datetime(2024, 7, 1, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    written = make_record(created_at=made_at)
    store.record(written)
    read = store.get(written.request_id)
    assert read == written
    assert read.created_at == made_at
    assert read.created_at.tzinfo == dt.UTC
    assert read.reasons[0]["zh"] == "发明专利授权数量多"
    assert read.input_sha256 == input_sha256(INPUT)
    assert store.get(uuid.uuid4().hex) is None


def test_stored_input_text_is_the_hashed_text(store: AuditStore, url: str) -> None:
    """An auditor can verify a row with SQL alone: sha256(input text) = input_sha256."""
    written = make_record()
    store.record(written)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        text, digest = connection.execute(
            sa.text("SELECT CAST(input AS TEXT), input_sha256 FROM decisions")
        ).one()
    engine.dispose()
    assert text == canonical_json(INPUT)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == digest


def test_list_is_newest_first_and_filters(store: AuditStore) -> None:
    start = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    records = [
        make_record(
            created_at=start + dt.timedelta(minutes=i),
            credit_code=CREDIT_CODE if i % 2 == 0 else OTHER_CODE,
        )
        for i in range(6)
    ]
    store.record_many(reversed(records))
    newest_first = [r.request_id for r in reversed(records)]
    assert [r.request_id for r in store.list()] == newest_first
    assert [r.request_id for r in store.list(limit=2)] == newest_first[:2]
    firm = store.list(credit_code=OTHER_CODE)
    assert [r.request_id for r in firm] == [records[i].request_id for i in (5, 3, 1)]
    recent = store.list(since=start + dt.timedelta(minutes=4))
    assert [r.request_id for r in recent] == newest_first[:2]
    with pytest.raises(ValueError, match="limit must be a positive integer; got 0"):
        store.list(limit=0)


def test_create_schema_twice_is_harmless(store: AuditStore) -> None:
    store.record(make_record())
    store.create_schema()
    assert len(store.list()) == 1
    assert store.ping()


def test_migrated_schema_matches_the_table_definition(store: AuditStore, url: str) -> None:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        differences = compare_metadata(context, metadata)
        version = connection.execute(sa.text(f"SELECT * FROM {VERSION_TABLE}")).all()
    engine.dispose()
    assert differences == []
    assert len(version) == 1


@pytest.mark.slow
def test_create_schema_is_safe_when_processes_start_together(url: str) -> None:
    """Processes wait, already imported, for one signal, then all migrate at once."""
    script = (
        "import sys; from serving.audit import AuditStore; store = AuditStore(sys.argv[1]); "
        "print('ready', flush=True); sys.stdin.readline(); store.create_schema()"
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
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    store = AuditStore(url)
    store.record(make_record())
    assert len(store.list()) == 1
    store.close()


def test_fifty_parallel_records_are_fifty_rows(store: AuditStore) -> None:
    records = [make_record(channel="score_batch") for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(store.record, records))
    stored = store.list(limit=100)
    assert sorted(r.request_id for r in stored) == sorted(r.request_id for r in records)


def test_a_failing_batch_records_nothing(store: AuditStore) -> None:
    first, second = make_record(), make_record()
    with pytest.raises(AuditUnavailable, match="could not record 3 decisions"):
        store.record_many([first, second, first])
    assert store.list() == []
    store.record(second)
    with pytest.raises(AuditUnavailable, match=f"could not record decision {second.request_id}"):
        store.record(second)


@pytest.mark.parametrize(
    "down_url",
    [
        "sqlite:////proc/techrisk-no-such-dir/audit.db",
        pytest.param(
            "postgresql+psycopg://auditor:s3cret@127.0.0.1:1/test", marks=pytest.mark.postgres
        ),
    ],
)
def test_an_unreachable_store_raises_audit_unavailable(down_url: str) -> None:
    store = AuditStore(down_url)
    record = make_record()
    with pytest.raises(AuditUnavailable) as caught:
        store.record(record)
    message = str(caught.value)
    assert message.startswith(f"audit store {store.url} is unavailable: ")
    assert f"could not record decision {record.request_id}" in message
    assert "s3cret" not in message
    assert ("unable to open database file" in message) or ("Connection refused" in message)
    with pytest.raises(AuditUnavailable, match="could not create the schema"):
        store.create_schema()
    assert not store.ping()
    store.close()


def test_a_relative_path_in_a_read_only_place_raises_audit_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir("/proc")
    store = AuditStore("sqlite:///var/techrisk.db")
    with pytest.raises(AuditUnavailable, match=r"could not create the schema: \w+Error: "):
        store.create_schema()


def test_ping_wants_the_schema(url: str) -> None:
    store = AuditStore(url)
    assert not store.ping()
    store.create_schema()
    assert store.ping()
    store.close()


# --- the CLI ---------------------------------------------------------------------------------


def _run_cli(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="techrisk")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    console = Console(record=True, width=200, color_system=None)
    run_audit(parser.parse_args(argv), console=console)
    return console.export_text()


def test_cli_lists_and_shows_decisions(
    store: AuditStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    approve = make_record(created_at=dt.datetime(2024, 7, 1, 8, tzinfo=dt.UTC))
    decline = make_record(
        created_at=dt.datetime(2024, 7, 2, 8, tzinfo=dt.UTC),
        credit_code=OTHER_CODE,
        decision="decline",
        pd=0.41,
    )
    store.record_many([approve, decline])

    listing = _run_cli(["audit", "list"])
    assert "2 decision(s), newest first" in listing
    assert listing.index(decline.request_id) < listing.index(approve.request_id)
    assert "2024-07-02 08:00:00" in listing
    assert "41.00%" in listing
    assert "techrisk-pd v7" in listing

    one_firm = _run_cli(["audit", "list", "--limit", "5", "--credit-code", CREDIT_CODE])
    assert approve.request_id in one_firm
    assert decline.request_id not in one_firm

    shown = _run_cli(["audit", "show", approve.request_id])
    assert f'"request_id": "{approve.request_id}"' in shown
    assert '"zh": "发明专利授权数量多"' in shown
    assert f'"input_sha256": "{input_sha256(INPUT)}"' in shown
    assert '"name": "上海某某科技有限公司"' in shown

    with pytest.raises(UnknownDecision, match="no decision on record"):
        _run_cli(["audit", "show", uuid.uuid4().hex])
