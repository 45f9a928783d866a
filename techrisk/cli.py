"""``techrisk`` console script: parse arguments, call the packages, print a summary."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from techrisk_base import settings
from techrisk_base.arguments import count, iso_date, port, positive_int
from techrisk_base.errors import InvalidArgument, TechriskError

console = Console()
#: One synthetic firm's score request, shipped in the repo for the README's curl example.
EXAMPLE_REQUEST = Path("examples/score_request.json")
#: The demo fund's capital (万元) per synthetic firm: 5 亿元 per 10,000 firms, so the last
#: year's approve band of the default 100k-firm market overshoots the 10× cap and selection
#: has to leave loans out (README, "Setting a fund's own figures").
DEMO_CAPITAL_PER_FIRM = 5.0


def _generate(firms: int, seed: int, out: Path, extend: argparse.Namespace | None = None) -> None:
    from synthetic import manifest

    spec = manifest.MarketSpec(n_firms=firms, seed=seed)
    if extend is not None and extend.shock and extend.extend_to is None:
        raise InvalidArgument("--shock", extend.shock, "needs --extend-to (a period to shock)")
    if extend is not None and extend.extend_to is not None:
        shock = None
        if extend.shock == "export":
            shock = manifest.export_shock(tuple(extend.shock_industries), extend.shock_from)
        spec = manifest.extended(manifest.read(extend.market), extend.extend_to.isoformat(), shock)
        out = extend.out or extend.market
    start = time.perf_counter()
    with console.status(
        f"Generating a market of {spec.n_firms:,} firms (seed {spec.seed}) until {spec.until}…"
    ):
        tables = spec.generate()
        paths = manifest.write(spec, tables, out)
    elapsed = time.perf_counter() - start
    table = Table(title=f"Synthetic market → {out}  ({elapsed:.1f} s)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, path in paths.items():
        table.add_row(name, f"{len(tables[name]):,}" if name in tables else "", str(path))
    console.print(table)
    apps = tables["applications"]
    by_product = apps.groupby("product")["default_12m"].agg(["size", "count", "mean"])
    for product, row in by_product.iterrows():
        console.print(
            f"  {product}: {int(row['size']):,} applications, {int(row['count']):,} with a "
            f"matured outcome, default rate {row['mean']:.2%}"
        )
    if spec.shock is not None:
        console.print(f"  shock: {', '.join(spec.shock.industries)} {spec.shock.loss_by_year}")


def _features(market: Path, out: Path) -> None:
    from features.build import build_feature_table, coverage
    from features.loaders import load_sources
    from features.store import write_feature_table

    start = time.perf_counter()
    with console.status(f"Loading and validating the tables in {market}…"):
        sources = load_sources(market)
    loaded = time.perf_counter()
    with console.status(
        f"Building point-in-time features for {len(sources['applications']):,} applications…"
    ):
        table = build_feature_table(sources)
    built = time.perf_counter()
    write_feature_table(table, out)
    cov = coverage(table)
    console.print(
        f"Feature table → {out}: {len(table):,} rows × {len(cov)} features "
        f"(load {loaded - start:.1f} s, build {built - loaded:.1f} s, "
        f"{len(table) / max(built - loaded, 1e-9):,.0f} rows/s)"
    )
    low = cov[cov < 0.5].sort_values()
    if len(low):
        console.print(
            "  sparse features (coverage < 50 %): "
            + ", ".join(f"{n} {v:.0%}" for n, v in low.head(8).items())
        )
    console.print(
        f"  default rate {table['default_12m'].mean():.2%}; median coverage {cov.median():.0%}"
    )


def _train(
    config_path: Path | None,
    table: Path,
    valid_start: date | None,
    oot_start: date | None,
    tune_trials: int | None = None,
    tune_seconds: float | None = None,
) -> None:
    from training.config import TrainConfig
    from training.run import train

    if config_path is not None:
        config = TrainConfig.from_toml(config_path)
    else:
        truth = settings.market_dir() / "truth.parquet"
        config = TrainConfig(
            path=table,
            truth_path=truth if truth.exists() else None,
            label_description="default within 12 months of the application",
        )
    config = config.with_overrides(valid_start=valid_start, oot_start=oot_start)
    config = config.with_overrides(model=config.model.with_tuning(tune_trials, tune_seconds))
    with console.status("training…") as status:
        result = train(config, step=lambda msg: status.update(f"training: {msg}…"))
    summary = Table(title=f"OOT performance — run {result.run_id}")
    for col in ("model", "AUC", "KS", "Gini", "Brier", "ECE"):
        summary.add_column(col, justify="right" if col != "model" else "left")
    for name, m in result.evaluation.labelled("oot", result.champion).items():
        summary.add_row(
            name,
            *(f"{m[k]:.4f}" if k in m else "—" for k in ("auc", "ks", "gini", "brier", "ece")),
        )
    console.print(summary)
    m = result.metrics
    console.print(
        f"Champion (best validation AUC): {result.champion}, booster weight "
        f"{m['champion_blend_weight']:.2f}; LightGBM validation AUC {m['gbm_valid_auc']:.4f} "
        f"after {m['tune_trials']:.0f} tuning trial(s) in {m['tune_seconds']:.1f} s, exact "
        f"TreeSHAP {m['gbm_shap_us_per_row']:.0f} µs per row (one thread)"
    )
    for warning in result.warnings:
        console.print(f"[yellow]data warning:[/yellow] {warning}")
    console.print(
        f"Registered {config.registered_name} version {result.model_version} as "
        f"@{result.alias}; timings "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    )
    console.print(f"Look at it: .venv/bin/mlflow ui --backend-store-uri {settings.tracking_uri()}")


def _latest_year_list(market: Path, out: Path) -> Path:
    """The market's last year of applications, without outcomes: a fund's list to screen."""
    import pandas as pd

    apps = pd.read_parquet(market / "applications.parquet")
    latest = apps[apps["applied_on"] > apps["applied_on"].max() - pd.DateOffset(years=1)]
    latest.drop(columns="default_12m").to_parquet(out, index=False)
    console.print(f"Screening the last year's {len(latest):,} applications as a fund would…")
    return out


def _demo_key() -> str | None:
    """A new scorer key for the demo when the keys file has no active scorer key, else None
    (an existing key cannot be shown again: only its hash is stored)."""
    from serving.api_keys import KeyStore

    store = KeyStore()
    if any(k.active and "scorer" in k.roles for k in store.read().keys):
        return None
    key, token = store.create("demo", ["scorer"])
    console.print(f"Created the demo's scorer API key {key.id} in {store.path} (shown this once).")
    return token


def _serve(port: int, example: Path, key: str | None = None) -> int:
    """``bentoml serve`` in the foreground on 127.0.0.1, after saying how to call it."""
    import subprocess

    from serving.audit import AuditStore

    AuditStore().create_schema()
    url = f"http://127.0.0.1:{port}"
    console.print(
        f"Serving techrisk at [bold]{url}[/bold] (API page: {url}/, "
        f"OpenAPI document: {url}/docs.json)"
    )
    if key is None:
        console.print(
            "Calls need an API key: use one you have, or make one with "
            "`.venv/bin/techrisk keys create --name NAME --role scorer` and set TECHRISK_KEY to it."
        )
    console.print(
        f"Score one synthetic firm:\n  curl -s -X POST {url}/score "
        f"-H 'Authorization: Bearer {key or '$TECHRISK_KEY'}' "
        f"-H 'content-type: application/json' -d @{example}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    console.print(f"The loan officer's page: {url}/ui/ (type the key into its key field)")
    console.print("Decisions on record: .venv/bin/techrisk audit list")
    bentoml = Path(sys.executable).with_name("bentoml")
    command = [
        str(bentoml),
        "serve",
        "serving.service:TechRiskService",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.call(command)


def _one_line(exc: BaseException) -> str:
    """The error as one line: a multi-line message (one line per broken rule) joined by '; '."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an error the user can fix is printed as one line with exit status 2."""
    parser = argparse.ArgumentParser(prog="techrisk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic tech-SME market (Parquet)")
    gen.add_argument("--firms", type=positive_int, default=100_000)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", type=Path, help="default: the market folder")
    gen.add_argument(
        "--extend-to",
        type=iso_date,
        help="observe the market of --market (its market.json) until this ISO date: same "
        "firms, entrants, records and applications continue, outcomes mature after 12 months",
    )
    gen.add_argument("--market", type=Path, default=settings.market_dir())
    gen.add_argument("--shock", choices=("export",), help="with --extend-to: a 2020-like shock")
    gen.add_argument(
        "--shock-industries",
        type=lambda text: [w.strip() for w in text.split(",") if w.strip()],
        default=["electronic_info", "advanced_manufacturing"],
        help="comma-separated industries whose exporters the shock hits",
    )
    gen.add_argument(
        "--shock-from", type=int, help="first shocked year (default: the first extended year)"
    )

    feat = sub.add_parser("features", help="build the point-in-time feature table")
    feat.add_argument(
        "--market",
        type=Path,
        default=settings.market_dir(),
        help="directory of contract tables (<table>.parquet or .csv)",
    )
    feat.add_argument("--out", type=Path, default=settings.feature_table())

    tr = sub.add_parser("train", help="train, evaluate and register a PD model in MLflow")
    tr.add_argument("--config", type=Path, help="TOML describing a bank's own feature table")
    tr.add_argument("--table", type=Path, default=settings.feature_table())
    tr.add_argument(
        "--valid-start", type=iso_date, help="ISO date; default: 70 %% quantile of as-of dates"
    )
    tr.add_argument(
        "--oot-start", type=iso_date, help="ISO date; default: 85 %% quantile of as-of dates"
    )
    tr.add_argument(
        "--tune-trials",
        type=count,
        help="Optuna trials on the validation slice (default 15; 0 = no tuning); overrides "
        "[tuning] trials",
    )
    tr.add_argument(
        "--tune-seconds",
        type=float,
        help="wall clock that cuts the search short (default 600 s; 0 = no tuning); "
        "overrides [tuning] seconds",
    )

    srv = sub.add_parser("serve", help="serve the @champion model with BentoML on 127.0.0.1")
    srv.add_argument("--port", type=port, default=3000)
    srv.add_argument("--example", type=Path, default=EXAMPLE_REQUEST)

    demo = sub.add_parser(
        "demo",
        help="the main job on embedded defaults: generate → features → train → screen → serve",
    )
    demo.add_argument("--firms", type=positive_int, default=100_000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--port", type=port, default=3000)

    sub.add_parser(
        "bento", help="import the registered model into BentoML and build a self-contained Bento"
    )

    from serving.audit_cli import add_audit_commands, run_audit
    from serving.keys_cli import add_keys_commands, run_keys
    from serving.monitoring.cli import add_monitor_commands, run_monitor, run_outcomes
    from serving.screening.cli import (
        add_allocate_command,
        add_screen_command,
        run_allocate,
        run_screen,
    )
    from techrisk.lifecycle import (
        add_lifecycle_commands,
        run_promote,
        run_promotions,
        run_retrain,
    )

    add_audit_commands(sub)
    add_keys_commands(sub)
    add_lifecycle_commands(sub)
    add_monitor_commands(sub)
    add_screen_command(sub, settings.market_dir(), settings.screening_dir())
    add_allocate_command(sub, settings.screening_dir())

    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            _generate(args.firms, args.seed, args.out or args.market, args)
        elif args.command == "features":
            _features(args.market, args.out)
        elif args.command == "train":
            _train(
                args.config,
                args.table,
                args.valid_start,
                args.oot_start,
                args.tune_trials,
                args.tune_seconds,
            )
        elif args.command == "bento":
            from serving.model_source import build_bento

            bento = build_bento()
            console.print(f"Built {bento.tag}: serve it with .venv/bin/bentoml serve {bento.tag}")
        elif args.command == "audit":
            run_audit(args)
        elif args.command == "keys":
            run_keys(args, console)
        elif args.command == "retrain":
            run_retrain(args, console)
        elif args.command == "promote":
            run_promote(args, console)
        elif args.command == "promotions":
            run_promotions(args, console)
        elif args.command == "monitor":
            return run_monitor(args, console)
        elif args.command == "outcomes":
            run_outcomes(args, console)
        elif args.command == "screen":
            run_screen(args, console)
        elif args.command == "allocate":
            run_allocate(args, console)
        elif args.command == "demo":
            market, table = settings.market_dir(), settings.feature_table()
            _generate(args.firms, args.seed, market)
            _features(market, table)
            _train(None, table, None, None)
            latest = _latest_year_list(market, settings.demo_screen_list())
            fund = ["--fund-capital", str(DEMO_CAPITAL_PER_FIRM * args.firms)]
            run_screen(
                parser.parse_args(["screen", "--applications", str(latest), "--restart", *fund])
            )
            run_allocate(parser.parse_args(["allocate", *fund]))
            return _serve(args.port, EXAMPLE_REQUEST, _demo_key())
        elif args.command == "serve":
            return _serve(args.port, args.example)
    except (TechriskError, OSError) as exc:
        # OSError: a path the user named cannot be read or written; its message names it.
        print(f"techrisk {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
