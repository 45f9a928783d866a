"""``techrisk keys create|list|revoke``: the service's API keys, from a terminal.

Wiring for ``techrisk/cli.py``: call :func:`add_keys_commands` with the top-level subparsers,
and :func:`run_keys` with the parsed arguments when ``args.command == "keys"``. The file is
``TECHRISK_API_KEYS`` (default ``$TECHRISK_VAR/api_keys.json``); a running service notices a
change at its next request.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from serving.api_keys import ROLES, KeyStore


def add_keys_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``keys create|list|revoke`` under the ``techrisk`` command."""
    keys = subparsers.add_parser("keys", help="create, list and revoke the service's API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="a new key: printed once, only its hash is stored")
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument(
        "--role",
        dest="roles",
        action="append",
        choices=ROLES,
        required=True,
        help="scorer (score, what-if, the page), auditor (metadata, decision history), "
        "admin (everything, reload); repeat for several",
    )
    actions.add_parser("list", help="every key with its roles and state (no secrets)")
    revoke = actions.add_parser("revoke", help="stop a key at once (kept on file, marked revoked)")
    revoke.add_argument("key_id", help="the id shown by `techrisk keys list`")


def run_keys(args: argparse.Namespace, console: Console | None = None) -> None:
    """Run the ``keys`` subcommand that ``args`` names; errors are ``TechriskError``s."""
    console = console or Console()
    store = KeyStore()
    if args.keys_command == "create":
        key, token = store.create(args.name, args.roles)
        console.print(
            f"Created API key {key.id} for {escape(key.name)} (roles: {', '.join(key.roles)}) "
            f"in {store.path}."
        )
        console.print("The key, shown this once (only its hash is stored):")
        # soft_wrap: the key must come out on one line, whatever the terminal's width.
        console.print(token, soft_wrap=True, highlight=False, markup=False)
        console.print(
            f"Send it as a header: -H 'Authorization: Bearer {token}'",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    elif args.keys_command == "list":
        keys = store.read().keys
        if not keys:
            console.print(f"No API keys in {store.path}: create one with `techrisk keys create`.")
            return
        table = Table(title=f"API keys in {store.path}")
        for column in ("id", "name", "roles", "created (UTC)", "state"):
            table.add_column(column)
        for key in keys:
            revoked = key.revoked_at
            state = "active" if revoked is None else f"[red]revoked {revoked:%Y-%m-%d %H:%M}[/red]"
            table.add_row(
                key.id,
                escape(key.name),
                ", ".join(key.roles),
                f"{key.created_at:%Y-%m-%d %H:%M}",
                state,
            )
        console.print(table)
    elif args.keys_command == "revoke":
        key = store.revoke(args.key_id)
        console.print(
            f"API key {key.id} ({escape(key.name)}) revoked at {key.revoked_at:%Y-%m-%d %H:%M} "
            "UTC; a running service refuses it from its next request."
        )
