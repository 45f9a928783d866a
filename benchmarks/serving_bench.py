"""Serving figures for ``make bench``: /score latency, /score_batch throughput, load.

Each figure stands beside a baseline measured in the same run on the same model and firms:
the in-process floor (features + predict + contributions), ``mlflow models serve`` answering
the PD only, and bare ``predict`` + ``pred_contrib`` on the same feature matrix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks.load import (
    UNLIMITED_RATE,
    big_body,
    payloads,
    pg_schema,
    run_big_request,
    run_load,
    sequential_against_floor,
    sqlite_url,
)
from benchmarks.outage import run_outage
from features.build import build_feature_matrix
from models.pd_model import PDModel
from serving import limits
from serving.audit import AuditStore, DecisionRecord
from serving.examples import request_from_frames
from serving.model_source import from_registry
from serving.schemas import ScoreRequest, to_sources
from serving.scoring import ModelHandle, Scorer
from techrisk_base import settings
from tests.servers import api_key, bearer, bentoml_serve, free_port, stop

#: ``make bench`` runs ``python -m benchmarks.run`` from the repository root.
REPO = Path(__file__).resolve().parents[1]


def _ms(seconds: list[float]) -> tuple[float, float]:
    a = np.array(seconds) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _bodies(sources: dict[str, pd.DataFrame], n: int, seed: int) -> list[dict]:
    apps = sources["applications"]
    picked = apps.sample(n=min(n, len(apps)), random_state=seed)
    codes = set(picked["credit_code"])
    per_firm = {
        name: {c: g for c, g in t[t["credit_code"].isin(codes)].groupby("credit_code")}
        for name, t in sources.items()
        if "credit_code" in t.columns and name != "applications"
    }
    empty = {name: t.iloc[:0] for name, t in sources.items() if name != "applications"}
    bodies = []
    for _, row in picked.iterrows():
        firm = {name: g.get(row["credit_code"], empty[name]) for name, g in per_firm.items()}
        bodies.append(request_from_frames(firm, row))
    return bodies


def _mlflow_serve_p50(uri: str, env: dict, frame: pd.DataFrame, n: int) -> float:
    port = free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        # mlflow execs ``uvicorn`` by name: the venv's bin must be on PATH
        env={**env, "PATH": f"{mlflow_bin.parent}{os.pathsep}{env.get('PATH', '')}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        times = []
        with httpx.Client(base_url=base, timeout=30) as c:
            for i in range(n):
                row = frame.iloc[[i % len(frame)]]
                body = {
                    "dataframe_split": row.to_dict(orient="split"),
                    "params": {"contributions": False},
                }
                # NaN (a thin file's missing feature) as JSON's NaN, which MLflow's server reads
                payload = json.dumps(body, default=str)
                t = time.perf_counter()
                r = c.post(
                    "/invocations", content=payload, headers={"content-type": "application/json"}
                )
                times.append(time.perf_counter() - t)
                r.raise_for_status()
        return _ms(times[20:])[0]
    finally:
        stop(process)


def _floor_times(model: PDModel, converted: list[tuple]) -> list[float]:
    """Seconds of the in-process floor of each request: features, PD and contributions."""
    floor = []
    for src, app in converted:
        t = time.perf_counter()
        X = build_feature_matrix(src, app)
        model.score(X)
        model.contributions(X)
        floor.append(time.perf_counter() - t)
    return floor


def _floor_of(model: PDModel, converted: list[tuple]) -> Callable[[int, int], list[float]]:
    """The floor of ``n`` requests from index ``first`` (wrapping around), on demand."""

    def floor(first: int, n: int) -> list[float]:
        return _floor_times(model, [converted[(first + i) % len(converted)] for i in range(n)])

    return floor


def _path_of(
    handle: ModelHandle, data: list[bytes]
) -> Callable[[str, int, int], list[tuple[float, float]]]:
    """The whole ``/score`` path in-process, on demand: seconds of ``n`` bodies from index
    ``first`` decoded as the boundary decodes them, validated, scored, recorded in the
    store at ``url`` and rendered, as the endpoint does (``Scorer.score``, the same work as the
    endpoint's awaited ``score_async``), each with the seconds of its own audit commit; what
    HTTP and BentoML add is the served p50 less this one's."""

    def path(url: str, first: int, n: int) -> list[tuple[float, float]]:
        store = _TimedStore(url)
        scorer = Scorer(handle, store)
        times = []
        try:
            for i in range(first, first + n):
                body = data[i % len(data)]
                t = time.perf_counter()
                request = ScoreRequest.model_validate(limits.parse_body(body))
                scorer.score(request).model_dump_json()
                times.append((time.perf_counter() - t, store.commits.pop()))
        finally:
            store.close()
        return times

    return path


class _TimedStore(AuditStore):
    """The audit store, timing each decision's ``record`` (queued, committed, answered)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.commits: list[float] = []

    def record(self, decision: DecisionRecord) -> DecisionRecord:
        start = time.perf_counter()
        try:
            return super().record(decision)
        finally:
            self.commits.append(time.perf_counter() - start)


def bench_serving(
    sources: dict[str, pd.DataFrame],
    env: dict,
    tmp: Path,
    n: int = 1_000,
    pg_url: str | None = None,
    load_requests: int = 1_500,
) -> list[tuple]:
    env = {
        **os.environ,
        **env,
        **UNLIMITED_RATE,
        "TECHRISK_DATABASE_URL": f"sqlite:///{tmp / 'audit.db'}",
    }
    key = api_key(env, tmp)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("MLFLOW", "TECHRISK"))})
    handle = from_registry()
    model = handle.model
    bodies = _bodies(sources, n, seed=1)
    requests = [ScoreRequest.model_validate(b) for b in bodies]
    converted = [to_sources(r) for r in requests]

    floor_p50, floor_p99 = _ms(_floor_times(model, converted))

    rows: list[tuple] = []
    with (
        bentoml_serve(
            "serving.service:TechRiskService", {**env, "TECHRISK_WORKERS": "1"}, REPO
        ) as base,
        httpx.Client(base_url=base, timeout=60, headers=bearer(key)) as c,
    ):
        for b in bodies[:20]:
            c.post("/score", json=b)
        times = []
        for b in bodies:
            t = time.perf_counter()
            c.post("/score", json=b).raise_for_status()
            times.append(time.perf_counter() - t)
        p50, p99 = _ms(times)
        batch_bodies = bodies[: min(1_000, len(bodies))]
        c.post("/score_batch", json={"items": batch_bodies[:50]})
        t = time.perf_counter()
        rounds = 3
        for _ in range(rounds):
            c.post("/score_batch", json={"items": batch_bodies}).raise_for_status()
        batch_rate = rounds * len(batch_bodies) / (time.perf_counter() - t)

    X_all = np.vstack([build_feature_matrix(s, a) for s, a in converted[: len(batch_bodies)]])
    t = time.perf_counter()
    for _ in range(rounds):
        model.booster.predict(X_all, raw_score=True)
        model.booster.predict(X_all, pred_contrib=True)
    bare_rate = rounds * len(X_all) / (time.perf_counter() - t)

    frame = pd.DataFrame(X_all, columns=model.features)
    mlflow_p50 = _mlflow_serve_p50(handle.uri, env, frame, min(n, 500))

    rows.append(
        (
            f"/score latency p50 / p99 over {len(bodies):,} sequential requests (1 worker)",
            f"{p50:.2f} / {p99:.2f} ms",
            f"in-process floor {floor_p50:.2f} / {floor_p99:.2f} ms; mlflow models serve PD-only "
            f"p50 {mlflow_p50:.2f} ms",
            f"{p50 / floor_p50:.2f}× floor (target ≤ 2×); "
            f"{p50 / mlflow_p50:.2f}× mlflow (target < 1×)",
        )
    )
    rows.append(
        (
            f"/score_batch throughput, batches of {len(batch_bodies):,}",
            f"{batch_rate:,.0f} firms/s",
            f"bare predict + pred_contrib on the same matrix {bare_rate:,.0f} rows/s",
            f"{batch_rate / bare_rate:.0%} of bare (target ≥ 50 %)",
        )
    )
    rows += bench_load(
        env,
        tmp,
        bodies,
        _floor_of(model, converted),
        _path_of(handle, payloads(bodies)),
        pg_url,
        load_requests,
    )
    return rows


def bench_load(
    env: dict,
    tmp: Path,
    bodies: list[dict],
    floor: Callable[[int, int], list[float]],
    path: Callable[[str, int, int], list[tuple[float, float]]],
    pg_url: str | None,
    requests: int = 1_500,
    big_records: int | None = None,
) -> list[tuple]:
    """8 and 64 clients on SQLite and PostgreSQL, 2 workers; the sequential /score p50
    against the in-process ``floor`` plus one audit commit on the same store, beside the
    in-process ``path``, sampled in alternating rounds
    (``benchmarks.load.sequential_against_floor``); and two
    clients' small requests while one request of ``big_records`` IP assets is in flight
    (0 skips it); and the outage figures (``benchmarks/outage.py``)."""
    data = payloads(bodies)
    # By default the largest request the limits admit: 100 k records is refused (422/413).
    big_records = settings.max_records() if big_records is None else big_records
    big = big_body(bodies[0], big_records) if big_records else b""
    stores: list[tuple[str, AbstractContextManager[str]]] = [
        ("SQLite", nullcontext(sqlite_url(tmp)))
    ]
    if pg_url:
        stores.append(("PostgreSQL", pg_schema(pg_url)))
    rows: list[tuple] = []
    for name, store in stores:
        with store as url:
            served = {
                **env,
                **UNLIMITED_RATE,
                "TECHRISK_DATABASE_URL": url,
                "TECHRISK_WORKERS": "2",
            }
            key = api_key(served, tmp)
            with bentoml_serve("serving.service:TechRiskService", served, REPO) as base:
                seq = sequential_against_floor(base, data, key, url, floor, path)
                rows.append(
                    (
                        f"/score p50, sequential, 2 workers, {name}",
                        f"{seq.score_ms:.2f} ms",
                        f"in-process floor {seq.floor_ms:.2f} + one audit commit "
                        f"{seq.commit_ms:.2f} ms; the whole path in-process (decode, "
                        f"validation, scoring, audit record and commit) {seq.path_ms:.2f} ms, "
                        f"whose commit took {seq.path_commit_ms:.2f} (the same work, after "
                        f"each request's other work rather than back to back), so HTTP and "
                        f"BentoML add {seq.score_ms - seq.path_ms:.2f}; in "
                        f"{seq.rounds} alternating rounds",
                        f"{seq.ratio:.2f}× (target ≤ 2×)",
                    )
                )
                for clients in (8, 64):
                    result = run_load(base, data, clients, requests, url, key)
                    target = " (target ≥ 150 req/s)" if clients == 8 else ""
                    rows.append(
                        (
                            f"{clients} clients × {result.requests:,} /score, 2 workers, {name}",
                            f"{result.rate:,.0f} req/s{target}",
                            f"p50 {result.p50_ms:.0f} / p99 {result.p99_ms:.0f} ms; "
                            f"statuses {result.statuses}"
                            + (
                                f"; {result.mean_batch:.1f} requests per feature build"
                                if result.mean_batch
                                else ""
                            )
                            + (f"; {result.cpu.describe(result.requests)}" if result.cpu else ""),
                            f"audit rows {result.audit_rows:,} vs 200 responses {result.ok:,}: "
                            + ("equal" if result.audit_rows == result.ok else "DIFFERENT"),
                        )
                    )
                outage = run_outage(base, url, key, data[0], settings.audit_deadline_s())
                rows.append(
                    (
                        f"audit store locked by another client, {name}",
                        f"/score {outage.score_status} in {outage.score_seconds:.2f} s "
                        f"(deadline {settings.audit_deadline_s():g} s)",
                        f"/readyz {outage.ready_status} in {outage.ready_seconds:.2f} s; "
                        f"/metadata {outage.metadata_status} in "
                        f"{outage.metadata_seconds * 1e3:.0f} ms; ready again "
                        f"{outage.recovered_seconds:.2f} s after the release, then /score "
                        f"{outage.after_status}",
                        f"audit rows {outage.added_rows} vs 200 responses {outage.ok_answers}: "
                        + ("equal" if outage.added_rows == outage.ok_answers else "DIFFERENT"),
                    )
                )
                if big_records:
                    huge = run_big_request(base, data, big, big_records, url, key)
                    rows.append(
                        (
                            f"2 clients' /score beside one of {huge.big_records:,} IP assets "
                            f"({huge.big_bytes / 1e6:.0f} MB), {name}",
                            f"small p99 {huge.small_p99_ms:.0f} ms (target ≤ 200 ms)",
                            f"small p50 {huge.small_p50_ms:.0f} ms over {huge.small_requests:,}; "
                            f"big answered {huge.big_status} in {huge.big_seconds:.1f} s",
                            f"audit rows {huge.audit_rows:,} vs 200 responses {huge.ok:,}: "
                            + ("equal" if huge.audit_rows == huge.ok else "DIFFERENT"),
                        )
                    )
    return rows


def main() -> None:
    """``make bench-load``: the load table alone, against the registered champion.

    Request bodies come from a small synthetic market generated here; the model is the one
    ``TECHRISK_MODEL_URI`` names in the MLflow store of the environment (``make demo`` makes
    one).
    """
    import argparse
    import tempfile

    from benchmarks.run import print_table
    from synthetic import generate_market

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--firms", type=int, default=3_000, help="firms of the body market")
    parser.add_argument("--requests", type=int, default=1_500, help="requests per load run")
    parser.add_argument(
        "--big-records",
        type=int,
        default=None,
        help="IP assets of the one huge request sent beside small ones (default: the most "
        "TECHRISK_MAX_RECORDS admits; 0 skips it)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "TECHRISK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL for the second store ('' to skip it)",
    )
    args = parser.parse_args()
    sources = generate_market(n_firms=args.firms, seed=11)
    bodies = _bodies(sources, 500, seed=2)
    converted = [to_sources(ScoreRequest.model_validate(b)) for b in bodies]
    handle = from_registry()
    floor = _floor_of(handle.model, converted)
    path = _path_of(handle, payloads(bodies))
    env = {**os.environ}
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_load(
            env,
            Path(tmp),
            bodies,
            floor,
            path,
            args.pg_url or None,
            args.requests,
            args.big_records,
        )
    print_table(
        "techrisk load: 2 workers on this machine, a bounded async client on 127.0.0.1",
        ("measure", "ours", "detail", "check"),
        rows,
    )


if __name__ == "__main__":
    main()
