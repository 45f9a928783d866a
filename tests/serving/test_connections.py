"""Keep-alive connections are asked to reconnect after ``limit`` requests, so clients re-spread
over the worker processes (``serving/connections.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from serving.connections import MAX_TRACKED, RecycleConnections
from techrisk_base import settings
from techrisk_base.errors import InvalidArgument
from tests.aio import run_coroutine


async def _answer(scope: dict, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _headers(app: RecycleConnections, client: tuple[str, int], kind: str = "http") -> list:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    scope = {"type": kind, "client": client}
    run_coroutine(app(scope, receive, send))
    assert sent[-1] == {"type": "http.response.body", "body": b"{}"}
    return sent[0]["headers"]


def _closes(headers: list) -> bool:
    return (b"connection", b"close") in headers


def test_every_limit_th_response_on_a_connection_says_close() -> None:
    app = RecycleConnections(_answer, limit=3)
    first, second = ("127.0.0.1", 50001), ("127.0.0.1", 50002)
    seen = [_closes(_headers(app, first)) for _ in range(7)]
    assert seen == [False, False, True, False, False, True, False]
    # another connection has its own count; the original headers are kept
    headers = _headers(app, second)
    assert not _closes(headers) and (b"x-a", b"1") in headers


def test_close_replaces_a_keep_alive_header_the_app_set() -> None:
    async def keep(scope: dict, receive: Any, send: Any) -> None:
        headers = [(b"connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    app = RecycleConnections(keep, limit=1)
    assert _headers(app, ("127.0.0.1", 50003)) == [(b"connection", b"close")]


def test_limit_zero_and_non_http_scopes_pass_through() -> None:
    off = RecycleConnections(_answer, limit=0)
    assert not any(_closes(_headers(off, ("127.0.0.1", 50004))) for _ in range(50))
    on = RecycleConnections(_answer, limit=1)
    assert not _closes(_headers(on, ("127.0.0.1", 50005), kind="websocket"))


def test_forgotten_connections_do_not_grow_without_bound() -> None:
    app = RecycleConnections(_answer, limit=2)
    for port in range(MAX_TRACKED * 2):
        _headers(app, ("127.0.0.1", port))
    assert len(app._served) <= MAX_TRACKED


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be >= 0"):
        RecycleConnections(_answer, limit=-1)


def test_setting_default_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TECHRISK_REQUESTS_PER_CONNECTION", raising=False)
    assert settings.requests_per_connection() == settings.DEFAULT_REQUESTS_PER_CONNECTION
    monkeypatch.setenv("TECHRISK_REQUESTS_PER_CONNECTION", "0")
    assert settings.requests_per_connection() == 0
    for bad in ("-1", "ten", "2.5"):
        monkeypatch.setenv("TECHRISK_REQUESTS_PER_CONNECTION", bad)
        with pytest.raises(InvalidArgument, match="TECHRISK_REQUESTS_PER_CONNECTION"):
            settings.requests_per_connection()


def test_the_service_registers_the_middleware() -> None:
    from serving.service import TechRiskService

    assert RecycleConnections in [cls for cls, _ in TechRiskService.middlewares]
