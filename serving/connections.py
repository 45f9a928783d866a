"""Spread keep-alive clients over the worker processes: ``Connection: close`` now and then.

The workers of ``bentoml serve`` accept from one shared listening socket. When a client opens
its connections in a burst, the worker whose event loop wakes first accepts all of them, and
keep-alive then pins every request of that client to one process: measured with 8 clients
and 2 workers, per-worker CPU seconds split [0.1, 31.5] in some runs and [13.0, 13.2] in
others, at 60 against 113 requests/s. Asking a client to reconnect after a few requests
re-deals its connections: a busy worker is slow to reach ``accept`` and the idle one takes the
new connection. The cost is one TCP handshake per ``limit`` requests. Every HTTP/1.1 client
reconnects on ``Connection: close`` by itself (uvicorn closes the connection after sending
the response), so real clients benefit, not only the benchmark.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Connections remembered at most; past it the counts restart (a client that went away before
#: its limit leaves its count behind, and a restart only makes the next close come later).
MAX_TRACKED = 4_096


class RecycleConnections:
    """ASGI middleware: the ``limit``-th response on a connection carries ``Connection: close``.

    A connection is known by its client address and port, unique while it is open within one
    worker process; HTTP/1.1 serves one request at a time per connection, and the event loop
    runs this middleware in one thread, so the counts need no lock. ``limit`` 0 turns it off.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0 requests per connection; got {limit}")
        self.app = app
        self.limit = limit
        self._served: dict[tuple[Any, ...], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if not self.limit or client is None:
            await self.app(scope, receive, send)
            return
        key = tuple(client)
        served = self._served.pop(key, 0) + 1
        if served < self.limit:
            if len(self._served) >= MAX_TRACKED:
                self._served.clear()
            self._served[key] = served
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)
