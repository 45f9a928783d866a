"""Serving figures for ``make bench``: /score latency, /score_batch throughput, concurrency.

Each figure stands beside a baseline measured in the same run on the same model and firms:
the in-process floor (features + predict + contributions), ``mlflow models serve`` answering
the PD only, and bare ``predict`` + ``pred_contrib`` on the same feature matrix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from features.build import build_feature_matrix
from serving.examples import request_from_frames
from serving.model_source import from_registry
from serving.schemas import ScoreRequest, to_sources
from tests.servers import bentoml_serve, free_port, stop

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


def _rss_mb(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


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


def bench_serving(
    sources: dict[str, pd.DataFrame], env: dict, tmp: Path, n: int = 1_000
) -> list[tuple]:
    env = {**os.environ, **env, "TECHRISK_DATABASE_URL": f"sqlite:///{tmp / 'audit.db'}"}
    os.environ.update({k: v for k, v in env.items() if k.startswith(("MLFLOW", "TECHRISK"))})
    handle = from_registry()
    model = handle.model
    bodies = _bodies(sources, n, seed=1)
    requests = [ScoreRequest.model_validate(b) for b in bodies]
    converted = [to_sources(r) for r in requests]

    floor = []
    for src, app in converted:
        t = time.perf_counter()
        X = build_feature_matrix(src, app)
        model.score(X)
        model.contributions(X)
        floor.append(time.perf_counter() - t)
    floor_p50, floor_p99 = _ms(floor)

    rows: list[tuple] = []
    with (
        bentoml_serve(
            "serving.service:TechRiskService", {**env, "TECHRISK_WORKERS": "1"}, REPO
        ) as base,
        httpx.Client(base_url=base, timeout=60) as c,
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

    concurrency = {}
    for workers in (1, 2):
        with bentoml_serve(
            "serving.service:TechRiskService", {**env, "TECHRISK_WORKERS": str(workers)}, REPO
        ) as base:
            concurrency[workers] = _load(base, bodies, clients=8, seconds=20)

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
    for workers, (rate, rss) in concurrency.items():
        rows.append(
            (
                f"8 concurrent clients for 20 s, {workers} worker(s)",
                f"{rate:,.0f} requests/s",
                f"server RSS {rss:,.0f} MB",
                f"{rate * floor_p50 / 1e3:.2f}× one core's floor rate",
            )
        )
    return rows


def _load(base: str, bodies: list[dict], clients: int, seconds: float) -> tuple[float, float]:
    """Requests/s of ``clients`` threads posting /score for ``seconds``; server RSS midway."""
    done = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            i = k
            while time.monotonic() < stop_at:
                c.post("/score", json=bodies[i % len(bodies)]).raise_for_status()
                i += clients
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    time.sleep(seconds / 2)
    pid = _server_pid(base)
    rss = _rss_mb(pid) if pid else float("nan")
    for th in threads:
        th.join()
    return done[0] / seconds, rss


def _server_pid(base: str) -> int | None:
    """The PID listening on the server's port (psutil), for its RSS."""
    import psutil

    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            parent = psutil.Process(conn.pid)
            while parent.parent() and "bentoml" in " ".join(parent.parent().cmdline()):
                parent = parent.parent()
            return parent.pid
    return None
