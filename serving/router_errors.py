"""The router's own 404 and 405 in the service's one error shape.

Starlette answers a path no route has with ``404 Not Found`` and a method the route does not
take with ``405 Method Not Allowed``, both as ``text/plain``: a client that parses every 4xx
as ``{"error", "errors": [{field, value, rule}]}`` would fail on exactly these. This middleware
rewrites those two plain-text answers (and only them: a JSON 404 of an endpoint passes
untouched), keeping the ``Allow`` header of a 405.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REWRITTEN = (404, 405)
#: The words of a 404 and a 405, here and in the page's own refusals (``serving/ui.py``).
NOT_FOUND = "not found (未找到)"
METHOD_NOT_ALLOWED = "method not allowed (不支持的请求方法)"


def _body(status: int, scope: Scope, allow: str | None) -> bytes:
    if status == 404:
        error = NOT_FOUND
        field, value = "path", scope["path"]
        rule = "is not an endpoint of this service; see /docs.json"
    else:
        error = METHOD_NOT_ALLOWED
        field, value = "method", scope["method"]
        rule = f"must be one of {allow}" if allow else "is not allowed on this path"
    document = {"error": error, "errors": [{"field": field, "value": value, "rule": rule}]}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


class RouterErrorsAsJson:
    """Pure ASGI middleware: plain-text 404/405 answers become the JSON error shape.

    A POST to one of ``routes`` (the JSON endpoints, all POST) is passed straight through:
    the router answers it neither 404 nor 405, and the scoring path pays for no wrapper.
    """

    def __init__(self, app: ASGIApp, routes: Collection[str] = ()) -> None:
        self.app = app
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] in self.routes):
            await self.app(scope, receive, send)
            return
        rewriting: dict[str, Message] = {}

        async def send_json(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                plain = headers.get("content-type", "").startswith("text/plain")
                if message["status"] in _REWRITTEN and plain:
                    rewriting["start"] = message  # held until the body is known to end
                    return
            elif "start" in rewriting:
                if message.get("more_body", False):
                    return  # the router's short text is dropped
                start = rewriting.pop("start")
                headers = Headers(raw=start.get("headers", []))
                body = _body(start["status"], scope, headers.get("allow"))
                kept = [
                    (name, value)
                    for name, value in start.get("headers", [])
                    if name.lower() not in (b"content-type", b"content-length")
                ]
                await send(
                    {
                        **start,
                        "headers": [
                            *kept,
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_json)
