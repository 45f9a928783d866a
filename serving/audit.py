"""The audit store: every scoring decision is on record before the service returns it.

One table, ``decisions``, written through SQLAlchemy Core so the same code runs on the embedded
SQLite default and on PostgreSQL. The schema is owned by the Alembic migrations shipped in
``serving/migrations`` and applied by :meth:`AuditStore.create_schema`; the ``decisions`` table
below mirrors them for queries (a test proves the two agree).

A record keeps the canonical request input next to its SHA-256, so a decision can be re-scored
and the input proven unchanged. JSON columns are written with :func:`canonical_json`, so the
stored text of ``input`` is exactly the text that was hashed. With ``TECHRISK_AUDIT_KEY`` set,
the input is stored encrypted instead (Fernet, from ``cryptography``): names and financials
are then not in clear, and reading them back needs the key.

Every row is chained to the one before it (``seq``, ``prev_hash``, ``row_hash``; see
:func:`chain_hash`), so an edited, removed or inserted row is found by :meth:`AuditStore.verify`.
The chain lives in the same database: it shows that rows changed, not who may change them.

On a shared PostgreSQL database, keep the audit tables in their own schema by naming it in the
URL: ``postgresql+psycopg://…/db?options=-csearch_path%3Daudit``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import numbers
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import URL, Connection, Engine, make_url

from serving.audit_writer import DeadlinePassed, GroupWriter
from techrisk_base import settings
from techrisk_base.errors import InvalidArgument, TechriskError

DECISIONS = ("approve", "review", "decline")
CHANNELS = ("score", "score_batch", "screen")
CREDIT_CODE_LENGTH = 18
#: Alembic's bookkeeping table, named so it never meets MLflow's ``alembic_version`` when both
#: share one database.
VERSION_TABLE = "techrisk_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
#: How long ``create_schema`` and ``purge`` (not request paths) may wait for a lock.
SCHEMA_WAIT_S = 30.0
#: A batch of more rows than this waits one audit deadline per this many rows.
ROWS_PER_DEADLINE = 250
#: The least wait given to a transaction whose earliest deadline is (almost) past.
_MIN_WAIT_S = 0.05
IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}")
#: :data:`IDEMPOTENCY_KEY` in words, for the header's 422 and the record's own check.
IDEMPOTENCY_KEY_RULE = (
    f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces"
)
#: PostgreSQL advisory-lock key that serialises concurrent ``create_schema`` calls.
_SCHEMA_LOCK_KEY = 0x7465636872697300
#: Alembic keeps its migration context in module globals, so one thread migrates at a time.
_MIGRATING = threading.Lock()
#: Execution option that makes a SQLite transaction take the write lock at ``BEGIN``.
_WRITE = "techrisk_write"
#: Execution option: seconds this transaction may wait for locks (SQLite's busy timeout).
_WAIT = "techrisk_wait_s"
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
#: The one key of a stored input encrypted at rest: ``{"fernet": "<token>"}``.
_SEALED = "fernet"
#: Integral floats below this are written as integers (exact in a double).
_EXACT_INT = 2**53


class AuditUnavailable(TechriskError):
    """The audit store cannot be reached or refused a write; the service answers 503."""


# --- canonical input -------------------------------------------------------------------------


def canonical_json(payload: object) -> str:
    """One text per value, so equal inputs hash equal whatever their key order or origin.

    Keys sorted, no whitespace, UTF-8 text kept as is (not ``\\u`` escaped), dates and
    datetimes in ISO 8601, floats as Python's shortest round-trip repr, and integral floats
    as integers (``100.0`` → ``100``: JSON has one number type, so a client sending either
    sent the same input). NaN and infinity have no JSON form and raise ``ValueError``.
    """
    return _canonical(payload)[1]


def _canonical(payload: object) -> tuple[object, str]:
    """``payload`` as plain JSON types (keys in sorted order) and its canonical text.

    The plain value equals ``json.loads`` of the text, so a record keeps it without parsing
    its own text back (a request's input holds over a thousand values).
    """
    if isinstance(payload, _CanonicalDict | _CanonicalList) and payload.text is not None:
        return payload, payload.text
    plain = _plain(payload)
    return plain, _text(plain)


def canonical_object(plain: dict[str, Any]) -> dict[str, Any]:
    """``plain`` with its canonical text attached, taken by a record without another walk.

    For a value that is in canonical form already: only JSON types, whole floats written as
    integers (a request's ``model_dump(mode="json")``, whose numbers are serialised so). A
    test holds the request's dump to :func:`canonical_json`; anything else goes through it.
    """
    return _CanonicalDict(plain, _text(plain))


def _text(plain: object) -> str:
    """The canonical text of a plain value (keys already in order).

    ``orjson`` writes it about ten times faster than the standard library and byte for byte
    the same, except for numbers below 1e-4 in magnitude (``1e-05`` there is ``0.00001`` or
    ``1e-5``), integers beyond 64 bits and lone surrogates: text that may hold one of those is
    written again by the standard library, which defines the format.
    """
    try:
        fast = orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        fast = None
    if fast is not None and b"e-" not in fast and b"0.0000" not in fast:
        return fast.decode("utf-8")
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def input_sha256(payload: object) -> str:
    """Hex SHA-256 of the UTF-8 canonical JSON of ``payload``."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


class _CanonicalDict(dict):
    """A JSON object that remembers its canonical text, so it is serialised only once.

    A copy (``copy.deepcopy`` builds it empty, then fills it) has no text and is serialised
    afresh.
    """

    def __init__(self, value: Any = (), text: str | None = None) -> None:
        super().__init__(value)
        self.text = text


class _CanonicalList(list):
    """A JSON array that remembers its canonical text, so it is serialised only once."""

    def __init__(self, value: Any = (), text: str | None = None) -> None:
        super().__init__(value)
        self.text = text


class _NotCanonical(ValueError):
    """A value without a canonical JSON form; ``path`` is filled in on the way up."""

    def __init__(self, reason: str, value: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value
        self.path: list[str] = []

    def __str__(self) -> str:
        return f"${''.join(reversed(self.path))} {self.reason}; got {self.value!r}"


def _plain(value: object) -> object:
    """``value`` as plain JSON types, with the canonical number and date forms."""
    kind = type(value)  # exact-type fast path: a request holds thousands of plain values
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is _CanonicalDict or kind is _CanonicalList:
        return value  # plain already, keys in order (a record's reasons, input, response)
    if kind is float:
        return _plain_float(value)
    if kind is dict:
        return _plain_mapping(value)
    if kind is list:
        return _plain_list(value)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _plain_float(float(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return _plain_mapping(value)
    if isinstance(value, list | tuple):
        return _plain_list(value)
    raise _NotCanonical(f"is a {type(value).__name__}, which has no canonical JSON form", value)


def canonical_number(value: float) -> float | int:
    """A finite float as canonical JSON writes it: JSON has one number type, so a whole float
    is an integer (``100.0`` → ``100``) while a double holds it exactly."""
    return int(value) if value.is_integer() and abs(value) < _EXACT_INT else value


def _plain_float(value: float) -> float | int:
    if not math.isfinite(value):
        raise _NotCanonical("must be finite (JSON has no NaN or infinity)", value)
    return canonical_number(value)


def _plain_mapping(value: Mapping[Any, Any]) -> dict[str, object]:
    try:
        keys = sorted(value)
    except TypeError:  # keys of mixed types: the loop names the first that is not a string
        keys = list(value)
    plain = {}
    for key in keys:
        if not isinstance(key, str):
            raise _NotCanonical("has a key that is not a string", key)
        item = value[key]
        kind = type(item)  # the common leaves inline: a call per value costs more than they do
        if kind is str or kind is int or kind is bool or item is None:
            plain[key] = item
            continue
        try:
            plain[key] = _plain(item)
        except _NotCanonical as exc:
            exc.path.append(f".{key}")
            raise
    return plain


def _plain_list(value: list[Any] | tuple[Any, ...]) -> list[object]:
    plain = []
    for index, item in enumerate(value):
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            plain.append(item)
            continue
        try:
            plain.append(_plain(item))
        except _NotCanonical as exc:
            exc.path.append(f"[{index}]")
            raise
    return plain


# --- the record ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecisionRecord:
    """One scoring decision as returned to the user, with the input that produced it.

    ``request_id`` and ``created_at`` default to a fresh uuid4 hex and now (UTC);
    ``input_sha256`` defaults to the hash of ``input`` and, when given (as when read back),
    must match it, so a tampered input cannot pass as the original. ``reasons``, ``input``
    and ``response`` are held in their canonical JSON form and numbers as plain
    ``float``/``int``, so a record read back equals the one written on every backend.

    ``idempotency_key`` is the client's key for retries; ``response`` is then the answer as
    sent, returned again to a retry. ``seq``, ``prev_hash`` and ``row_hash`` place the row in
    the hash chain; the store fills them in when it writes, so they take no part in equality.
    """

    credit_code: str
    product: str
    as_of: dt.date
    model_name: str
    model_version: str
    pd: float
    score: float
    grade: int
    decision: str
    reasons: list[dict[str, Any]]
    input: dict[str, Any]
    channel: str
    request_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    created_at: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC))
    input_sha256: str = ""
    idempotency_key: str | None = None
    response: dict[str, Any] | None = None
    seq: int | None = dataclasses.field(default=None, compare=False)
    prev_hash: str = dataclasses.field(default="", compare=False)
    row_hash: str = dataclasses.field(default="", compare=False)

    def __post_init__(self) -> None:
        self._check_identifiers()
        self._check_outcome()
        plain_input, input_text = _canonical(self.input)
        digest = hashlib.sha256(input_text.encode("utf-8")).hexdigest()
        _require(
            self.input_sha256 in ("", digest),
            "input_sha256",
            f"must be the SHA-256 of the canonical input ({digest})",
            self.input_sha256,
        )
        plain_reasons, reasons_text = _canonical(self.reasons)
        normalised: dict[str, Any] = {
            "created_at": self.created_at.astimezone(dt.UTC),
            "pd": float(self.pd),
            "score": float(self.score),
            "grade": int(self.grade),
            "reasons": _CanonicalList(plain_reasons, reasons_text),
            "input": _CanonicalDict(plain_input, input_text),
            "input_sha256": digest,
        }
        if self.response is not None:
            plain_response, response_text = _canonical(self.response)
            normalised["response"] = _CanonicalDict(plain_response, response_text)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def _check_identifiers(self) -> None:
        """What the columns would enforce unevenly (SQLite ignores lengths), checked here."""
        _require(
            bool(_REQUEST_ID.fullmatch(self.request_id)),
            "request_id",
            "must be 32 lowercase hex characters (uuid4().hex)",
            self.request_id,
        )
        _require(
            len(self.credit_code) == CREDIT_CODE_LENGTH,
            "credit_code",
            f"must be {CREDIT_CODE_LENGTH} characters",
            self.credit_code,
        )
        _require(
            self.created_at.tzinfo is not None,
            "created_at",
            "must be timezone-aware",
            self.created_at,
        )
        _require(self.channel in CHANNELS, "channel", f"must be one of {CHANNELS}", self.channel)
        _require(
            self.idempotency_key is None or bool(IDEMPOTENCY_KEY.fullmatch(self.idempotency_key)),
            "idempotency_key",
            IDEMPOTENCY_KEY_RULE,
            self.idempotency_key,
        )

    def _check_outcome(self) -> None:
        _require(
            self.decision in DECISIONS, "decision", f"must be one of {DECISIONS}", self.decision
        )
        _require(0.0 <= self.pd <= 1.0, "pd", "must be a probability in [0, 1]", self.pd)
        _require(math.isfinite(self.score), "score", "must be finite", self.score)


def _require(ok: bool, field: str, rule: str, value: object) -> None:
    if not ok:
        raise ValueError(f"DecisionRecord.{field} {rule}; got {value!r}")


# --- the hash chain --------------------------------------------------------------------------

#: The ``prev_hash`` of the first row ever written.
GENESIS_HASH = "0" * 64
#: The columns a row's hash covers, besides its place (``seq``, ``prev_hash``). The input is
#: covered through ``input_sha256``, which the record checks against the stored input.
HASHED_FIELDS = (
    "request_id",
    "created_at",
    "credit_code",
    "product",
    "as_of",
    "model_name",
    "model_version",
    "pd",
    "score",
    "grade",
    "decision",
    "reasons",
    "input_sha256",
    "channel",
    "idempotency_key",
    "response",
)


def chain_hash(row: Mapping[str, Any], seq: int, prev_hash: str) -> str:
    """SHA-256 of a row's canonical content and its place in the chain.

    Changing this definition orphans every stored chain: it is part of the audit format.
    """
    content = {name: row[name] for name in HASHED_FIELDS}
    content["created_at"] = row["created_at"].astimezone(dt.UTC).isoformat()
    content["seq"] = seq
    content["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class StoredDecision:
    """A row as read from the store, with the verdict of its own checks.

    ``record`` is ``None`` when the row cannot be read back as a decision: its input no
    longer matches ``input_sha256`` (``problem`` says so), or it is encrypted and this store
    has no key (``sealed``; the row's hash is still checked). ``problem`` also says when the
    row's content no longer matches its hash. ``row`` holds the column values as stored, the
    input decrypted when the key is known.
    """

    row: dict[str, Any]
    record: DecisionRecord | None
    problem: str | None
    sealed: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_row(row: Mapping[str, Any], fernet: Fernet | None = None) -> StoredDecision:
    """Check one stored row on its own: its hash, and its input against ``input_sha256``."""
    values = dict(row)
    try:
        expected = chain_hash(values, values["seq"], values["prev_hash"])
    except (ValueError, TypeError, AttributeError) as exc:
        return StoredDecision(values, None, f"row cannot be hashed: {exc}")
    edited = "content does not match its row hash (edited after it was written)"
    problem = None if expected == values["row_hash"] else edited
    if _is_sealed(values["input"]):
        if fernet is None:
            return StoredDecision(values, None, problem, sealed=True)
        try:
            text = fernet.decrypt(values["input"][_SEALED].encode("ascii")).decode("utf-8")
            values["input"] = json.loads(text)
        except (InvalidToken, ValueError, UnicodeError):
            return StoredDecision(
                values,
                None,
                "input cannot be decrypted with TECHRISK_AUDIT_KEY (edited, or "
                "written under another key)",
            )
    try:
        record = DecisionRecord(**values)
    except ValueError as exc:
        return StoredDecision(values, None, f"input does not match its hash: {exc}")
    return StoredDecision(values, record, problem)


def _is_sealed(stored_input: object) -> bool:
    return isinstance(stored_input, dict) and list(stored_input) == [_SEALED]


@dataclasses.dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: rows checked, and the first row that breaks the chain."""

    rows: int
    first_bad: str | None = None
    seq: int | None = None
    problem: str | None = None
    #: Rows whose input is encrypted and was not checked, for want of the key.
    sealed: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


class TamperedDecision(TechriskError):
    """A stored decision fails its check; the message names the row and what fails."""


class IdempotencyConflict(TechriskError):
    """An idempotency key already names a decision on a different input."""

    def __init__(self, key: str, stored_request_id: str) -> None:
        self.field = "Idempotency-Key"
        self.value = key
        self.rule = (
            "must not be reused with a different body: it already names decision "
            f"{stored_request_id}"
        )
        super().__init__(f"{self.field} {self.rule}; got {key!r}")


# --- the tables ------------------------------------------------------------------------------


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out on every backend.

    PostgreSQL keeps the instant (``timestamptz``) but answers in the session's zone; SQLite
    keeps no zone at all. Storing UTC and re-attaching it on the way out makes both agree.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a timestamp must be timezone-aware; got {value!r}")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = sa.MetaData()

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("credit_code", sa.String(CREDIT_CODE_LENGTH), nullable=False),
    sa.Column("product", sa.String(), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("model_name", sa.String(), nullable=False),
    sa.Column("model_version", sa.String(), nullable=False),
    sa.Column("pd", sa.Double(), nullable=False),
    sa.Column("score", sa.Double(), nullable=False),
    sa.Column("grade", sa.Integer(), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("input_sha256", sa.String(64), nullable=False),
    sa.Column("input", sa.JSON(), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(IDEMPOTENCY_KEY_MAX), nullable=True),
    sa.Column("response", sa.JSON(), nullable=True),
    sa.CheckConstraint(
        "decision IN ('approve', 'review', 'decline')", name="ck_decisions_decision"
    ),
    sa.CheckConstraint(
        "channel IN ('score', 'score_batch', 'screen')", name="ck_decisions_channel"
    ),
    sa.Index("ix_decisions_credit_code_created_at", "credit_code", "created_at"),
    sa.Index("ix_decisions_created_at", "created_at"),
    sa.Index("ux_decisions_seq", "seq", unique=True),
    sa.Index("ux_decisions_idempotency_key", "idempotency_key", unique=True),
)

#: One row: the chain's head (the newest row's place and hash), locked by every writer so
#: concurrent writers keep one linear chain, and its anchor (the place and hash the oldest
#: kept row links to: genesis, or the last row removed by ``purge``).
decision_chain = sa.Table(
    "decision_chain",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("head_seq", sa.BigInteger(), nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
    sa.Column("anchor_hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_decision_chain_one_row"),
)

# --- monitoring: shadow scores and realised outcomes (migration 0002) -------------------------

#: The shadow model's answer to a decision's request, written after the champion's answer
#: left; never returned to the caller. ``techrisk monitor`` compares the two.
shadow_scores = sa.Table(
    "shadow_scores",
    metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("model_name", sa.String(), nullable=False),
    sa.Column("model_version", sa.String(), nullable=False),
    sa.Column("pd", sa.Double(), nullable=False),
    sa.Column("score", sa.Double(), nullable=False),
    sa.Column("grade", sa.Integer(), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Index("ix_shadow_scores_created_at", "created_at"),
)

#: Realised defaults by loan id, loaded by ``techrisk outcomes`` as loans mature.
outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("loan_id", sa.String(), primary_key=True),
    sa.Column("default_12m", sa.Boolean(), nullable=False),
    sa.Column("loaded_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(), nullable=False),
)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the shipped migrations, no ``alembic.ini`` needed.

    To author a revision: ``command.revision(alembic_config(conn), "message",
    autogenerate=True)`` with ``conn`` on a database at head.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# --- the store -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Write:
    """Records that commit together or not at all, with the caller's words for them."""

    records: tuple[DecisionRecord, ...]
    action: str
    deadline: float  # time.monotonic()


def _recording(decision: DecisionRecord) -> str:
    return f"could not record decision {decision.request_id}"


class AuditStore:
    """Writes and reads decisions; one instance is safe to share across threads.

    Writes go through one :class:`~serving.audit_writer.GroupWriter` per store and process,
    so concurrent requests share a transaction; every wait on the database (the pool, a lock,
    a statement, SQLite's busy handler) is bounded by ``deadline_s``. Database failures and
    missed deadlines surface as :class:`AuditUnavailable` naming the store (password hidden)
    and the reason; a decision refused that way is never committed afterwards.
    """

    def __init__(
        self, url: str | None = None, deadline_s: float | None = None, key: str | None = None
    ) -> None:
        self._url = make_url(url or settings.database_url())
        self.deadline_s = settings.audit_deadline_s() if deadline_s is None else deadline_s
        self._fernet = _fernet(key if key is not None else settings.audit_key())
        self._engine = _create_engine(self._url, self.deadline_s)
        self._writer: GroupWriter[_Write, list[DecisionRecord]] = GroupWriter(self._commit)

    @property
    def url(self) -> str:
        """The database URL with any password masked, fit for logs and messages."""
        return self._url.render_as_string(hide_password=True)

    def create_schema(self) -> None:
        """Migrate the database to the newest schema: the one documented create step.

        Idempotent, and safe when several processes start at once: the migration runs in one
        transaction holding a database-wide lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
        advisory lock), so a second process waits and then finds nothing left to do.
        """
        with self._unavailable("could not create the schema"):
            settings.ensure_local_store(self._url.render_as_string(hide_password=False))
            options = {_WRITE: True, _WAIT: SCHEMA_WAIT_S}
            with _MIGRATING, self._engine.execution_options(**options).begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                    )
                command.upgrade(alembic_config(connection), "head")

    def record(self, decision: DecisionRecord) -> DecisionRecord:
        """Commit one decision within the deadline, or raise :class:`AuditUnavailable`.

        Returns the decision on record: ``decision`` itself, or, when its idempotency key
        already names a decision on the same input, that earlier decision (nothing new is
        written). The same key on a different input raises :class:`IdempotencyConflict`.
        """
        return self._submit((decision,), _recording(decision))[0]

    async def record_async(self, decision: DecisionRecord) -> DecisionRecord:
        """:meth:`record` for a coroutine: its event loop serves other requests meanwhile."""
        write, timeout_s = self._write_of((decision,), _recording(decision))
        try:
            return (await self._writer.submit_async(write, timeout_s))[0]
        except DeadlinePassed as exc:
            raise self._never(write, exc) from exc

    def record_many(self, decisions: Iterable[DecisionRecord]) -> list[DecisionRecord]:
        """Commit a batch in one transaction: all of it is on record, or none of it."""
        batch = tuple(decisions)
        if not batch:
            return []
        return self._submit(
            batch, f"could not record {len(batch)} decisions (first {batch[0].request_id})"
        )

    def get(self, request_id: str) -> DecisionRecord | None:
        """The decision with this request id, or ``None``; :class:`TamperedDecision` if the
        stored row fails its check."""
        stored = self.inspect(request_id)
        return None if stored is None else _trusted(stored)

    def inspect(self, request_id: str) -> StoredDecision | None:
        """The row with this request id and the verdict of its check, or ``None``."""
        query = sa.select(decisions).where(decisions.c.request_id == request_id)
        with self._reading(f"could not read decision {request_id}") as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else check_row(row._mapping, self._fernet)

    def list(
        self, limit: int = 50, credit_code: str | None = None, since: dt.datetime | None = None
    ) -> list[DecisionRecord]:
        """The newest ``limit`` decisions, optionally for one firm or from ``since`` on;
        :class:`TamperedDecision` if one of them fails its check."""
        return [_trusted(stored) for stored in self.list_stored(limit, credit_code, since)]

    def list_stored(
        self, limit: int = 50, credit_code: str | None = None, since: dt.datetime | None = None
    ) -> list[StoredDecision]:
        """As :meth:`list`, each row with the verdict of its check instead of raising."""
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer; got {limit!r}")
        query = (
            sa.select(decisions)
            .order_by(decisions.c.created_at.desc(), decisions.c.request_id.desc())
            .limit(limit)
        )
        if credit_code is not None:
            query = query.where(decisions.c.credit_code == credit_code)
        if since is not None:
            query = query.where(decisions.c.created_at >= since)
        with self._reading("could not list decisions") as connection:
            rows = connection.execute(query).all()
        return [check_row(row._mapping, self._fernet) for row in rows]

    def verify(self, chunk: int = 1_000) -> ChainReport:
        """Walk the chain from its anchor to its head; name the first row that breaks it.

        A row breaks the chain when its content does not match its hash, its input does not
        match ``input_sha256``, it does not link to the row before it, rows are missing
        before it, or the head does not point at the last row (rows removed from the end).
        """
        checked = sealed = 0
        with self._reading("could not verify the chain") as connection:
            head = connection.execute(sa.select(decision_chain)).one()
            seq, prev = head.anchor_seq, head.anchor_hash
            while True:
                rows = connection.execute(
                    sa.select(decisions)
                    .where(decisions.c.seq > seq)
                    .order_by(decisions.c.seq)
                    .limit(chunk)
                ).all()
                for row in rows:
                    stored = check_row(row._mapping, self._fernet)
                    problem = _link_problem(row, seq, prev) or stored.problem
                    if problem is not None:
                        return ChainReport(checked, row.request_id, row.seq, problem, sealed)
                    checked += 1
                    sealed += stored.sealed
                    seq, prev = row.seq, row.row_hash
                if len(rows) < chunk:
                    break
        if (head.head_seq, head.head_hash) != (seq, prev):
            return ChainReport(
                checked,
                None,
                head.head_seq,
                f"the chain head names row {head.head_seq} but the last row is {seq}: rows "
                "were removed from the end",
                sealed,
            )
        return ChainReport(checked, sealed=sealed)

    def purge(self, older_than: dt.datetime) -> int:
        """Delete the oldest decisions created before ``older_than``; return how many.

        Only a prefix of the chain goes (up to the first row to keep), and the last removed
        row's place and hash become the anchor, so the rest still verifies.
        """
        if older_than.tzinfo is None:
            raise ValueError(f"older_than must be timezone-aware; got {older_than!r}")
        options = {_WRITE: True, _WAIT: SCHEMA_WAIT_S}
        with (
            self._unavailable("could not purge decisions"),
            self._engine.execution_options(**options).begin() as connection,
        ):
            head = connection.execute(_locked_head()).one()
            first_kept = connection.execute(
                sa.select(sa.func.min(decisions.c.seq)).where(decisions.c.created_at >= older_than)
            ).scalar_one()
            last = head.head_seq if first_kept is None else first_kept - 1
            if last <= head.anchor_seq:
                return 0
            anchor = connection.execute(
                sa.select(decisions.c.row_hash).where(decisions.c.seq == last)
            ).scalar_one()
            removed = connection.execute(sa.delete(decisions).where(decisions.c.seq <= last))
            connection.execute(
                sa.update(decision_chain).values(anchor_seq=last, anchor_hash=anchor)
            )
        return removed.rowcount

    def ping(self) -> bool:
        """True when a write could start now: the probe takes the write lock (SQLite) or the
        table's write lock (PostgreSQL) within the deadline, then rolls back."""
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{_WRITE: True, _WAIT: self.deadline_s})
                with connection.begin() as transaction:
                    _set_timeouts(connection, self.deadline_s)
                    if connection.dialect.name == "postgresql":
                        connection.execute(sa.text("LOCK TABLE decisions IN ROW EXCLUSIVE MODE"))
                    connection.execute(sa.select(decision_chain.c.head_seq)).one()
                    transaction.rollback()
        except (sa.exc.SQLAlchemyError, OSError):
            return False
        return True

    def close(self) -> None:
        """Stop the writer thread and close pooled connections (at shutdown, or before
        dropping a test database)."""
        self._writer.close()
        self._engine.dispose()

    # --- monitoring: shadow scores and outcomes ------------------------------------------

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A write transaction outside the decision chain, bounded by the deadline."""
        with self._engine.connect() as connection:
            connection.execution_options(**{_WRITE: True, _WAIT: self.deadline_s})
            with connection.begin():
                _set_timeouts(connection, self.deadline_s, self.deadline_s)
                yield connection

    def record_shadow(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Commit shadow scores (``shadow_scores`` columns), one transaction per call."""
        action = f"could not record {len(rows)} shadow scores"
        if rows:
            with self._unavailable(action), self._write_transaction() as connection:
                connection.execute(sa.insert(shadow_scores), list(rows))

    def record_outcomes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store realised outcomes by loan id; a loan loaded again takes its newest outcome."""
        ids = [r["loan_id"] for r in rows]
        action = f"could not record {len(rows)} outcomes"
        with self._unavailable(action), self._write_transaction() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                connection.execute(sa.delete(outcomes).where(outcomes.c.loan_id.in_(chunk)))
            if rows:
                connection.execute(sa.insert(outcomes), list(rows))

    def monitoring_rows(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """Every decision made in ``[since, until)`` with its shadow score (``shadow_*``,
        None when there is none) and input; outcomes are joined by the caller by loan id."""
        shadow = shadow_scores.alias("s")
        query = sa.select(
            *[decisions.c[c] for c in ("request_id", "created_at", "product", "as_of")],
            *[decisions.c[c] for c in ("model_version", "pd", "score", "grade", "decision")],
            decisions.c.input,
            shadow.c.model_version.label("shadow_model_version"),
            shadow.c.pd.label("shadow_pd"),
            shadow.c.score.label("shadow_score"),
            shadow.c.grade.label("shadow_grade"),
            shadow.c.decision.label("shadow_decision"),
        ).select_from(decisions.outerjoin(shadow, shadow.c.request_id == decisions.c.request_id))
        if since is not None:
            query = query.where(decisions.c.created_at >= since)
        if until is not None:
            query = query.where(decisions.c.created_at < until)
        with self._unavailable("could not read decisions"), self._engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def outcome_rows(self) -> dict[str, bool]:
        """Realised default (True) or not, by loan id."""
        query = sa.select(outcomes.c.loan_id, outcomes.c.default_12m)
        with self._unavailable("could not read outcomes"), self._engine.connect() as connection:
            return {row.loan_id: bool(row.default_12m) for row in connection.execute(query)}

    # -- writing --------------------------------------------------------------------------
    def _submit(self, batch: tuple[DecisionRecord, ...], action: str) -> list[DecisionRecord]:
        write, timeout_s = self._write_of(batch, action)
        try:
            return self._writer.submit(write, timeout_s)
        except DeadlinePassed as exc:
            raise self._never(write, exc) from exc

    def _write_of(self, batch: tuple[DecisionRecord, ...], action: str) -> tuple[_Write, float]:
        """The writer's item for ``batch`` and how long to wait for it.

        Writing rows takes time of its own: a large batch gets one deadline per
        ROWS_PER_DEADLINE rows, so a healthy store does not refuse it for its size.
        """
        timeout_s = self.deadline_s * max(1.0, len(batch) / ROWS_PER_DEADLINE)
        return _Write(batch, action, time.monotonic() + timeout_s), timeout_s

    def _never(self, write: _Write, exc: DeadlinePassed) -> AuditUnavailable:
        return AuditUnavailable(
            f"audit store {self.url} is unavailable: {write.action}: {exc}; it never will be"
        )

    def _commit(
        self, writes: Sequence[_Write], claim: Callable[[], None]
    ) -> list[tuple[list[DecisionRecord] | None, BaseException | None]]:
        """The group writer's transaction: chain, idempotency and duplicates, then insert."""
        now = time.monotonic()
        # Locks are waited for no longer than the most urgent request allows; statements may
        # run as long as the most patient one (a large batch's insert takes time).
        wait_s = max(min(w.deadline for w in writes) - now, _MIN_WAIT_S)
        run_s = max(max(w.deadline for w in writes) - now, _MIN_WAIT_S)
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{_WRITE: True, _WAIT: wait_s})
                with connection.begin():
                    _set_timeouts(connection, wait_s, run_s)
                    results, rows = self._plan(connection, writes)
                    if rows:
                        connection.execute(sa.insert(decisions), rows)
                        connection.execute(
                            sa.update(decision_chain).values(
                                head_seq=rows[-1]["seq"], head_hash=rows[-1]["row_hash"]
                            )
                        )
                    claim()
            return results
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            return [(None, self._refusal(w.action, exc)) for w in writes]

    def _plan(
        self, connection: Connection, writes: Sequence[_Write]
    ) -> tuple[list[tuple[list[DecisionRecord] | None, BaseException | None]], list[dict]]:
        """Each write's outcome and the chained rows to insert, under the chain-head lock."""
        head = connection.execute(_locked_head()).one()
        seq, prev = head.head_seq, head.head_hash
        records = [r for w in writes for r in w.records]
        keys = {r.idempotency_key for r in records if r.idempotency_key is not None}
        known = self._by_key(connection, keys)
        taken = set(
            connection.execute(
                sa.select(decisions.c.request_id).where(
                    decisions.c.request_id.in_({r.request_id for r in records})
                )
            ).scalars()
        )
        fields = [f.name for f in dataclasses.fields(DecisionRecord)]
        results: list[tuple[list[DecisionRecord] | None, BaseException | None]] = []
        rows: list[dict] = []
        for write in writes:
            outcome, error, fresh = _resolve(write, known, taken)
            if error is not None:
                results.append((None, self._refusal(write.action, error)))
                continue
            for record in fresh:
                seq += 1
                row = {name: getattr(record, name) for name in fields}  # shallow, no deepcopy
                row["input"] = self._sealed(record)
                row["seq"], row["prev_hash"] = seq, prev
                row["row_hash"] = prev = chain_hash(row, seq, prev)
                rows.append(row)
                taken.add(record.request_id)
                if record.idempotency_key is not None:
                    known[record.idempotency_key] = record
            results.append((outcome, None))
        return results, rows

    def _by_key(self, connection: Connection, keys: set[str]) -> dict[str, DecisionRecord]:
        if not keys:
            return {}
        query = sa.select(decisions).where(decisions.c.idempotency_key.in_(keys))
        known = {}
        for row in connection.execute(query):
            stored = check_row(row._mapping, self._fernet)
            known[row.idempotency_key] = _trusted(stored)
        return known

    def _sealed(self, record: DecisionRecord) -> object:
        """The input as stored: canonical JSON, or its Fernet token when a key is set."""
        if self._fernet is None:
            return record.input
        token = self._fernet.encrypt(canonical_json(record.input).encode("utf-8"))
        return {_SEALED: token.decode("ascii")}

    def _refusal(self, action: str, error: BaseException) -> BaseException:
        if isinstance(error, IdempotencyConflict):
            return error
        return AuditUnavailable(
            f"audit store {self.url} is unavailable: {action}: {_reason(error)}"
        )

    # -- reading --------------------------------------------------------------------------
    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        """A read transaction bounded by the deadline, failures as :class:`AuditUnavailable`."""
        with self._unavailable(action), self._engine.connect() as connection:
            connection.execution_options(**{_WAIT: self.deadline_s})
            with connection.begin():
                _set_timeouts(connection, self.deadline_s)
                yield connection

    @contextmanager
    def _unavailable(self, action: str) -> Iterator[None]:
        """Turn any database failure into :class:`AuditUnavailable` naming store and cause."""
        try:
            yield
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: {action}: {_reason(exc)}"
            ) from exc


def _trusted(stored: StoredDecision) -> DecisionRecord:
    if stored.sealed and stored.problem is None:
        raise TamperedDecision(
            f"decision {stored.row['request_id']} has an encrypted input: set "
            "TECHRISK_AUDIT_KEY to the key it was written with to read it"
        )
    if stored.record is None or stored.problem is not None:
        raise TamperedDecision(
            f"decision {stored.row['request_id']} fails its check: {stored.problem}"
        )
    return stored.record


def _fernet(key: str | None) -> Fernet | None:
    if not key:
        return None
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeError):
        raise InvalidArgument(
            "TECHRISK_AUDIT_KEY",
            "<hidden>",
            "must be a Fernet key (32 url-safe base64-encoded bytes, e.g. from "
            "cryptography.fernet.Fernet.generate_key())",
        ) from None


def _locked_head() -> sa.Select:
    """The chain head, locked until the transaction ends (SQLite: its write lock does it)."""
    return sa.select(decision_chain).where(decision_chain.c.id == 1).with_for_update()


def _link_problem(row: sa.Row, seq: int, prev: str) -> str | None:
    if row.seq != seq + 1:
        return f"rows {seq + 1} to {row.seq - 1} are missing before it"
    if row.prev_hash != prev:
        return "does not link to the row before it (prev_hash differs from that row's hash)"
    return None


def _resolve(
    write: _Write, known: Mapping[str, DecisionRecord], taken: set[str]
) -> tuple[list[DecisionRecord] | None, BaseException | None, list[DecisionRecord]]:
    """(decisions on record, error, records to insert) for one write."""
    outcome: list[DecisionRecord] = []
    fresh: list[DecisionRecord] = []
    for record in write.records:
        earlier = known.get(record.idempotency_key) if record.idempotency_key else None
        if earlier is not None:
            if earlier.input_sha256 != record.input_sha256:
                return None, IdempotencyConflict(record.idempotency_key, earlier.request_id), []
            outcome.append(earlier)
            continue
        if record.request_id in taken or any(r.request_id == record.request_id for r in fresh):
            return None, ValueError(f"request id {record.request_id} is already on record"), []
        outcome.append(record)
        fresh.append(record)
    return outcome, None, fresh


def _set_timeouts(connection: Connection, wait_s: float, run_s: float | None = None) -> None:
    """PostgreSQL: bound lock waits (``wait_s``) and statements (``run_s``, default the same)
    for this transaction only. SQLite's busy timeout is set as the transaction begins."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text(
                "SELECT set_config('lock_timeout', :lock, true), "
                "set_config('statement_timeout', :statement, true)"
            ),
            {"lock": _ms(wait_s), "statement": _ms(wait_s if run_s is None else run_s)},
        )


def _ms(seconds: float) -> str:
    return f"{max(1, int(seconds * 1000))}ms"


def _reason(exc: BaseException) -> str:
    """The driver's own words on one line (psycopg spreads them over several)."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {'; '.join(lines)}"


def _create_engine(url: URL, deadline_s: float) -> Engine:
    """A pooled engine writing canonical JSON, whose waits are bounded by ``deadline_s``."""
    options: dict[str, Any] = {"pool_timeout": deadline_s, "json_serializer": canonical_json}
    backend = url.get_backend_name()
    if backend == "sqlite":
        # A file has no server that could drop a pooled connection: no ping before each use.
        engine = sa.create_engine(url, connect_args={"timeout": deadline_s}, **options)
        _take_sqlite_transactions(engine, url.database, deadline_s)
        return engine
    if backend == "postgresql" and "connect_timeout" not in url.query:
        # libpq counts whole seconds and treats anything below 2 as 2.
        options["connect_args"] = {"connect_timeout": max(2, math.ceil(deadline_s))}
    return sa.create_engine(url, pool_pre_ping=True, **options)


def _take_sqlite_transactions(engine: Engine, database: str | None, deadline_s: float) -> None:
    """WAL, a private file, and transactions begun by us rather than by the driver.

    WAL lets readers run beside the one writer. Python's ``sqlite3`` would run DDL outside
    any transaction and begin DML lazily; emitting ``BEGIN`` ourselves makes the schema
    migration atomic, and ``BEGIN IMMEDIATE`` on writes takes the write lock up front, asked
    for until the transaction's remaining deadline has passed.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        _set_wal(dbapi_connection)
        if database and database != ":memory:":
            _make_private(Path(database))

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        wait_s = options.get(_WAIT, deadline_s)
        if not options.get(_WRITE):
            _busy_timeout(connection, wait_s)
            connection.exec_driver_sql("BEGIN")
            return
        # The write lock is polled for instead: SQLite's busy handler sleeps in steps of up
        # to 100 ms while another process holds it, and two workers' writers took turns with
        # a p90 wait of 21 ms (p50 0.2) under 8 clients; once held, a WAL transaction has
        # nothing else to wait for.
        _busy_timeout(connection, 0)
        _begin_immediate(connection, wait_s)


#: How often a writer asks again for SQLite's write lock held by another process.
_LOCK_POLL_S = 0.0005


def _busy_timeout(connection: Connection, wait_s: float) -> None:
    """Set SQLite's busy timeout to ``wait_s`` (in whole tenths of a second below it, never
    above, so consecutive transactions usually share one setting and skip the statement)."""
    wait_ms = max(0, int(wait_s * 1000))
    wait_ms = wait_ms - wait_ms % 100 if wait_ms >= 100 else wait_ms
    info = connection.connection.info  # the pooled connection's: outlives this checkout
    if info.get(_WAIT) != wait_ms:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
        info[_WAIT] = wait_ms


def _begin_immediate(connection: Connection, wait_s: float) -> None:
    """``BEGIN IMMEDIATE``, asked again every :data:`_LOCK_POLL_S` while another connection
    holds the write lock, for at most ``wait_s``; then its 'database is locked' propagates."""
    give_up = time.monotonic() + wait_s
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except sa.exc.OperationalError as exc:
            # Any SQLITE_BUSY: plain, or extended (BUSY_RECOVERY while another process
            # recovers the WAL of a database just opened, BUSY_SNAPSHOT, BUSY_TIMEOUT).
            code = getattr(exc.orig, "sqlite_errorcode", None)
            busy = code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= give_up:
                raise
        time.sleep(_LOCK_POLL_S)


def _make_private(database: Path) -> None:
    """Owner-only permissions on the database and its WAL files: they hold firms' records."""
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except (FileNotFoundError, PermissionError):
            continue


def _set_wal(dbapi_connection: Any, attempts: int = 50, pause_s: float = 0.1) -> None:
    """Switch to WAL, retrying: SQLite answers 'database is locked' at once (without its
    busy handler) when several processes switch a new database file at the same moment."""
    for attempt in range(attempts):
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(pause_s)
