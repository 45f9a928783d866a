"""The load benchmark: concurrent clients against a real ``bentoml serve`` on 127.0.0.1.

A bounded async client (``aiohttp``, at most ``clients`` requests in flight) posts ``/score``
bodies, serialised beforehand so the client spends little of the machine's CPU: the client
shares the two cores with the server it measures, and ``httpx.AsyncClient`` spent 1.3–1.4 ms
of CPU per request where ``aiohttp`` spends 0.46 (8 clients, same server and run).
Each run reports requests/s, p50/p99 latency, the status counts and the audit rows the run
added, which must equal its 200 responses: no score without an audit row, no row without a
score; and how many requests each feature build and model call served on average (the
server's ``/metrics``).

Also the sequential floor: ``/score`` p50 one request at a time against the in-process floor
(features + PD + contributions) plus one audit commit, sampled in alternating rounds of the
same run, beside the whole ``/score`` path run in-process (body decode to audit commit), so
the excess splits into the service's own work and what HTTP and BentoML add.

Requests carry a scorer key; a server under load is started with :data:`UNLIMITED_RATE`, so
the figures measure the service (key check and bucket included), not the per-key limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import http.client
import json
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.cpu import CpuUse, meter
from serving.audit import AuditStore, DecisionRecord, decisions

LOCAL = "http://127.0.0.1:"
#: Settings that lift the per-key rate limit (``serving/auth.py``) out of a load run's way.
UNLIMITED_RATE = {"TECHRISK_RATE_PER_S": "1000000", "TECHRISK_RATE_BURST": "1000000"}
#: The service's histogram of ``/score`` batch sizes (``serving.service.batch_sizes``).
BATCH_METRIC = "techrisk_score_batch_size"


@dataclass(frozen=True)
class LoadResult:
    """One run: how many requests, how fast, how they were answered, what was recorded."""

    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    audit_rows: int
    #: Who spent the machine's CPU during the run; None where the server was not found.
    cpu: CpuUse | None = None
    #: Requests per feature build and model call (``/metrics``); None where not served.
    mean_batch: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)


def payloads(bodies: Sequence[dict]) -> list[bytes]:
    """Request bodies as the bytes a client sends, serialised once before the clock starts."""
    return [json.dumps(b, ensure_ascii=False).encode("utf-8") for b in bodies]


def json_headers(key: str) -> dict[str, str]:
    """The headers of a JSON request as the API ``key``."""
    return {"content-type": "application/json", "authorization": f"Bearer {key}"}


def require_local(base: str) -> None:
    """The benchmarks load a server hard: only one on this machine may be their target."""
    if not base.startswith(LOCAL):
        raise ValueError(f"the benchmarks only target 127.0.0.1; got {base!r}")


def run_load(
    base: str, bodies: Sequence[bytes], clients: int, requests: int, audit_url: str, key: str
) -> LoadResult:
    """Post ``requests`` bodies to ``/score`` with ``clients`` in flight, as the API ``key``;
    count audit rows and the CPU the run cost (``benchmarks/cpu.py``)."""
    require_local(base)
    before = audit_rows(audit_url)
    batched = batch_totals(base)
    stop = meter(int(base.removeprefix(LOCAL)))
    # A thread of its own owns the event loop: the caller's thread may already run one (a
    # Playwright session in the same test process does), and asyncio.run refuses to nest.
    with ThreadPoolExecutor(max_workers=1) as pool:
        latencies, statuses, seconds = pool.submit(
            asyncio.run, _drive(base, bodies, clients, requests, key)
        ).result()
    cpu = stop() if stop is not None else None
    added = audit_rows(audit_url) - before
    p50, p99 = (float(np.percentile(np.array(latencies) * 1e3, q)) for q in (50, 99))
    after = batch_totals(base)
    mean_batch = None
    if batched is not None and after is not None and after[1] > batched[1]:
        mean_batch = (after[0] - batched[0]) / (after[1] - batched[1])
    return LoadResult(clients, requests, seconds, p50, p99, dict(statuses), added, cpu, mean_batch)


def batch_totals(base: str) -> tuple[float, float] | None:
    """(requests, batches) the server's ``/score`` batching has served so far, summed over
    its workers, from its ``/metrics``; None if it does not report them."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        text = response.read().decode("utf-8")
    totals = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == BATCH_METRIC
        for sample in family.samples
        if sample.name in (f"{BATCH_METRIC}_sum", f"{BATCH_METRIC}_count")
    }
    if len(totals) < 2:
        return None
    return totals[f"{BATCH_METRIC}_sum"], totals[f"{BATCH_METRIC}_count"]


def _session(base: str, connections: int, timeout_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=base,
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    )


async def _post(client: aiohttp.ClientSession, body: bytes, headers: dict[str, str]) -> int:
    """POST ``/score`` and read the whole answer; its status."""
    async with client.post("/score", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def _drive(
    base: str, bodies: Sequence[bytes], clients: int, requests: int, key: str
) -> tuple[list[float], Counter[int], float]:
    headers = json_headers(key)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    issued = iter(range(requests))

    async with _session(base, clients, 120) as client:

        async def one_client() -> None:
            for i in issued:  # a shared iterator: each index is posted once
                start = time.perf_counter()
                status = await _post(client, bodies[i % len(bodies)], headers)
                latencies.append(time.perf_counter() - start)
                statuses[status] += 1

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - start
    return latencies, statuses, seconds


@dataclass(frozen=True)
class BigRequestResult:
    """Small requests served while one very large request was in flight."""

    big_records: int
    big_bytes: int
    big_status: int
    big_seconds: float
    small_requests: int
    small_p50_ms: float
    small_p99_ms: float
    statuses: dict[int, int]
    audit_rows: int

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)


def big_body(body: dict, records: int) -> bytes:
    """``body`` with ``records`` IP assets (its own repeated, each under a new ``ip_id``)."""
    own = body["ip_assets"] or [
        {
            "ip_type": "utility_model",
            "filed_on": "2015-01-05",
            "granted_on": "2015-09-01",
            "lapsed_on": None,
            "claims": 6,
            "forward_citations": 0,
            "acquired": False,
            "pledged_on": None,
        }
    ]
    assets = [{**own[i % len(own)], "ip_id": f"IPBIG{i:08d}"} for i in range(records)]
    return json.dumps({**body, "ip_assets": assets}, ensure_ascii=False).encode("utf-8")


def run_big_request(
    base: str,
    small: Sequence[bytes],
    big: bytes,
    big_records: int,
    audit_url: str,
    key: str,
    clients: int = 2,
) -> BigRequestResult:
    """Post ``big`` once while ``clients`` post small bodies, one at a time each, until it is
    answered; the small requests' latencies say whether a huge request stalls the others."""
    require_local(base)
    before = audit_rows(audit_url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        latencies, statuses, big_status, big_seconds = pool.submit(
            asyncio.run, _drive_big(base, small, big, clients, key)
        ).result()
    added = audit_rows(audit_url) - before
    p50, p99 = (float(np.percentile(np.array(latencies) * 1e3, q)) for q in (50, 99))
    return BigRequestResult(
        big_records,
        len(big),
        big_status,
        big_seconds,
        len(latencies),
        p50,
        p99,
        dict(statuses),
        added,
    )


async def _drive_big(
    base: str, small: Sequence[bytes], big: bytes, clients: int, key: str
) -> tuple[list[float], Counter[int], int, float]:
    headers = json_headers(key)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    answered = asyncio.Event()
    issued = iter(range(10**9))

    async with _session(base, clients + 1, 300) as client:

        async def one_small() -> None:
            for i in issued:
                if answered.is_set():
                    return
                start = time.perf_counter()
                status = await _post(client, small[i % len(small)], headers)
                latencies.append(time.perf_counter() - start)
                statuses[status] += 1

        async def the_big() -> tuple[int, float]:
            await asyncio.sleep(0.5)  # the small clients are under way first
            start = time.perf_counter()
            try:
                status = await _post(client, big, headers)
            finally:
                answered.set()
            statuses[status] += 1
            return status, time.perf_counter() - start

        *_, (big_status, big_seconds) = await asyncio.gather(
            *(one_small() for _ in range(clients)), the_big()
        )
    return latencies, statuses, big_status, big_seconds


def audit_rows(url: str) -> int:
    """Rows in the audit store's ``decisions`` table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(decisions)
            ).scalar_one()
    finally:
        engine.dispose()


def commit_times(url: str, template: DecisionRecord, n: int) -> list[float]:
    """Seconds of ``n`` decisions' audit commits, one at a time, on the store the server
    writes to."""
    store = AuditStore(url)
    times = []
    try:
        for _ in range(n):
            record = dataclasses.replace(
                template,
                request_id=uuid.uuid4().hex,
                created_at=dt.datetime.now(dt.UTC),
                idempotency_key=None,
                response=None,
            )
            start = time.perf_counter()
            store.record(record)
            times.append(time.perf_counter() - start)
    finally:
        store.close()
    return times


def sequential_times(
    base: str, bodies: Sequence[bytes], n: int, key: str, first: int = 0, warm_up: int = 0
) -> list[float]:
    """Seconds of ``n`` ``/score`` requests sent one at a time (bodies from index ``first``),
    after ``warm_up`` requests that are not timed, as the API ``key``.

    The client is the standard library's: the figure is the server's latency, and
    ``httpx.Client`` added about 2 ms to each request's round trip on this machine.
    """
    require_local(base)
    headers = json_headers(key)
    times = []
    # It reopens the connection by itself after a ``Connection: close`` answer.
    connection = http.client.HTTPConnection("127.0.0.1", int(base.removeprefix(LOCAL)), 60)
    try:
        for i in range(first - warm_up, first + n):
            start = time.perf_counter()
            connection.request("POST", "/score", body=bodies[i % len(bodies)], headers=headers)
            response = connection.getresponse()
            response.read()
            if i >= first:
                times.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"/score answered {response.status} in the sequential run")
    finally:
        connection.close()
    return times


@dataclass(frozen=True)
class SequentialResult:
    """Medians of the sequential ``/score``, of its in-process floor, of one audit commit, of
    the whole path in-process and of that path's own commits, in milliseconds, each over the
    samples of every round."""

    score_ms: float
    floor_ms: float
    commit_ms: float
    path_ms: float
    #: The path's commits: the same work as ``commit_ms`` (``AuditStore.record``), made after
    #: each request's other work instead of back to back.
    path_commit_ms: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.score_ms / (self.floor_ms + self.commit_ms)


def sequential_against_floor(
    base: str,
    bodies: Sequence[bytes],
    key: str,
    url: str,
    floor: Callable[[int, int], list[float]],
    path: Callable[[str, int, int], list[tuple[float, float]]],
    rounds: int = 5,
    per_round: int = 100,
) -> SequentialResult:
    """The sequential ``/score`` p50 beside its floor (``floor(first, n)``: seconds of the
    in-process features + PD + contributions of bodies ``first`` to ``first + n``), one
    audit commit and the in-process path (``path(url, first, n)``: seconds of the same bodies
    decoded, validated, scored and recorded in the store at ``url``, and of each one's
    commit), taken in alternating rounds.

    The machine's speed drifts (a shared host: the same loop ran 0.27 s and 0.50 s a minute
    apart), so the four are sampled side by side rather than minutes apart.
    """
    template: DecisionRecord | None = None
    score: list[float] = []
    floors: list[float] = []
    commits: list[float] = []
    paths: list[tuple[float, float]] = []
    for r in range(rounds):
        first = r * per_round
        floors += floor(first, per_round)
        score += sequential_times(base, bodies, per_round, key, first, warm_up=20 if r == 0 else 2)
        template = template or _latest_decision(url)
        commits += commit_times(url, template, per_round // 5)
        paths += path(url, first, per_round)
    return SequentialResult(
        _p50_ms(score),
        _p50_ms(floors),
        _p50_ms(commits),
        _p50_ms([whole for whole, _ in paths]),
        _p50_ms([commit for _, commit in paths]),
        rounds,
    )


def _p50_ms(seconds: Sequence[float]) -> float:
    return float(np.percentile(np.array(seconds) * 1e3, 50))


def _latest_decision(url: str) -> DecisionRecord:
    """A decision the server recorded: the template of the commits timed beside it."""
    reader = AuditStore(url)
    try:
        return reader.list(limit=1)[0]
    finally:
        reader.close()


@contextmanager
def pg_schema(base_url: str, prefix: str = "techrisk_bench") -> Iterator[str]:
    """A URL on a fresh PostgreSQL schema of its own, dropped afterwards with all it holds.

    The database may be shared (the tests' ``test`` database holds MLflow's tables in
    ``public``), so only this schema is ever created and dropped.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = sa.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / f'audit-{uuid.uuid4().hex[:8]}.db'}"
