"""``make bench-screening``: ``techrisk screen`` throughput and peak memory at 100 k and 1 M.

It also times the leaf-table TreeSHAP that screening uses against ``pred_contrib`` on the same
matrix, the explainer's own speed-up apart from everything else a screening does.

The baseline, measured in the same run on the same model: bare ``Booster.predict`` plus
``pred_contrib`` on a prebuilt feature matrix of the same applications (no reading,
validation, features, reasons or writing). Each screening runs as its own ``techrisk screen``
process, whose peak RSS (its whole process tree: Dask workers included) is sampled and whose CPU
seconds are counted: on a shared machine wall time says more about the neighbours than about
the code, so the projection to 1 M on 2 cores is also given from CPU time.

Each screening runs with the shocked-records stress (the default) and, with ``--stress both``,
also without it (an empty scenarios file), to show what the stress costs.

The 1 M input is the 100 k market replicated: every copy of a firm gets a fresh valid credit
code (and fresh record ids), so the screen sees 10× as many distinct firms and rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from benchmarks.run import print_table
from features.build import build_feature_matrix, build_feature_table
from features.credit_code import generate_codes
from features.loaders import load_sources
from features.schemas import TABLES
from features.store import write_feature_table
from serving.model_source import from_registry
from synthetic import generate_market, write_market
from training.config import ModelConfig, TrainConfig
from training.run import train

console = Console()


def replicate(market: Path, copies: int, out: Path, seed: int = 0) -> int:
    """``copies`` copies of the market in ``out`` with distinct firms; returns applications."""
    out.mkdir(parents=True, exist_ok=True)
    firms = pd.read_parquet(market / "firms.parquet", columns=["credit_code"])["credit_code"]
    base = pd.Index(firms)
    codes = generate_codes(len(base) * copies, np.random.default_rng(seed + 1))
    n_apps = 0
    for path in sorted(market.glob("*.parquet")):
        if path.stem == "truth":
            continue
        frame = pd.read_parquet(path)
        ids = [
            c for c, col in TABLES[path.stem].columns.items() if col.unique and c != "credit_code"
        ]
        pos = base.get_indexer(frame["credit_code"])
        writer = None
        for k in range(copies):
            copy = frame.copy()
            copy["credit_code"] = codes[k * len(base) + pos]
            for c in ids:
                copy[c] = copy[c].astype(str) + f"-{k}"
            table = pa.Table.from_pandas(copy, preserve_index=False)
            writer = writer or pq.ParquetWriter(out / path.name, table.schema)
            writer.write_table(table)
        writer.close()
        if path.stem == "applications":
            n_apps = len(frame) * copies
    return n_apps


def bare_rate(sources: dict[str, pd.DataFrame], model) -> dict[str, float]:
    """Rows/s on a prebuilt matrix of the market's applications: ``predict``, LightGBM's
    ``pred_contrib``, the leaf-table TreeSHAP (``models.treeshap``), and the two sums."""
    apps = sources["applications"]
    X = build_feature_matrix(sources, apps)
    seconds = {}
    for name, run in (
        ("predict", lambda: model.booster.predict(X, raw_score=True)),
        ("pred_contrib", lambda: model.booster.predict(X, pred_contrib=True)),
        ("tables", lambda: model.contributions(X)),
    ):
        t = time.perf_counter()
        run()
        seconds[name] = time.perf_counter() - t
    n = len(X)
    return {
        **{name: n / s for name, s in seconds.items()},
        "bare": n / (seconds["predict"] + seconds["pred_contrib"]),
    }


def timed_screen(
    market: Path, out: Path, env: dict[str, str], engine: str, scenarios: Path | None = None
) -> tuple[float, float, float, dict]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one ``techrisk screen`` run, its whole
    process tree counted; ``scenarios``: the stress scenarios file (None: the shipped ones).

    Run as ``python -m techrisk.cli`` from the current directory, so that the checkout being
    benchmarked is the one screened (the ``techrisk`` script would import the installed one).
    """
    command = [
        sys.executable,
        "-m",
        "techrisk.cli",
        "screen",
        "--market",
        str(market),
        "--out",
        str(out),
        "--engine",
        engine,
        *(["--scenarios", str(scenarios)] if scenarios is not None else []),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(after, k) - getattr(before, k) for k in ("ru_utime", "ru_stime"))
    if process.returncode:
        raise RuntimeError(f"techrisk screen failed:\n{err.decode()[-3000:]}")
    return seconds, cpu, peak, json.loads((out / "summary.json").read_text())


def _shape(model) -> str:
    """The booster's size, which sets the cost of every explanation (and so the baseline)."""
    booster = model.booster
    if booster is None:
        return f"{model.kind} model, no trees"
    params = booster.params
    return (
        f"{model.kind} model: {booster.num_trees()} trees, "
        f"max_depth {params.get('max_depth')}, num_leaves {params.get('num_leaves')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument(
        "--copies",
        type=int,
        nargs="*",
        default=[1, 10],
        help="market copies to screen (1 = 100 k firms' applications)",
    )
    parser.add_argument("--engines", nargs="*", default=["local", "dask"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stress",
        choices=("on", "off", "both"),
        default="on",
        help="screen with the shocked-records stress, without it, or both",
    )
    parser.add_argument(
        "--tune-trials",
        type=int,
        default=None,
        help="the model's Optuna trials (default: training's; 0 = the untuned, deeper trees)",
    )
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        market = tmp / "market"
        with console.status(f"market of {args.firms:,} firms and a model trained on it…"):
            tables = generate_market(n_firms=args.firms, seed=args.seed)
            write_market(tables, market)
            del tables
            sources = load_sources(market)
            path = write_feature_table(build_feature_table(sources), tmp / "features.parquet")
            env = {
                **os.environ,
                "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
                "TECHRISK_ARTIFACT_DIR": str(tmp / "artifacts"),
            }
            os.environ.update({k: env[k] for k in ("MLFLOW_TRACKING_URI", "TECHRISK_ARTIFACT_DIR")})
            train(
                TrainConfig(
                    path=path,
                    truth_path=market / "truth.parquet",
                    model=ModelConfig(tune_trials=args.tune_trials),
                )
            )
            handle = from_registry()
        rate = bare_rate(sources, handle.model)
        bare = rate["bare"]
        del sources
        rows.append(
            (
                "bare Booster.predict + pred_contrib, prebuilt matrix",
                f"{bare:,.0f} rows/s",
                f"predict {rate['predict']:,.0f} rows/s, "
                f"pred_contrib {rate['pred_contrib']:,.0f} rows/s; {_shape(handle.model)}",
                "baseline",
            )
        )
        rows.append(
            (
                "leaf-table TreeSHAP (PDModel.contributions), prebuilt matrix",
                f"{rate['tables']:,.0f} rows/s",
                "exact: equals pred_contrib to 1e-9 (tests/models/test_treeshap.py)",
                f"{rate['tables'] / rate['pred_contrib']:.1f}× pred_contrib",
            )
        )
        console.print(rows[-2], rows[-1])
        for copies in args.copies:
            data = market if copies == 1 else tmp / f"market-x{copies}"
            n = replicate(market, copies, data, args.seed) if copies > 1 else None
            no_stress = tmp / "no-scenarios.toml"
            no_stress.write_text("")
            stresses = {"on": [True], "off": [False], "both": [True, False]}[args.stress]
            for engine, stress in ((e, s) for e in args.engines for s in stresses):
                label = f"{engine}, stress {'on' if stress else 'off'}"
                with console.status(f"screening {copies}× market, {label}…"):
                    seconds, cpu, peak, summary = timed_screen(
                        data,
                        tmp / f"out-{copies}-{engine}-{stress}",
                        env,
                        engine,
                        None if stress else no_stress,
                    )
                n = summary["counts"]["applications_read"]
                rate = n / seconds
                rows.append(
                    (
                        f"techrisk screen {n:,} applications, {label}",
                        f"{seconds:.1f} s, {rate:,.0f} rows/s; {cpu:.1f} CPU s; "
                        f"peak RSS {peak:,.0f} MiB",
                        f"scored {summary['counts']['applications_scored']:,}; 1 M take "
                        f"{1e6 / rate / 60:.1f} min at this rate, "
                        f"{1e6 / n * cpu / 2 / 60:.1f} min from CPU s on 2 cores",
                        f"{rate / bare:.0%} of bare (target ≥ 50 %)",
                    )
                )
                console.print(rows[-1])
            if copies > 1:
                shutil.rmtree(data)

    print_table(
        "techrisk screen beside bare predict + pred_contrib (same model, same run)",
        ("measure", "ours", "detail", "ratio"),
        rows,
    )


if __name__ == "__main__":
    main()
