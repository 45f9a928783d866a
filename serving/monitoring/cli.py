"""``techrisk monitor`` and ``techrisk outcomes``: wiring for ``techrisk/cli.py``.

``monitor`` exits 1 when an act threshold is crossed, so a scheduler can page someone; 0
otherwise (watch included); errors exit 2 like every other command.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console

from serving.audit import AuditStore
from serving.monitoring.drift import Thresholds, monitor
from serving.monitoring.outcomes import load_outcomes
from serving.monitoring.report import log_report, write_report
from techrisk_base import settings
from techrisk_base.arguments import iso_date, positive_int

#: Exit status of ``techrisk monitor`` when an act threshold is crossed.
ACT_EXIT = 1
_STYLE = {"ok": "green", "watch": "yellow", "act": "bold red", "too_few": "dim"}


def add_monitor_commands(subparsers: argparse._SubParsersAction) -> None:
    mon = subparsers.add_parser(
        "monitor",
        help="drift, champion vs shadow and realised defaults of the served decisions; "
        "exit 1 when an act threshold is crossed",
    )
    mon.add_argument(
        "--model-uri",
        help="model whose training reference to compare with "
        "(default TECHRISK_MODEL_URI, models:/techrisk-pd@champion)",
    )
    mon.add_argument("--since", type=iso_date, help="first day of decisions (created_at, UTC)")
    mon.add_argument("--until", type=iso_date, help="day after the last (created_at, UTC)")
    mon.add_argument(
        "--window-by",
        choices=("as_of", "created_at"),
        default="as_of",
        help="monthly windows of the application date (default) or of the decision time",
    )
    mon.add_argument("--out", type=Path, default=settings.var_dir() / "monitor")
    defaults = Thresholds()
    for name in (
        "psi_watch",
        "psi_act",
        "coverage_watch",
        "coverage_act",
        "alpha_watch",
        "alpha_act",
    ):
        mon.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    mon.add_argument(
        "--min-rows",
        type=positive_int,
        default=defaults.min_rows,
        help="windows with fewer decisions are reported, not judged",
    )
    mon.add_argument("--no-mlflow", action="store_true", help="write the files only")

    out = subparsers.add_parser(
        "outcomes", help="load realised defaults by loan id (CSV/Parquet: loan_id, default_12m)"
    )
    out.add_argument("--file", type=Path, required=True)


def _day(value: dt.date | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value, dt.time(), dt.UTC)


def run_monitor(args: argparse.Namespace, console: Console) -> int:
    from serving.model_source import from_registry

    thresholds = Thresholds(
        psi_watch=args.psi_watch,
        psi_act=args.psi_act,
        coverage_watch=args.coverage_watch,
        coverage_act=args.coverage_act,
        alpha_watch=args.alpha_watch,
        alpha_act=args.alpha_act,
        min_rows=args.min_rows,
    )
    handle = from_registry(args.model_uri)
    store = AuditStore()
    try:
        with console.status("reading decisions and rebuilding their features…"):
            rows = store.monitoring_rows(_day(args.since), _day(args.until))
            outcomes = store.outcome_rows()
            report = monitor(
                rows, handle.model, handle.version, outcomes, thresholds, args.window_by
            )
    finally:
        store.close()
    files = write_report(report, args.out)
    run_id = None if args.no_mlflow else log_report(report, files)
    for w in report["windows"]:
        flagged = ", ".join(w["flagged_features"][:4])
        console.print(
            f"  {w['segment']:>5} {w['month']}  {w['rows']:>6} rows  score PSI "
            f"{w['score_psi']:.3f}  [{_STYLE[w['status']]}]{w['status']}[/]"
            + (f"  {flagged}" if flagged else "")
        )
    if report["shadow"]:
        s = report["shadow"]["segments"]["all"]
        console.print(
            f"  shadow {', '.join(report['shadow']['shadow_versions'])}: {s['rows']} rows, score "
            f"PSI {s['score_psi']:.3f}, same grade {s['same_grade']:.1%}, decision flips "
            f"{s['flip_rate']:.1%}"
        )
    if report["calibration"]:
        c = report["calibration"]
        console.print(
            f"  outcomes: {c['loans']} loans, realised {c['realised_rate']:.2%} vs mean PD "
            f"{c['mean_pd']:.2%}; grades off: "
            + (", ".join(str(r["grade"]) for r in c["grades"] if r["status"] != "ok") or "none")
        )
    if report["unreadable"]:
        console.print(
            f"  [yellow]{len(report['unreadable'])} decisions could not be read "
            f"back[/]: first {report['unreadable'][0]}"
        )
    status = report["status"]
    console.print(
        f"Monitor: [{_STYLE[status]}]{status}[/] (population {report['parts']['population']}, "
        f"shadow {report['parts']['shadow']}, calibration {report['parts']['calibration']}) → "
        f"{files['html']}" + (f"; MLflow run {run_id}" if run_id else "")
    )
    return ACT_EXIT if status == "act" else 0


def run_outcomes(args: argparse.Namespace, console: Console) -> None:
    store = AuditStore()
    try:
        loaded = load_outcomes(args.file, store)
    finally:
        store.close()
    console.print(
        f"Loaded {loaded.loaded:,} outcomes ({loaded.defaults:,} defaults) from {args.file}; "
        f"{loaded.pending:,} loans still pending (no outcome yet)"
    )
