"""Audit records and databases for the audit-store tests: one fresh database per backend."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from benchmarks.load import pg_schema
from serving.audit import DecisionRecord

PG_URL = os.environ.get("TECHRISK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[2]
CREDIT_CODE = "91310115MA1K3YJ12X"
OTHER_CODE = "91310104MA1FR8QX5E"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
REASONS = [
    {
        "code": "ip_portfolio",
        "zh": "发明专利授权数量多",
        "en": "Many granted inventions",
        "points": 38.5,
    },
    {"code": "credit_record", "zh": "近24个月有逾期", "en": "Overdue in 24 months", "points": -21},
]
INPUT = {
    "firm": {
        "credit_code": CREDIT_CODE,
        "name": "上海某某科技有限公司",
        "founded_on": "2016-03-01",
    },
    "financials": [{"fiscal_year": 2023, "revenue": 1250.5, "rd_expense": 180.0}],
    "product": "tdld",
    "applied_on": "2024-06-30",
}


def make_record(**overrides: object) -> DecisionRecord:
    fields: dict[str, object] = {
        "credit_code": CREDIT_CODE,
        "product": "tdld",
        "as_of": dt.date(2024, 6, 30),
        "model_name": "techrisk-pd",
        "model_version": "7",
        "pd": 0.0321,
        "score": 642.7,
        "grade": 4,
        "decision": "approve",
        "reasons": REASONS,
        "input": INPUT,
        "channel": "score",
    }
    return DecisionRecord(**(fields | overrides))


def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a new schema of the tests' database, dropped afterwards."""
    with pg_schema(PG_URL, prefix="techrisk_audit_test") as url:
        yield url


@contextmanager
def held_write_lock(url: str) -> Iterator[None]:
    """Another client holding the lock every audit write needs, until the block ends.

    SQLite: a writer inside ``BEGIN IMMEDIATE``. PostgreSQL: ``LOCK TABLE decisions IN ACCESS
    EXCLUSIVE MODE`` in an open transaction. Both are real locks in the real database.
    """
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(sa.text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()
