"""The strict input boundary of the JSON endpoints: an ASGI middleware before BentoML.

BentoML 1.4 decodes a body itself and answers what it cannot decode with its own 400 (a
``detail`` list naming internal classes and linking pydantic's docs) and an ERROR traceback in
the log. Every body of a JSON endpoint therefore passes here first, and only a body that is
one strict JSON object within the limits (``serving.limits``) goes on:

- ``Content-Type`` must be ``application/json`` (``charset=utf-8`` allowed): else **415**;
- more than ``TECHRISK_MAX_BODY_BYTES`` (by ``Content-Length``, or counted while it streams;
  never read to the end): **413**;
- a BOM, bytes that are not UTF-8, text that is not JSON, a repeated key, nesting deeper than
  ``serving.limits.MAX_DEPTH``, ``NaN``/``Infinity`` or a top level that is not an object:
  **400**.

A body with ``Content-Length: 0`` is ``{}`` whatever its type (``curl -d ''`` on
``/metadata``).

Each refusal has the service's one error shape ``{"error", "errors": [{field, value,
rule}]}`` and is logged once at WARNING on one line, without a traceback and without the
body's content (names, credit codes). A body that passes is decoded once: the endpoint reads
the decoded object from the request state (:func:`decoded_body`) and BentoML is handed an
empty body, so nothing is decoded twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import limits
from serving.limits import MalformedBody
from serving.responses import ErrorResponse, FieldError

log = logging.getLogger("techrisk.boundary")

#: Where the decoded body waits for the endpoint (``scope["state"]``, ``request.state``).
STATE_KEY = "techrisk_body"
#: Bodies up to this size are decoded on the event loop (well under a millisecond); larger
#: ones in a worker thread.
_INLINE_BYTES = 256 * 1024


def decoded_body(request: Request) -> dict[str, Any] | None:
    """The body the boundary decoded for this request; None when it did not run (in-process
    calls of the service class), and the endpoint then takes BentoML's arguments."""
    return request.scope.get("state", {}).get(STATE_KEY)


class StrictJsonBoundary:
    """Pure ASGI middleware refusing, for the POST routes in ``paths``, every body that is
    not one strict JSON object within the limits (see the module's docstring)."""

    def __init__(self, app: ASGIApp, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._decode(scope, receive)
        except _Refusal as refusal:
            await refusal.send(scope, receive, send)
            return
        if body is None:  # the client went away while sending
            return
        scope.setdefault("state", {})[STATE_KEY] = body
        await self.app(_as_empty_json(scope), _empty_body(receive), send)

    async def _decode(self, scope: Scope, receive: Receive) -> dict[str, Any] | None:
        headers = Headers(scope=scope)
        limit = limits.current().max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _too_large(declared, limit)
        media = headers.get("content-type")
        if media is not None and not _is_json(media) and declared != "0":
            raise _unsupported(media)
        body = await _read(receive, limit)
        if body is None or not body:
            return None if body is None else {}
        if media is None or not _is_json(media):
            raise _unsupported(media)
        try:
            if len(body) <= _INLINE_BYTES:
                return limits.parse_body(body)
            # A large body is decoded off the event loop: other requests keep being served.
            return await anyio.to_thread.run_sync(limits.parse_body, body)
        except MalformedBody as exc:
            error = "malformed request body (请求体格式错误)"
            raise _Refusal(400, error, exc.field, exc.value, exc.rule) from None


def _is_json(media: str) -> bool:
    """``application/json``, bare or with ``charset=utf-8`` (any case, quotes allowed)."""
    kind, *params = (part.strip().lower() for part in media.split(";"))
    if kind != "application/json":
        return False
    return all(p.replace(" ", "") in ("charset=utf-8", 'charset="utf-8"') for p in params if p)


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, stopping as soon as it passes ``limit`` bytes; None on disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(f"more than {limit}", limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _unsupported(media: str | None) -> _Refusal:
    rule = "must be application/json (optionally with ; charset=utf-8)"
    return _Refusal(415, "unsupported media type (不支持的内容类型)", "Content-Type", media, rule)


def _too_large(value: str, limit: int) -> _Refusal:
    rule = f"must be at most {limit} bytes (TECHRISK_MAX_BODY_BYTES)"
    return _Refusal(413, "request body too large (请求体过大)", "(body)", value, rule)


def _as_empty_json(scope: Scope) -> Scope:
    """``scope`` with the headers of the empty JSON body BentoML is handed: the client's own
    ``Content-Type`` (a bodiless POST may declare any, even a multipart one without its
    boundary) must not steer BentoML's parser."""
    framing = (b"content-type", b"content-length")
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in framing]
    return {
        **scope,
        "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", b"0")],
    }


def _empty_body(receive: Receive) -> Receive:
    """``receive`` for BentoML: an empty body first (it reads as ``{}``), then the client's
    own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return replay


class _Refusal(Exception):
    """A 4xx the boundary answers itself."""

    def __init__(self, status: int, error: str, field: str, value: object, rule: str) -> None:
        super().__init__(error)
        self.status = status
        self.body = ErrorResponse(
            error=error, errors=[FieldError(field=field, value=value, rule=rule)]
        )

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        [error] = self.body.errors or []
        # One line: where and which rule; never the body (it may hold names, credit codes).
        log.warning(
            "refused %s %s: %d %s: %s %s",
            scope["method"],
            scope["path"],
            self.status,
            self.body.error,
            error.field,
            error.rule,
        )
        response = JSONResponse(self.body.model_dump(mode="json"), status_code=self.status)
        await response(scope, receive, send)
