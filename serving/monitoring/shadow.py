"""Shadow scoring: a second model scores each request after the champion's answer has left.

With ``TECHRISK_SHADOW_URI`` set (e.g. ``models:/techrisk-pd@challenger``), the service hands
each scored feature matrix to :class:`ShadowScorer`, which queues it and returns at once; one
background thread scores it with the scoring kernel (``models.kernel``, one LightGBM thread, no
reason texts) and writes the shadow's PD, score, grade and decision to ``shadow_scores`` under
the decision's request id. The caller never sees the shadow, and never waits for it: a full
queue drops the shadow of that request (counted and logged) rather than delay an answer, and a
failing shadow write is logged, never raised into a request.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Sequence

import numpy as np

from models import kernel
from serving.audit import AuditStore
from serving.scoring import ModelHandle

log = logging.getLogger("techrisk.shadow")

#: Queued batches before new ones are dropped (a batch is one request or one /score_batch group).
QUEUE_SIZE = 1000
#: Batches written per transaction when the thread catches up on a backlog.
WRITE_BATCHES = 64


class ShadowScorer:
    """Scores queued feature matrices with the shadow model in one background thread."""

    def __init__(self, handle: ModelHandle, audit: AuditStore, queue_size: int = QUEUE_SIZE):
        self.handle = handle
        self.audit = audit
        self.dropped = 0
        self.failed = 0
        self.written = 0
        self._queue: queue.Queue[tuple[np.ndarray, list[str], list[str]] | None] = queue.Queue(
            queue_size
        )
        self._thread = threading.Thread(target=self._run, name="techrisk-shadow", daemon=True)
        self._thread.start()

    def submit(self, X: np.ndarray, products: Sequence[str], request_ids: Sequence[str]) -> None:
        """Queue rows scored by the champion; never blocks."""
        try:
            self._queue.put_nowait((X, list(products), list(request_ids)))
        except queue.Full:
            self.dropped += len(request_ids)
            log.warning("shadow queue full: %d requests not shadow-scored so far", self.dropped)

    def drain(self) -> None:
        """Wait until everything queued so far is scored and written (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        """Finish the queue, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batches = [self._queue.get()]
            while len(batches) < WRITE_BATCHES:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            work = [b for b in batches if b is not None]
            try:
                if work:
                    self._score(work)
            except Exception:  # a shadow must never take the service down
                self.failed += sum(len(ids) for _, _, ids in work)
                log.exception("shadow scoring failed; %d requests unscored so far", self.failed)
            finally:
                for _ in batches:
                    self._queue.task_done()
            if len(work) < len(batches):
                return

    def _score(self, work: list[tuple[np.ndarray, list[str], list[str]]]) -> None:
        handle = self.handle
        X = np.vstack([x for x, _, _ in work])
        products = [p for _, ps, _ in work for p in ps]
        ids = [i for _, _, ids in work for i in ids]
        scored = kernel.score(handle.model, X, products, top=0, threads=1)
        now = dt.datetime.now(dt.UTC)
        self.audit.record_shadow(
            [
                {
                    "request_id": request_id,
                    "created_at": now,
                    "model_name": handle.name,
                    "model_version": handle.version,
                    "pd": float(scored.pd[i]),
                    "score": float(scored.score[i]),
                    "grade": int(scored.grade[i]),
                    "decision": str(scored.decision[i]),
                }
                for i, request_id in enumerate(ids)
            ]
        )
        self.written += len(ids)
