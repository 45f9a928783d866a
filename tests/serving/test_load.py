"""The load benchmark at a small N, as a correctness check (no throughput assertion): against a
real ``bentoml serve`` with 2 workers, every 200 response has exactly one audit row, and the
rows written by both worker processes form one verifiable chain; the run's CPU is counted for
the server, the client and PostgreSQL; keep-alive connections are
asked to reconnect after ``TECHRISK_REQUESTS_PER_CONNECTION`` requests. The outage benchmark's
code (``benchmarks/outage.py``) against the same kind of server: a store locked by another
client gets a prompt 503, ``/readyz`` follows the store, and nothing refused is committed later."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from benchmarks.cpu import CpuUse, meter
from benchmarks.load import batch_totals, payloads, run_load
from benchmarks.outage import run_outage
from serving.audit import AuditStore
from tests.servers import api_key, bentoml_serve, free_port

REPO = Path(__file__).resolve().parents[2]


def test_a_runs_cpu_reads_per_request_with_the_rate_the_cores_allow() -> None:
    cpu = CpuUse(
        server_s=1.5, postgres_s=0.0, client_s=0.1, other_s=0.4, idle_s=0.5, cores=2, seconds=1.25
    )
    assert cpu.ceiling(100) == 100.0  # 20 ms of CPU a request on 2 cores
    assert cpu.idle_share == 0.2
    assert cpu.describe(100) == (
        "CPU per request: server 15.00, client 1.00, other 4.00 ms; cores idle 20%; at this "
        "cost 2 cores give at most 100 req/s"
    )


def test_the_cpu_meter_needs_the_server_it_measures() -> None:
    assert meter(free_port()) is None  # nothing serves that port: no split to report


@pytest.mark.slow
def test_concurrent_clients_get_one_audit_row_per_score(
    registry, url, sample_requests, tmp_path
) -> None:
    env = {
        **os.environ,
        **registry,
        "TECHRISK_DATABASE_URL": url,
        "TECHRISK_WORKERS": "2",
        "TECHRISK_REQUESTS_PER_CONNECTION": "3",
    }
    env.pop("TECHRISK_MODEL_URI", None)
    key = api_key(env, tmp_path)
    bodies = payloads(sample_requests)
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        result = run_load(base, bodies, clients=8, requests=60, audit_url=url, key=key)
        totals = batch_totals(base)
        with httpx.Client(base_url=base, timeout=30) as client:
            said = [client.get("/livez").headers.get("connection") for _ in range(4)]
    # the third answer on a keep-alive connection asks the client to reconnect (it does)
    assert said[2] == "close" and "close" not in (said[0], said[1], said[3])
    assert result.statuses == {200: 60}
    assert result.audit_rows == result.ok == 60
    # every request went through the workers' batching, as /metrics counts it
    assert totals is not None and totals[0] == 60
    assert result.mean_batch is not None and 1 <= result.mean_batch <= 16
    # the run's CPU split: the server found by its port, its workers and the client counted,
    # PostgreSQL's backends when they hold the store, and no more busy time than the cores had
    # (the kernel counts CPU time in ticks of 10 ms a core)
    cpu = result.cpu
    assert cpu is not None
    assert cpu.server_s > 0 and cpu.client_s > 0 and cpu.other_s >= 0
    assert cpu.postgres_s > 0 or not url.startswith("postgresql")
    assert cpu.busy_s <= cpu.cores * (cpu.seconds + 0.02)
    store = AuditStore(url)
    report = store.verify()
    store.close()
    assert report.ok and report.rows == 60


@pytest.mark.slow
def test_a_served_store_outage_is_a_prompt_503_and_leaves_no_late_row(
    registry, url, sample_requests, tmp_path
) -> None:
    deadline_s, slack_s = 0.5, 0.75
    env = {
        **os.environ,
        **registry,
        "TECHRISK_DATABASE_URL": url,
        "TECHRISK_WORKERS": "2",
        "TECHRISK_AUDIT_DEADLINE_S": str(deadline_s),
    }
    env.pop("TECHRISK_MODEL_URI", None)
    key = api_key(env, tmp_path)
    body = payloads(sample_requests[:1])[0]
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        outage = run_outage(base, url, key, body, deadline_s)
    assert outage.score_status == 503 and outage.score_seconds < deadline_s + slack_s
    assert outage.ready_status == 503 and outage.ready_seconds < deadline_s + slack_s
    assert outage.metadata_status == 200 and outage.metadata_seconds < deadline_s
    assert outage.after_status == 200
    assert outage.added_rows == outage.ok_answers == 1


def test_the_in_process_path_times_each_request_and_its_own_commit(
    small_fit, sample_requests, store, url
) -> None:
    from benchmarks.serving_bench import _path_of
    from serving.scoring import ModelHandle

    _, fit = small_fit
    handle = ModelHandle(fit.model, "techrisk-pd", "1", None, "models:/techrisk-pd/1")
    times = _path_of(handle, payloads(sample_requests))(url, 0, 6)
    assert len(times) == 6
    # the commit is part of its request's path, and both took time
    assert all(0 < commit < whole for whole, commit in times)
    assert len(store.list(limit=10)) == 6  # one decision on record per request
