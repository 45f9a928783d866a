"""``techrisk audit list|show``: read the audit store from a terminal.

Wiring for ``techrisk/cli.py``: call :func:`add_audit_commands` with the top-level
subparsers, and :func:`run_audit` with the parsed arguments when ``args.command == "audit"``.
The store is the one named by ``TECHRISK_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import dataclasses

from rich.console import Console
from rich.table import Table

from serving.audit import AuditStore, DecisionRecord, canonical_json
from techrisk_base.arguments import positive_int
from techrisk_base.errors import TechriskError

_DECISION_STYLE = {"approve": "green", "review": "yellow", "decline": "red"}


class UnknownDecision(TechriskError):
    """No decision on record under the request id asked for."""


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit list`` and ``audit show`` under the ``techrisk`` command."""
    audit = subparsers.add_parser("audit", help="read the decisions on record in the audit store")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    listing = actions.add_parser("list", help="the newest decisions, newest first")
    listing.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    listing.add_argument("--credit-code", help="only this firm's decisions")
    show = actions.add_parser("show", help="one decision in full, with reasons and input")
    show.add_argument("request_id")


def run_audit(args: argparse.Namespace, console: Console | None = None) -> None:
    """Run the ``audit`` subcommand that ``args`` names; errors are ``TechriskError``s."""
    console = console or Console()
    store = AuditStore()
    try:
        if args.audit_command == "list":
            records = store.list(limit=args.limit, credit_code=args.credit_code)
            console.print(decisions_table(records))
        else:
            console.print_json(canonical_json(dataclasses.asdict(_one(store, args.request_id))))
    finally:
        store.close()


def decisions_table(records: list[DecisionRecord]) -> Table:
    """One line per decision, with the full request id to paste into ``audit show``."""
    table = Table(title=f"{len(records)} decision(s), newest first")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("request id", no_wrap=True)
    table.add_column("credit code", no_wrap=True)
    table.add_column("product")
    table.add_column("channel")
    table.add_column("model")
    for name in ("PD", "score", "grade"):
        table.add_column(name, justify="right")
    table.add_column("decision")
    for record in records:
        style = _DECISION_STYLE[record.decision]
        table.add_row(
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            record.request_id,
            record.credit_code,
            record.product,
            record.channel,
            f"{record.model_name} v{record.model_version}",
            f"{record.pd:.2%}",
            f"{record.score:.0f}",
            str(record.grade),
            f"[{style}]{record.decision}[/{style}]",
        )
    return table


def _one(store: AuditStore, request_id: str) -> DecisionRecord:
    record = store.get(request_id)
    if record is None:
        raise UnknownDecision(f"no decision on record with request id {request_id!r}")
    return record
