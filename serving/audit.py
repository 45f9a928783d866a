"""The audit store: every scoring decision is on record before the service returns it.

One table, ``decisions``, written through SQLAlchemy Core so the same code runs on the embedded
SQLite default and on PostgreSQL. The schema is owned by the Alembic migrations shipped in
``serving/migrations`` and applied by :meth:`AuditStore.create_schema`; the ``decisions`` table
below mirrors them for queries (a test proves the two agree).

A record keeps the canonical request input next to its SHA-256, so a decision can be re-scored
and the input proven unchanged. JSON columns are written with :func:`canonical_json`, so the
stored text of ``input`` is exactly the text that was hashed.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Connection, Engine, make_url

from techrisk_base import settings
from techrisk_base.errors import TechriskError

DECISIONS = ("approve", "review", "decline")
CHANNELS = ("score", "score_batch", "screen")
CREDIT_CODE_LENGTH = 18
#: Alembic's bookkeeping table, named so it never meets MLflow's ``alembic_version`` when both
#: share one database.
VERSION_TABLE = "techrisk_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
#: How long a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: How long to wait for a PostgreSQL server before answering 503, unless the URL says otherwise.
PG_CONNECT_TIMEOUT_S = 5
#: PostgreSQL advisory-lock key that serialises concurrent ``create_schema`` calls.
_SCHEMA_LOCK_KEY = 0x7465636872697300
#: Alembic keeps its migration context in module globals, so one thread migrates at a time.
_MIGRATING = threading.Lock()
#: Execution option that makes a SQLite transaction take the write lock at ``BEGIN``.
_WRITE = "techrisk_write"
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
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
    return json.dumps(
        _plain(payload),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
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


def _serialize(value: object) -> str:
    """The engine's JSON serializer: reuse a record's canonical text when it has one."""
    if isinstance(value, _CanonicalDict | _CanonicalList) and value.text is not None:
        return value.text
    return canonical_json(value)


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


def _plain_float(value: float) -> float | int:
    if not math.isfinite(value):
        raise _NotCanonical("must be finite (JSON has no NaN or infinity)", value)
    return int(value) if value.is_integer() and abs(value) < _EXACT_INT else value


def _plain_mapping(value: Mapping[Any, Any]) -> dict[str, object]:
    plain = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _NotCanonical("has a key that is not a string", key)
        try:
            plain[key] = _plain(item)
        except _NotCanonical as exc:
            exc.path.append(f".{key}")
            raise
    return plain


def _plain_list(value: list[Any] | tuple[Any, ...]) -> list[object]:
    plain = []
    for index, item in enumerate(value):
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
    must match it, so a tampered input cannot pass as the original. ``reasons`` and ``input``
    are held in their canonical JSON form and numbers as plain ``float``/``int``, so a record
    read back equals the one written on every backend.
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

    def __post_init__(self) -> None:
        self._check_identifiers()
        self._check_outcome()
        input_text = canonical_json(self.input)
        digest = hashlib.sha256(input_text.encode("utf-8")).hexdigest()
        _require(
            self.input_sha256 in ("", digest),
            "input_sha256",
            f"must be the SHA-256 of the canonical input ({digest})",
            self.input_sha256,
        )
        reasons_text = canonical_json(self.reasons)
        normalised = {
            "created_at": self.created_at.astimezone(dt.UTC),
            "pd": float(self.pd),
            "score": float(self.score),
            "grade": int(self.grade),
            "reasons": _CanonicalList(json.loads(reasons_text), reasons_text),
            "input": _CanonicalDict(json.loads(input_text), input_text),
            "input_sha256": digest,
        }
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

    def _check_outcome(self) -> None:
        _require(
            self.decision in DECISIONS, "decision", f"must be one of {DECISIONS}", self.decision
        )
        _require(0.0 <= self.pd <= 1.0, "pd", "must be a probability in [0, 1]", self.pd)
        _require(math.isfinite(self.score), "score", "must be finite", self.score)


def _require(ok: bool, field: str, rule: str, value: object) -> None:
    if not ok:
        raise ValueError(f"DecisionRecord.{field} {rule}; got {value!r}")


# --- the table -------------------------------------------------------------------------------


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
    sa.CheckConstraint(
        "decision IN ('approve', 'review', 'decline')", name="ck_decisions_decision"
    ),
    sa.CheckConstraint(
        "channel IN ('score', 'score_batch', 'screen')", name="ck_decisions_channel"
    ),
    sa.Index("ix_decisions_credit_code_created_at", "credit_code", "created_at"),
    sa.Index("ix_decisions_created_at", "created_at"),
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


class AuditStore:
    """Writes and reads decisions; one instance is safe to share across threads.

    Every method opens its own connection from the engine's pool and holds no other state,
    which is what makes sharing safe. Database failures surface as :class:`AuditUnavailable`
    naming the store (password hidden) and the driver's reason.
    """

    def __init__(self, url: str | None = None) -> None:
        self._url = make_url(url or settings.database_url())
        self._engine = _create_engine(self._url)
        self._writer = self._engine.execution_options(**{_WRITE: True})

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
            with _MIGRATING, self._writer.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                    )
                command.upgrade(alembic_config(connection), "head")

    def record(self, decision: DecisionRecord) -> None:
        """Commit one decision; raise :class:`AuditUnavailable` unless it is durably stored."""
        self._insert([decision], f"could not record decision {decision.request_id}")

    def record_many(self, decisions: Iterable[DecisionRecord]) -> None:
        """Commit a batch in one transaction: all of it is on record, or none of it."""
        batch = list(decisions)
        if batch:
            self._insert(
                batch, f"could not record {len(batch)} decisions (first {batch[0].request_id})"
            )

    def get(self, request_id: str) -> DecisionRecord | None:
        """The decision with this request id, or ``None`` if there is none."""
        query = sa.select(decisions).where(decisions.c.request_id == request_id)
        action = f"could not read decision {request_id}"
        with self._unavailable(action), self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else DecisionRecord(**row._mapping)

    def list(
        self, limit: int = 50, credit_code: str | None = None, since: dt.datetime | None = None
    ) -> list[DecisionRecord]:
        """The newest ``limit`` decisions, optionally for one firm or from ``since`` on."""
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
        with self._unavailable("could not list decisions"), self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [DecisionRecord(**row._mapping) for row in rows]

    def ping(self) -> bool:
        """True when the database answers and holds the decisions table, i.e. writes can work."""
        query = sa.select(sa.literal(1)).select_from(decisions).limit(1)
        try:
            with self._engine.connect() as connection:
                connection.execute(query)
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        """Close pooled connections (at shutdown, or before dropping a test database)."""
        self._engine.dispose()

    # --- monitoring: shadow scores and outcomes ------------------------------------------

    def record_shadow(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Commit shadow scores (``shadow_scores`` columns), one transaction per call."""
        action = f"could not record {len(rows)} shadow scores"
        if rows:
            with self._unavailable(action), self._writer.begin() as connection:
                connection.execute(sa.insert(shadow_scores), list(rows))

    def record_outcomes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store realised outcomes by loan id; a loan loaded again takes its newest outcome."""
        ids = [r["loan_id"] for r in rows]
        action = f"could not record {len(rows)} outcomes"
        with self._unavailable(action), self._writer.begin() as connection:
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

    def _insert(self, batch: Sequence[DecisionRecord], action: str) -> None:
        # Shallow: dataclasses.asdict would deep-copy every request's input.
        fields = [f.name for f in dataclasses.fields(DecisionRecord)]
        rows = [{name: getattr(decision, name) for name in fields} for decision in batch]
        with self._unavailable(action), self._writer.begin() as connection:
            connection.execute(sa.insert(decisions), rows)

    @contextmanager
    def _unavailable(self, action: str) -> Iterator[None]:
        """Turn any database failure into :class:`AuditUnavailable` naming store and cause."""
        try:
            yield
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: {action}: {_reason(exc)}"
            ) from exc


def _reason(exc: BaseException) -> str:
    """The driver's own words on one line (psycopg spreads them over several)."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {'; '.join(lines)}"


def _create_engine(url: URL) -> Engine:
    """A pooled engine writing canonical JSON; SQLite tuned for concurrent writers."""
    options: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": _serialize}
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **options)
        _take_sqlite_transactions(engine)
        return engine
    if backend == "postgresql" and "connect_timeout" not in url.query:
        options["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return sa.create_engine(url, **options)


def _take_sqlite_transactions(engine: Engine) -> None:
    """WAL, and transactions begun by us rather than by the driver.

    WAL lets readers run beside the one writer. Python's ``sqlite3`` would run DDL outside
    any transaction and begin DML lazily; emitting ``BEGIN`` ourselves makes the schema
    migration atomic, and ``BEGIN IMMEDIATE`` on writes takes the write lock up front, where
    the busy timeout makes concurrent writers wait instead of failing.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        _set_wal(dbapi_connection)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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
