"""``techrisk retrain``, ``techrisk promote`` and ``techrisk promotions``: the model's life.

Wiring only: the challenger and its gates live in ``training.retrain`` and
``training.gates``, alias moves and registry tags in ``training.promotion``, the audit
record in ``serving.promotions``. Every move of ``@champion`` is written to both, the audit
row first (``AuditJournal``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from techrisk_base import settings
from techrisk_base.arguments import count, positive_int
from techrisk_base.errors import InvalidArgument, TechriskError

if TYPE_CHECKING:
    from serving.promotions import PromotionStore
    from training.promotion import PromotionRecord
    from training.retrain import RetrainResult


class GatesFailed(TechriskError):
    """The challenger failed at least one promotion gate; the message names each."""


def add_lifecycle_commands(sub: argparse._SubParsersAction) -> None:
    rt = sub.add_parser(
        "retrain",
        help="train a challenger on the newer table, gate it against @champion, promote",
    )
    rt.add_argument("--table", type=Path, default=settings.feature_table())
    rt.add_argument(
        "--market",
        type=Path,
        default=settings.market_dir(),
        help="synthetic market of the table: its truth.parquet adds the oracle figures",
    )
    rt.add_argument(
        "--dry-run",
        action="store_true",
        help="evaluate the gates and say what would happen; the registry is left unchanged",
    )
    rt.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a gate threshold, e.g. --gate auc_tolerance=0.01 (repeatable)",
    )
    rt.add_argument(
        "--tune-trials", type=count, help="Optuna trials (default: the same as techrisk train)"
    )
    rt.add_argument(
        "--tune-seconds",
        type=float,
        help="wall clock that cuts the search short (default: the same as techrisk train)",
    )
    rt.add_argument("--by", help="who promotes (default: the OS user)")
    rt.add_argument("--reason", help="recorded with the promotion")

    pr = sub.add_parser("promote", help="move @champion by hand or roll back to @previous")
    target = pr.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", choices=("previous",), help="roll back to @previous")
    target.add_argument("--version", type=positive_int, help="promote this registered version")
    pr.add_argument("--reason", help="why (required with --version)")
    pr.add_argument("--by", help="who (default: the OS user)")

    ls = sub.add_parser("promotions", help="the moves of @champion on record in the audit store")
    ls.add_argument("--limit", type=positive_int, default=20)


def _store() -> PromotionStore:
    from serving.promotions import PromotionStore

    store = PromotionStore()
    store.create_schema()
    return store


class AuditJournal:
    """The audit store's promotions table as the journal ``move_champion`` writes first."""

    def __init__(self, store: PromotionStore) -> None:
        self._store = store

    def begin(self, record: PromotionRecord) -> int:
        from serving.promotions import PromotionRow

        return self._store.record(PromotionRow(**record.to_dict() | {"at": record.at}))

    def settle(self, entry: int, status: str, error: str | None = None) -> None:
        self._store.settle(entry, status, error)


def run_retrain(args: argparse.Namespace, console: Console) -> None:
    from training.config import TrainConfig
    from training.gates import GateConfig
    from training.promotion import operator
    from training.retrain import retrain

    gate_config = GateConfig().with_overrides(args.gate)
    truth = args.market / "truth.parquet"
    config = TrainConfig(
        path=args.table,
        truth_path=truth if truth.exists() else None,
        label_description="default within 12 months of the application",
    )
    config = config.with_overrides(
        model=config.model.with_tuning(args.tune_trials, args.tune_seconds)
    )
    journal = None if args.dry_run else AuditJournal(_store())  # unusable: fail before training
    with console.status("retraining…") as status:
        result = retrain(
            config,
            gate_config,
            dry_run=args.dry_run,
            by=operator(args.by),
            journal=journal,
            reason=args.reason,
            step=lambda msg: status.update(f"retraining: {msg}…"),
        )
    challenger = (
        "challenger (dry run, not registered)"
        if result.challenger_version is None
        else f"challenger v{result.challenger_version}"
    )
    table = Table(
        title=f"Gates: {challenger} vs champion "
        f"v{result.champion_version} on applications from {result.window_start} "
        f"({result.window_labelled:,} labelled of {result.window_rows:,})"
    )
    for col in ("gate", "value", "threshold", "verdict"):
        table.add_column(col)
    for g in result.gates:
        table.add_row(
            g.name, f"{g.value:.4f}", f"{g.threshold:.4f}", "pass" if g.passed else "[red]FAIL"
        )
    console.print(table)
    for g in result.gates:
        console.print(f"  {g.line()}")
    console.print(f"MLflow run {result.run_id} holds the gate values (gates.json, gate_* metrics)")
    if result.promotion is not None:
        console.print(
            f"Promoted version {result.promotion.to_version} to @champion; version "
            f"{result.promotion.from_version} is @previous (recorded in the registry and the "
            "audit store)"
        )
    if args.dry_run:
        _print_dry_run(result, config.registered_name, console)
    failed = [g for g in result.gates if not g.passed]
    if failed:
        verdict = "would not be promoted (dry run)" if args.dry_run else "not promoted"
        raise GatesFailed(
            f"challenger {verdict}; failed gate(s): "
            + "; ".join(
                f"{g.name} value {g.value:.4f} vs threshold {g.threshold:.4f} ({g.detail})"
                for g in failed
            )
        )


def _print_dry_run(result: RetrainResult, name: str, console: Console) -> None:
    console.print(
        f"Dry run: the registry is unchanged (no version of {name} registered, no alias moved). "
        f"The challenger is logged to MLflow run {result.run_id} (runs:/{result.run_id}/model, "
        "tag techrisk.dry_run=true)."
    )
    would = f"Without --dry-run it would be registered as a new version of {name} (@challenger)"
    if result.passed:
        console.print(
            f"{would}, and every gate passed: @champion would move to it from version "
            f"{result.champion_version}, which would become @previous; the move would be "
            "recorded in the registry and the audit store."
        )
    else:
        console.print(
            f"{would}; @champion would stay on version {result.champion_version} (failed gates: "
            "see the error below)."
        )


def run_promote(args: argparse.Namespace, console: Console) -> None:
    from models.packaging import REGISTERED_NAME as name
    from training.promotion import move_champion, operator, rollback

    by = operator(args.by)
    if args.version is not None and not (args.reason and args.reason.strip()):
        raise InvalidArgument("--reason", args.reason, "is required with --version")
    journal = AuditJournal(_store())
    if args.to == "previous":
        record = rollback(
            name, by=by, reason=args.reason or "rollback to @previous", journal=journal
        )
    else:
        record = move_champion(
            name,
            str(args.version),
            action="manual",
            by=by,
            reason=args.reason.strip(),
            journal=journal,
        )
    console.print(
        f"{record.action}: @champion of {name} is version {record.to_version} (was "
        f"{record.from_version}, now @previous); by {record.by}: {record.reason}"
    )


def run_promotions(args: argparse.Namespace, console: Console) -> None:
    table = Table(title="Moves of @champion on record")
    for col in ("at (UTC)", "action", "model", "from", "to", "by", "reason", "gates", "status"):
        table.add_column(col)
    for row in _store().list(limit=args.limit):
        gates = ", ".join(f"{g['name']} {'✓' if g['passed'] else '✗'}" for g in row.gates)
        table.add_row(
            f"{row.at:%Y-%m-%d %H:%M:%S}",
            row.action,
            row.model_name,
            row.from_version or "—",
            row.to_version,
            row.by,
            row.reason,
            gates or "—",
            row.status if row.error is None else f"{row.status}: {row.error}",
        )
    console.print(table)
