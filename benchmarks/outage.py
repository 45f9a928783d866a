"""The outage figures of the load table: a real ``bentoml serve`` while its audit store is
locked by another client, then released.

While the lock is held, each endpoint is timed once: ``/score`` must answer 503 within the
audit deadline (plus the time to build the answer), ``/readyz`` must say 503 as promptly, and
``/metadata`` must not wait on the store at all. After the release, ``/readyz`` is polled
until it is 200 again (the recovery time), one more ``/score`` must succeed, and, a deadline
later, the store must hold exactly the rows of the 200 answers: nothing refused was committed
afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from benchmarks.load import audit_rows, json_headers, require_local
from tests.serving.audit_records import held_write_lock

#: How long the lock is held before the endpoints are timed (the service sees a stall, not
#: a lock taken a moment before the request).
SETTLE_S = 0.5
#: Readiness polling interval after the release.
POLL_S = 0.05


@dataclass(frozen=True)
class OutageResult:
    """What each endpoint answered during the outage, how fast, and what was recorded."""

    score_status: int
    score_seconds: float
    ready_status: int
    ready_seconds: float
    metadata_status: int
    metadata_seconds: float
    recovered_seconds: float  # release → first 200 from /readyz
    after_status: int  # /score once recovered
    added_rows: int
    ok_answers: int


def run_outage(base: str, audit_url: str, key: str, body: bytes, deadline_s: float) -> OutageResult:
    """Lock the audit store, time ``/score``, ``/readyz`` and ``/metadata``, release, time
    the recovery; ``body`` is one valid score request."""
    require_local(base)
    headers = json_headers(key)
    before = audit_rows(audit_url)
    with httpx.Client(base_url=base, timeout=120) as client:

        def timed(method: str, path: str, **kw: object) -> tuple[int, float]:
            start = time.perf_counter()
            response = client.request(method, path, **kw)  # type: ignore[arg-type]
            return response.status_code, time.perf_counter() - start

        with held_write_lock(audit_url):
            time.sleep(SETTLE_S)
            score = timed("POST", "/score", content=body, headers=headers)
            ready = timed("GET", "/readyz")
            metadata = timed("POST", "/metadata", headers=headers)
        released = time.perf_counter()
        while client.get("/readyz").status_code != 200:
            if time.perf_counter() - released > 60:
                raise TimeoutError("/readyz did not recover within 60 s of the release")
            time.sleep(POLL_S)
        recovered = time.perf_counter() - released
        after, _ = timed("POST", "/score", content=body, headers=headers)
    time.sleep(deadline_s + 1.0)  # a late commit would land within this
    ok = (score[0] == 200) + (after == 200)
    return OutageResult(
        score[0],
        score[1],
        ready[0],
        ready[1],
        metadata[0],
        metadata[1],
        recovered,
        after,
        audit_rows(audit_url) - before,
        ok,
    )
