"""``techrisk audit list|show|verify|purge``: read and check the audit store from a terminal.

Wiring for ``techrisk/cli.py``: call :func:`add_audit_commands` with the top-level
subparsers, and :func:`run_audit` with the parsed arguments when ``args.command == "audit"``.
The store is the one named by ``TECHRISK_DATABASE_URL``. A row that fails its check is shown
with a warning, never hidden and never a crash: an auditor must see what was altered.
"""

from __future__ import annotations

import argparse
import datetime as dt

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from serving.audit import AuditStore, StoredDecision, canonical_json
from techrisk_base.arguments import positive_int
from techrisk_base.errors import TechriskError

_DECISION_STYLE = {"approve": "green", "review": "yellow", "decline": "red"}
#: The CLI reads whole tables; the request-path deadline would cut a long ``verify`` short.
CLI_DEADLINE_S = 300.0


class UnknownDecision(TechriskError):
    """No decision on record under the request id asked for."""


class ChainBroken(TechriskError):
    """``audit verify`` found a row that breaks the hash chain; the message names it."""


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit list|show|verify|purge`` under the ``techrisk`` command."""
    audit = subparsers.add_parser("audit", help="read and check the decisions on record")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    listing = actions.add_parser("list", help="the newest decisions, newest first")
    listing.add_argument("--limit", type=positive_int, default=50, help="how many (default 50)")
    listing.add_argument("--credit-code", help="only this firm's decisions")
    show = actions.add_parser("show", help="one decision in full, with reasons and input")
    show.add_argument("request_id")
    actions.add_parser("verify", help="walk the hash chain; name the first row that does not match")
    purge = actions.add_parser(
        "purge", help="delete the oldest decisions; the rest of the chain still verifies"
    )
    purge.add_argument(
        "--older-than",
        type=positive_int,
        required=True,
        metavar="DAYS",
        help="delete decisions created more than DAYS days ago",
    )


def run_audit(args: argparse.Namespace, console: Console | None = None) -> None:
    """Run the ``audit`` subcommand that ``args`` names; errors are ``TechriskError``s."""
    console = console or Console()
    store = AuditStore(deadline_s=CLI_DEADLINE_S)
    try:
        if args.audit_command == "list":
            stored = store.list_stored(limit=args.limit, credit_code=args.credit_code)
            console.print(decisions_table(stored))
            _warn(console, [s for s in stored if not s.ok])
        elif args.audit_command == "show":
            one = _one(store, args.request_id)
            console.print_json(canonical_json(one.row))
            _warn(console, [] if one.ok else [one])
        elif args.audit_command == "verify":
            _verify(store, console)
        else:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.older_than)
            removed = store.purge(cutoff)
            console.print(
                f"Purged {removed} decision(s) created before {cutoff:%Y-%m-%d %H:%M} UTC; "
                "the remaining chain is anchored to the last one removed."
            )
    finally:
        store.close()


def decisions_table(stored: list[StoredDecision]) -> Table:
    """One line per decision, with the full request id to paste into ``audit show``."""
    table = Table(title=f"{len(stored)} decision(s), newest first")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("request id", no_wrap=True)
    table.add_column("credit code", no_wrap=True)
    table.add_column("product")
    table.add_column("channel")
    table.add_column("model")
    for name in ("PD", "score", "grade"):
        table.add_column(name, justify="right")
    table.add_column("decision")
    table.add_column("check")
    for one in stored:
        row = one.row
        style = _DECISION_STYLE.get(row["decision"], "magenta")
        table.add_row(
            row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
            row["request_id"],
            escape(str(row["credit_code"])),
            escape(str(row["product"])),
            escape(str(row["channel"])),
            escape(f"{row['model_name']} v{row['model_version']}"),
            f"{row['pd']:.2%}",
            f"{row['score']:.0f}",
            str(row["grade"]),
            f"[{style}]{escape(str(row['decision']))}[/{style}]",
            "ok" if one.ok else "[bold red]FAILS[/bold red]",
        )
    return table


def _warn(console: Console, failing: list[StoredDecision]) -> None:
    for one in failing:
        console.print(
            f"[bold red]Warning / 警告:[/bold red] decision {one.row['request_id']} fails its "
            f"check (记录校验失败，可能已被篡改): {escape(str(one.problem))}"
        )


def _verify(store: AuditStore, console: Console) -> None:
    report = store.verify()
    if not report.ok:
        where = f"row {report.seq}" + (
            f" (request id {report.first_bad})" if report.first_bad else ""
        )
        raise ChainBroken(
            f"the audit chain is broken at {where}: {report.problem}; "
            f"{report.rows} row(s) before it verified"
        )
    console.print(f"Audit chain verified: {report.rows} row(s) match their hashes and links.")
    if report.sealed:
        console.print(
            f"{report.sealed} encrypted input(s) were not checked against their hashes: set "
            "TECHRISK_AUDIT_KEY to check them too."
        )


def _one(store: AuditStore, request_id: str) -> StoredDecision:
    stored = store.inspect(request_id)
    if stored is None:
        raise UnknownDecision(f"no decision on record with request id {request_id!r}")
    return stored
