"""``techrisk screen``: the command line of batch screening (wiring only).

Call :func:`add_screen_command` with the top-level subparsers and :func:`run_screen` with the
parsed arguments. The model is the service's: ``TECHRISK_MODEL_URI`` (default
``models:/techrisk-pd@champion``) from the registry at ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from serving.screening.allocate import OBJECTIVES, AllocationParams
from serving.screening.allocation import AllocationResult, allocate
from serving.screening.part import ModelRef
from serving.screening.partition import ScreenInputs
from serving.screening.portfolio import PortfolioParams
from serving.screening.run import DEFAULT_CHUNK, ScreenResult, screen
from serving.screening.stress import DEFAULT_SCENARIOS, load_shocks
from serving.screening.verdict import (
    DEFAULT_LOSS_BUDGET,
    POLICY_FLOOR,
    REGULATORY_CAP,
    SME_FOCUSED_CAP,
)
from techrisk_base.arguments import positive_int


def add_screen_command(subparsers: argparse._SubParsersAction, market: Path, out: Path) -> None:
    """Add ``screen``; ``market`` and ``out`` are the default input and output directories."""
    p = subparsers.add_parser(
        "screen", help="score a fund's list of applications in bulk, with a portfolio report"
    )
    p.add_argument(
        "--market",
        type=Path,
        default=market,
        help="directory of contract tables (<table>.parquet or .csv)",
    )
    p.add_argument(
        "--applications", type=Path, help="the list to screen (default: applications.* in --market)"
    )
    p.add_argument("--out", type=Path, default=out)
    p.add_argument(
        "--chunk",
        type=positive_int,
        default=DEFAULT_CHUNK,
        help="applications per part (bounds memory); default %(default)s",
    )
    p.add_argument("--engine", choices=("local", "dask"), default="local")
    p.add_argument(
        "--scheduler",
        help="tcp://host:port of a Dask scheduler (default: a "
        "LocalCluster of 2 workers on 127.0.0.1)",
    )
    p.add_argument("--restart", action="store_true", help="discard an unfinished run in --out")
    p.add_argument(
        "--no-mlflow",
        dest="mlflow",
        action="store_false",
        help="do not log the report to MLflow (default: log to MLFLOW_TRACKING_URI, "
        "or the embedded SQLite store)",
    )
    p.add_argument(
        "--model-uri", help="default: TECHRISK_MODEL_URI or models:/techrisk-pd@champion"
    )
    add_fund_arguments(p)
    p.add_argument("--macro-factor", type=float, default=PortfolioParams.macro_factor)
    p.add_argument("--shock-factor", type=float, default=PortfolioParams.shock_factor)
    p.add_argument(
        "--scenarios",
        type=Path,
        default=DEFAULT_SCENARIOS,
        help="TOML of shocked-records stress scenarios (default: the shipped 2020 export shock)",
    )


def add_fund_arguments(p: argparse.ArgumentParser) -> None:
    """The fund's own figures, shared by ``screen`` and ``allocate``."""
    p.add_argument(
        "--fund-capital",
        type=float,
        default=PortfolioParams.fund_capital,
        help="the fund's capital (net assets) in 万元 (default %(default)s)",
    )
    p.add_argument(
        "--coverage",
        type=float,
        default=PortfolioParams.coverage,
        help="the fund's share of each guaranteed loan (default %(default)s)",
    )
    p.add_argument(
        "--lgd", type=_lgd, help="LGD per guarantee type, e.g. none=0.65,fund=0.55,ip_pledge=0.45"
    )
    p.add_argument(
        "--leverage-floor",
        type=float,
        default=POLICY_FLOOR,
        help="policy floor of the guarantee leverage (default %(default)s×)",
    )
    p.add_argument(
        "--leverage-cap",
        type=float,
        help=f"regulatory cap of the leverage (default {REGULATORY_CAP:g}×, "
        f"{SME_FOCUSED_CAP:g}× with --sme-focused)",
    )
    p.add_argument(
        "--sme-focused",
        action="store_true",
        help="the fund mainly serves small and micro firms: the cap is 15× "
        "(融资担保公司监督管理条例)",
    )
    p.add_argument(
        "--loss-budget",
        type=float,
        default=DEFAULT_LOSS_BUDGET,
        help="the fund's annual loss budget: its expected loss may take at most this share of "
        "capital (default %(default)s)",
    )


def fund_params(args: argparse.Namespace, **more) -> PortfolioParams:
    """The fund's parameters from the command line (``more``: screening-only ones)."""
    return PortfolioParams(
        fund_capital=args.fund_capital,
        coverage=args.coverage,
        lgd=args.lgd or PortfolioParams().lgd,
        leverage_floor=args.leverage_floor,
        leverage_cap=args.leverage_cap,
        sme_focused=args.sme_focused,
        loss_budget=args.loss_budget,
        **more,
    )


def _lgd(text: str) -> dict[str, float]:
    try:
        pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
        return {k.strip(): float(v) for k, v in pairs}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--lgd {text!r}: expected type=value pairs such as none=0.65,fund=0.55"
        ) from exc


def run_screen(args: argparse.Namespace, console: Console | None = None) -> ScreenResult:
    from serving.model_source import from_registry

    console = console or Console()
    params = fund_params(
        args,
        macro_factor=args.macro_factor,
        shock_factor=args.shock_factor,
        shocks=load_shocks(args.scenarios),
    )
    inputs = ScreenInputs.from_paths(args.market, args.applications)
    with console.status("loading the model…"):
        handle = from_registry(args.model_uri)
    console.print(f"Model {handle.name} v{handle.version} ({handle.uri})")
    columns = (
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:

        def progress(total: int):
            task = bar.add_task("screen", total=total, rate="")

            def advance(n: int) -> None:
                bar.advance(task, n)
                t = bar.tasks[task]
                if t.elapsed:
                    bar.update(task, rate=f"{t.completed / t.elapsed:,.0f} rows/s")

            return advance

        result = screen(
            inputs,
            args.out,
            handle.model,
            ModelRef(handle.name, handle.version),
            params=params,
            chunk=args.chunk,
            engine=args.engine,
            scheduler=args.scheduler,
            restart=args.restart,
            progress=progress,
        )
    _summary(console, result)
    if args.mlflow:
        from serving.screening.tracking import log_screening

        run_id = log_screening(result, handle)
        console.print(f"Logged to MLflow run {run_id} (experiment techrisk-screening)")
    return result


def add_allocate_command(subparsers: argparse._SubParsersAction, screening: Path) -> None:
    """Add ``allocate``; ``screening`` is the default screening output directory."""
    p = subparsers.add_parser(
        "allocate",
        help="choose the applications a fund can guarantee within its capital, loss budget "
        "and concentration limits, from a screening's output",
    )
    p.add_argument(
        "--screening",
        type=Path,
        default=screening,
        help="output directory of techrisk screen (default %(default)s)",
    )
    p.add_argument("--out", type=Path, help="where to write the selection (default: --screening)")
    add_fund_arguments(p)
    p.add_argument(
        "--industry-limit",
        type=float,
        default=AllocationParams.industry_limit,
        help="most of the guarantee capacity one industry may take (default %(default)s)",
    )
    p.add_argument(
        "--district-limit",
        type=float,
        default=AllocationParams.district_limit,
        help="most of the guarantee capacity one district may take (default %(default)s)",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=AllocationParams.objective,
        help="maximise the guaranteed amount or the number of firms served (default %(default)s)",
    )
    p.add_argument(
        "--include-review",
        action="store_true",
        help="also choose among the review band (default: the approve band only)",
    )


def run_allocate(args: argparse.Namespace, console: Console | None = None) -> AllocationResult:
    console = console or Console()
    alloc = AllocationParams(
        industry_limit=args.industry_limit,
        district_limit=args.district_limit,
        objective=args.objective,
        include_review=args.include_review,
    )
    result = allocate(args.screening, args.out or args.screening, fund_params(args), alloc)
    book, left = result.report["book"], result.report["left_out"]
    console.print(
        f"Selected {book['applications']:,} of {result.report['candidates']:,} candidates "
        f"({book['amount']:,.0f} 万元) in {result.seconds:.2f} s; "
        f"left out {left['applications']:,}: "
        + ", ".join(f"{code} {r['applications']:,}" for code, r in left["by_first_reason"].items())
    )
    print_headline(console, result.report["headline"])
    for name, path in result.files.items():
        console.print(f"  {name}: {path}")
    return result


def print_headline(console: Console, verdict: dict) -> None:
    colour = "green" if verdict["fundable"] else "red"
    console.print(f"[bold {colour}]{verdict['headline_zh']}[/]")
    console.print(f"[bold {colour}]{verdict['headline_en']}[/]")


def _summary(console: Console, result: ScreenResult) -> None:
    c = result.counts
    table = Table(title=f"Screened in {result.seconds:.1f} s → {result.out}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for label, key in (
        ("applications read", "applications_read"),
        ("scored", "applications_scored"),
        ("rejected (see errors.csv)", "applications_rejected"),
        ("source records used", "records_used"),
        ("records ignored as future (point-in-time)", "records_future"),
        ("records of firms with no scored application", "records_without_application"),
    ):
        table.add_row(label, f"{c.get(key, 0):,}")
    invalid = sum(v for k, v in c.items() if k.endswith("_invalid") and k != "applications_invalid")
    table.add_row("invalid source records (see errors.csv)", f"{invalid:,}")
    console.print(table)
    print_headline(console, result.report["headline"])
    if result.resumed_parts:
        console.print(f"Resumed: {result.resumed_parts} of {result.parts} parts were already done")
    for name, path in result.files.items():
        console.print(f"  {name}: {path}")
