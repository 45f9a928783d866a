"""``techrisk screen``: partition → screen every part (here or on Dask) → outputs and report.

A run lives in a work directory (``<out>/work``) holding a manifest, the partitioned inputs
and each finished part. Run the same command again after an interruption and it resumes:
partitioning is skipped once complete, finished parts are not redone, and the outputs are
written afresh from the parts, so no row is lost or written twice. A manifest that does not
match the inputs or parameters refuses to resume rather than mix two runs (``--restart``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from models.pd_model import PDModel
from serving.screening import part as parts
from serving.screening.partition import PART_FORMAT, ScreenInputs, part_name, partition
from serving.screening.portfolio import (
    CELL_KEYS,
    MIGRATION_KEYS,
    STRESS_KEYS,
    PortfolioParams,
    merge,
    report,
)
from serving.screening.report_html import render_html
from techrisk_base.errors import TechriskError

MANIFEST = "manifest.json"
RESULTS = "screened"
STRESSED = "stressed.parquet"
ERRORS = "errors.csv"
SUMMARY = "summary.json"
REPORT_JSON = "portfolio.json"
REPORT_HTML = "portfolio.html"
#: Applications per part by default: a part's tables and features fit easily in memory.
DEFAULT_CHUNK = 25_000


class ResumeMismatch(TechriskError):
    """The work directory belongs to a run with other inputs or parameters."""


@dataclass
class ScreenResult:
    out: Path
    counts: dict[str, int]
    report: dict[str, Any]
    seconds: float
    parts: int
    resumed_parts: int
    files: dict[str, Path] = field(default_factory=dict)


#: Called after each part with (applications screened in it); drives the progress bar.
Progress = Callable[[int], None]


def screen(
    inputs: ScreenInputs,
    out: Path,
    model: PDModel,
    ref: parts.ModelRef,
    params: PortfolioParams | None = None,
    chunk: int = DEFAULT_CHUNK,
    engine: str = "local",
    scheduler: str | None = None,
    restart: bool = False,
    today: dt.date | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> ScreenResult:
    """Screen every application of ``inputs`` into ``out``; see the module docstring."""
    start = time.perf_counter()
    params = params or PortfolioParams()
    today = today or dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    out = Path(out)
    work = out / "work"
    n_apps = inputs.count_applications()
    n_parts = max(1, math.ceil(n_apps / chunk))
    manifest = {
        "inputs": inputs.fingerprint(),
        "parts": n_parts,
        "part_format": PART_FORMAT,
        "model": [ref.name, ref.version],
        "params": params.to_dict(),
        "today": today.isoformat(),
    }
    if restart and work.exists():
        shutil.rmtree(work)
    _claim(work, manifest)
    if not (work / "partitioned").exists():
        shutil.rmtree(work / "parts", ignore_errors=True)
        partition(inputs, work / "parts", n_parts)
        (work / "partitioned").touch()
    part_dirs = [work / "parts" / part_name(k) for k in range(n_parts)]
    for d in part_dirs:
        d.mkdir(parents=True, exist_ok=True)
    resumed = sum(parts.is_done(d) for d in part_dirs)
    advance = progress(n_apps) if progress else (lambda _n: None)
    todo = [d for d in part_dirs if not parts.is_done(d)]
    for d in part_dirs:
        if parts.is_done(d):
            advance(_applications_of(d))
    run = _run_dask if engine == "dask" else _run_local
    run(todo, model, ref, params, today, advance, scheduler)
    return _finish(out, part_dirs, params, start, resumed)


def _run_local(
    todo: list[Path],
    model: PDModel,
    ref: parts.ModelRef,
    params: PortfolioParams,
    today: dt.date,
    advance: Progress,
    _scheduler: str | None,
) -> None:
    """One part per core in flight, each LightGBM call on one thread.

    LightGBM releases the GIL, so while one part is in TreeSHAP another builds its features
    or words its reasons: the cores stay busy with Python work that a single multi-threaded
    TreeSHAP call would leave them waiting on.
    """
    lanes = max(1, min(os.cpu_count() or 1, len(todo)))
    if lanes == 1:
        for d in todo:
            advance(parts.screen_part(d, model, ref, params, today).get("applications_read", 0))
        return
    pool = ThreadPoolExecutor(max_workers=lanes)
    try:
        futures = [pool.submit(parts.screen_part, d, model, ref, params, today, 1) for d in todo]
        for future in as_completed(futures):
            advance(future.result().get("applications_read", 0))
    finally:  # on an interruption, parts not yet started are left for the resume
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    todo: list[Path],
    model: PDModel,
    ref: parts.ModelRef,
    params: PortfolioParams,
    today: dt.date,
    advance: Progress,
    scheduler: str | None,
) -> None:
    """Parts as tasks on a Dask cluster; the model is sent once to every worker.

    Workers read their part from the work directory and commit it there, so with a remote
    scheduler the output directory must be on storage the workers share.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = (
        None
        if scheduler
        else LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            # one core per worker: LightGBM would otherwise start a thread per core in each
            env={"OMP_NUM_THREADS": "1"},
        )
    )
    try:
        with Client(scheduler or cluster) as client:
            shared = client.scatter(model, broadcast=True)
            futures = client.map(
                parts.screen_part,
                todo,
                model=shared,
                ref=ref,
                params=params,
                today=today,
                pure=False,
            )
            for future in as_completed(futures):
                advance(future.result().get("applications_read", 0))
    finally:
        if cluster is not None:
            cluster.close()


def _claim(work: Path, manifest: dict[str, Any]) -> None:
    path = work / MANIFEST
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != json.loads(json.dumps(manifest)):
            changed = sorted(k for k in manifest if previous.get(k) != manifest[k])
            raise ResumeMismatch(
                f"{work} holds a run with different {', '.join(changed) or 'settings'}; "
                "give another --out or --restart to discard it"
            )
        return
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1))


def _applications_of(part_dir: Path) -> int:
    counts = json.loads((part_dir / "done" / parts.COUNTS_FILE).read_text())
    return counts.get("applications_read", 0)


def _finish(
    out: Path, part_dirs: list[Path], params: PortfolioParams, start: float, resumed: int
) -> ScreenResult:
    """Outputs from the finished parts, one part in memory at a time."""
    files = {
        "parquet": out / f"{RESULTS}.parquet",
        "csv": out / f"{RESULTS}.csv",
        "errors": out / ERRORS,
        "stressed": out / STRESSED,
        "summary": out / SUMMARY,
        "report_json": out / REPORT_JSON,
        "report_html": out / REPORT_HTML,
    }
    _concat_parquet((d / "done" / parts.RESULTS_FILE for d in part_dirs), files["parquet"])
    _concat_csv((d / "done" / parts.RESULTS_FILE for d in part_dirs), files["csv"])
    _concat_csv((d / "done" / parts.ERRORS_FILE for d in part_dirs), files["errors"])
    _concat_parquet((d / "done" / parts.STRESSED_FILE for d in part_dirs), files["stressed"])
    counts: dict[str, int] = {}
    for d in part_dirs:
        for k, v in json.loads((d / "done" / parts.COUNTS_FILE).read_text()).items():
            counts[k] = counts.get(k, 0) + v
    cells = merge([pd.read_parquet(d / "done" / parts.CELLS_FILE) for d in part_dirs], CELL_KEYS)
    stress = merge(
        [pd.read_parquet(d / "done" / parts.STRESS_FILE) for d in part_dirs], STRESS_KEYS
    )
    migration = merge(
        [pd.read_parquet(d / "done" / parts.MIGRATION_FILE) for d in part_dirs], MIGRATION_KEYS
    )
    portfolio = report(cells, stress, migration, params)
    seconds = time.perf_counter() - start
    summary = {"counts": counts, "seconds": seconds, "parts": len(part_dirs), "resumed": resumed}
    files["summary"].write_text(json.dumps(summary, indent=1))
    files["report_json"].write_text(json.dumps(portfolio, ensure_ascii=False, indent=1))
    files["report_html"].write_text(render_html(portfolio, counts), encoding="utf-8")
    return ScreenResult(out, counts, portfolio, seconds, len(part_dirs), resumed, files)


def _concat_parquet(paths: Iterable[Path], target: Path) -> None:
    _concat(paths, target, pq.ParquetWriter)


def _concat_csv(paths: Iterable[Path], target: Path) -> None:
    """Arrow's CSV writer: one header, then every part's rows (pandas' writer is ~5× slower)."""
    _concat(paths, target, lambda path, schema: pacsv.CSVWriter(str(path), schema))


def _concat(paths: Iterable[Path], target: Path, writer_for: Callable[[Path, Any], Any]) -> None:
    """The parts' tables one after another into ``target``, swapped in when complete."""
    tmp = target.with_suffix(".tmp")
    writer = None
    try:
        for path in paths:
            table = pq.read_table(path)
            writer = writer or writer_for(tmp, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(target)
