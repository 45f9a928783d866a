"""``make bench``: throughput and latency of the project's hot paths, each beside a baseline
measured in the same run on the same data, printed as ratios.

Sections: market generation, feature build over all applications, and the single-firm feature
path that every live request pays.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from features.build import build_feature_matrix, build_features
from features.loaders import load_sources
from synthetic import generate_market, write_market

console = Console()


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _rows(tables: dict[str, pd.DataFrame]) -> int:
    return sum(len(t) for t in tables.values())


def _plain_read(paths: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """Baseline: pandas reading the same Parquet files, nothing else."""
    return {name: pq.read_table(path).to_pandas() for name, path in paths.items()}


def _firm_slices(sources: dict[str, pd.DataFrame], codes: np.ndarray) -> list[dict]:
    """One firm's records per request, as the live service receives them."""
    grouped = {
        name: dict(tuple(t.groupby("credit_code", sort=False)))
        for name, t in sources.items()
        if name != "applications" and "credit_code" in t.columns and len(t)
    }
    out = []
    for code in codes:
        out.append({name: g[code] for name, g in grouped.items() if code in g})
    return out


def _naive_pandas(src: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> None:
    """Baseline for one firm: one filter-and-aggregate per table, the least pandas code does."""
    for name, t in src.items():
        if name in ("firms", "applications"):
            continue
        date_col = next(
            c for c in t.columns if t[c].dtype.kind == "M" or c in ("fiscal_year", "year")
        )
        col = t[date_col]
        before = t[col < as_of] if col.dtype.kind == "M" else t[col < as_of.year]
        before.select_dtypes("number").agg(["count", "max"])


def _percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_single_firm(sources: dict[str, pd.DataFrame], n: int, seed: int) -> list[tuple]:
    """One firm's records per call, as DataFrames and as the column arrays a request carries."""
    apps = sources["applications"]
    rng = np.random.default_rng(seed)
    picked = apps.iloc[rng.choice(len(apps), size=min(n, len(apps)), replace=False)]
    picked = picked.reset_index(drop=True)
    slices = _firm_slices(sources, picked["credit_code"].to_numpy())
    records = np.array([sum(len(t) for t in s.values()) for s in slices])
    frames, columnar, naive = [], [], []
    for i, src in enumerate(slices):
        app = picked.iloc[[i]]
        cols = {k: {c: t[c].to_numpy() for c in t.columns} for k, t in src.items()}
        app_cols = {c: app[c].to_numpy() for c in app.columns}
        build_features(src, app)  # first call of each shape warms numpy's caches
        frames.append(_timed(lambda src=src, app=app: build_features(src, app))[0])
        columnar.append(_timed(lambda c=cols, a=app_cols: build_feature_matrix(c, a))[0])
        naive.append(
            _timed(lambda src=src, app=app: _naive_pandas(src, app["applied_on"].iloc[0]))[0]
        )
    n50, n99 = _percentiles_ms(naive)
    rows = [("single firm: records per firm (median)", f"{np.median(records):.0f}", "", "")]
    for label, times in (("DataFrame input", frames), ("column arrays (service path)", columnar)):
        p50, p99 = _percentiles_ms(times)
        rows.append(
            (
                f"single firm features, {label}: p50 / p99",
                f"{p50:.2f} / {p99:.2f} ms",
                f"naive pandas filter+agg per table {n50:.2f} / {n99:.2f} ms",
                f"{p50 / n50:.2f}× of baseline p50 (target p50 ≤ 10 ms)",
            )
        )
    return rows


def bench_training(sources: dict[str, pd.DataFrame], tmp: Path, truth: pd.DataFrame) -> list[tuple]:
    """``techrisk train`` end to end beside a bare LightGBM fit on the same training matrix."""
    import lightgbm as lgb

    from features.build import build_feature_table
    from features.store import write_feature_table
    from training.config import TrainConfig
    from training.run import train

    table_path = write_feature_table(build_feature_table(sources), tmp / "features.parquet")
    truth.to_parquet(tmp / "truth.parquet")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["TECHRISK_ARTIFACT_DIR"] = str(tmp / "artifacts")
    config = TrainConfig(path=table_path, truth_path=tmp / "truth.parquet")
    run_s, result = _timed(lambda: train(config))
    m = result.metrics
    # Baseline: the same booster parameters and tree count on the same matrix, nothing else.
    from training.dataset import load_training_data

    data = load_training_data(config)
    X = result.model.encode(data.part("train")[0])
    params = result.gbm_params
    cat = [data.features.index(c) for c in data.categorical]
    bare_s, _ = _timed(
        lambda: lgb.train(
            params,
            lgb.Dataset(X, data.part("train")[1], categorical_feature=cat),
            num_boost_round=int(m["best_iteration"]),
        )
    )
    return [
        (
            f"techrisk train, {len(data.y):,} applications (all steps)",
            f"{run_s:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()) + ")",
            f"bare lgb.train, same matrix and trees {bare_s:.1f} s",
            f"{run_s / bare_s:.1f}× of bare fit (target < 180 s)",
        ),
        (
            "OOT AUC champion / oracle / scorecard",
            f"{m['oot_auc']:.4f} / {m['oot_oracle_auc']:.4f} / {m['oot_scorecard_auc']:.4f}",
            f"gap to oracle {m['oot_oracle_auc'] - m['oot_auc']:.4f} (≤ 0.03); "
            f"over scorecard {m['oot_auc'] - m['oot_scorecard_auc']:.4f} (≥ 0.02)",
            f"ECE {m['oot_ece']:.4f} (≤ 0.015); grades monotone {bool(m['oot_grades_monotone'])}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--single-firm-requests", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--serving-requests", type=int, default=1_000)
    parser.add_argument(
        "--load-requests", type=int, default=1_500, help="requests per load-benchmark run"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "TECHRISK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL for the load benchmark's second store ('' to skip it)",
    )
    args = parser.parse_args()

    rows: list[tuple] = []
    try:
        _run_sections(args, rows)
    finally:  # a section that fails still leaves the figures measured before it
        print_table(
            "techrisk benchmarks: ours beside a baseline of the same run",
            ("measure", "ours", "baseline (same run)", "ratio"),
            rows,
        )


def print_table(title: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _run_sections(args: argparse.Namespace, rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gen_s, tables = _timed(lambda: generate_market(n_firms=args.firms, seed=args.seed))
        n_rows = _rows(tables)
        paths = write_market(tables, Path(tmp))
        read_s, _ = _timed(lambda: _plain_read(paths))
        rows.append(
            (
                f"generate {args.firms:,} firms ({n_rows:,} rows)",
                f"{gen_s:.1f} s, {n_rows / gen_s:,.0f} rows/s",
                f"pandas read of the same Parquet {n_rows / read_s:,.0f} rows/s",
                f"ours / read = {read_s / gen_s:.3f}× (target < 60 s)",
            )
        )
        load_s, sources = _timed(lambda: load_sources(Path(tmp)))
        apps = sources["applications"]
        build_s, _ = _timed(lambda: build_features(sources, apps))
        rows.append(
            (
                f"features for {len(apps):,} applications",
                f"{build_s:.1f} s, {len(apps) / build_s:,.0f} rows/s",
                f"pandas read of the tables {read_s:.1f} s; validated load {load_s:.1f} s",
                f"ours / read = {read_s / build_s:.2f}× (target < 60 s)",
            )
        )
        rows += bench_single_firm(sources, args.single_firm_requests, args.seed)
        if not args.skip_training:
            rows += bench_training(sources, Path(tmp), tables["truth"])
            if not args.skip_serving:
                from benchmarks.serving_bench import bench_serving

                env = {k: os.environ[k] for k in ("MLFLOW_TRACKING_URI", "TECHRISK_ARTIFACT_DIR")}
                rows += bench_serving(
                    sources,
                    env,
                    Path(tmp),
                    args.serving_requests,
                    pg_url=args.pg_url or None,
                    load_requests=args.load_requests,
                )


if __name__ == "__main__":
    main()
