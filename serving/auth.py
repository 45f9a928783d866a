"""Who may call what: API keys with roles and a per-key rate limit, as a pure ASGI middleware.

Registered on the service (``TechRiskService.add_asgi_middleware``), it wraps BentoML's whole
app, the mounted loan officer's page included, and decides from the path and the
``Authorization: Bearer <key>`` header alone, before any body is read:

- open without a key: health (``/livez``, ``/readyz``, ``/healthz``), ``/metrics``, the
  OpenAPI page and document (``/``, ``/docs.json``, ``/schema.json``, BentoML's static
  assets) and the page's static files under ``/ui/`` (HTML, JavaScript, CSS: no data);
- ``scorer``: ``/score``, ``/score_batch``, ``/whatif``, ``/counterfactuals``, ``/metadata``
  and the page's helpers ``/ui/api/*``;
- ``auditor``: ``/metadata`` and the audit read over HTTP, ``/ui/api/history/*`` (the other
  audit reads are the ``techrisk audit`` commands, on the store itself);
- ``admin``: everything, ``/admin/reload`` included; any other path is closed to the rest.

Refusals are in the service's error shape, naming the ``Authorization`` field and never the
key: 401 (missing, malformed, unknown or revoked key, with ``WWW-Authenticate: Bearer``), 403
(the key's roles do not cover the path), 429 (the key's token bucket is empty, with
``Retry-After``) and 503 when the keys file is unreadable (every key refused, the reason
logged).

The rate limit is a token bucket per key in each worker process (``TECHRISK_RATE_PER_S``
sustained, ``TECHRISK_RATE_BURST`` at once): with N workers a key may get up to N times the
rate. A bucket is a few lines; a rate-limit library would bring storage backends and window
algorithms this service does not need.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from serving.api_keys import ApiKey, KeysFileInvalid, KeyStore, key_id
from techrisk_base import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: (status, body, extra headers) of a refused request.
Refusal = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]

#: Paths anyone may read: health, metrics, the API's documentation, the page's files.
OPEN_PATHS = frozenset(
    {"/", "/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/schema.json", "/ui", "/ui/"}
)
OPEN_PREFIXES = ("/static_content/", "/assets/", "/ui/static/")
#: Roles besides admin that may call a path; a key ending in "/" covers the paths under it
#: (the longest such prefix decides). Every path not listed is admin's alone.
GRANTS: dict[str, tuple[str, ...]] = {
    "/score": ("scorer",),
    "/score_batch": ("scorer",),
    "/whatif": ("scorer",),
    "/counterfactuals": ("scorer",),
    "/metadata": ("scorer", "auditor"),
    "/ui/api/": ("scorer",),
    "/ui/api/families": ("scorer", "auditor"),
    "/ui/api/history/": ("scorer", "auditor"),
}
_PREFIX_GRANTS = sorted((p for p in GRANTS if p.endswith("/")), key=len, reverse=True)
FIELD = "Authorization"
KEY_SHAPE = "must be 'Bearer tr_<id>_<secret>', a key made by `techrisk keys create`"


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def roles_for(path: str) -> tuple[str, ...]:
    """Every role that may call ``path`` (admin always among them)."""
    granted = GRANTS.get(path)
    if granted is None:
        granted = next((GRANTS[p] for p in _PREFIX_GRANTS if path.startswith(p)), ())
    return (*granted, "admin")


def check_settings() -> None:
    """Read the rate settings once at start, so a bad value refuses to start the service
    instead of failing the first request."""
    settings.rate_per_s()
    settings.rate_burst()


@dataclass
class TokenBucket:
    """``burst`` requests at once, refilled at ``rate`` per second."""

    rate: float
    burst: int
    tokens: float
    stamp: float

    @classmethod
    def full(cls, rate: float, burst: int) -> TokenBucket:
        return cls(rate, burst, float(burst), time.monotonic())

    def take(self) -> float:
        """0 when a request may pass (and is counted), else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class ApiKeyAuth:
    """The ASGI middleware; ``store`` defaults to the keys file of the settings."""

    def __init__(self, app: ASGIApp, store: KeyStore | None = None) -> None:
        self.app = app
        self.store = store or KeyStore()
        # One event loop per worker calls this middleware: no lock needed around the buckets.
        self.buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_open(_route_path(scope)):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, body, headers = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _refusal(self, scope: Scope) -> Refusal | None:
        """None when the request may go on, else (status, body, extra headers)."""
        path = _route_path(scope)
        header = _header(scope, b"authorization")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            return _unauthorized(None, "is required: send 'Authorization: Bearer <key>'", False)
        if scheme.lower() != "bearer" or key_id(token) is None:
            return _unauthorized(None, KEY_SHAPE, True)
        shown = f"tr_{key_id(token)}_…"
        try:
            key = self.store.authenticate(token)
        except KeysFileInvalid:
            # The reason (the file's path and fault) is logged by the store, not answered.
            return 503, {"error": "authentication unavailable: retry later"}, []
        if key is None:
            return _unauthorized(shown, "is not an active key (unknown, or revoked)", True)
        allowed = roles_for(path)
        if not set(key.roles) & set(allowed):
            rule = f"has roles {', '.join(key.roles)}; {path} needs one of {', '.join(allowed)}"
            return 403, _error("forbidden for this key's roles", shown, rule), []
        wait = self._bucket(key).take()
        if wait:
            retry = max(1, math.ceil(wait))
            bucket = self.buckets[key.id]
            rule = (
                f"at most {bucket.rate:g} requests/s with bursts of {bucket.burst} per key; "
                f"retry after {retry} s"
            )
            return (
                429,
                _error("too many requests", shown, rule),
                [(b"retry-after", str(retry).encode())],
            )
        return None

    def _bucket(self, key: ApiKey) -> TokenBucket:
        bucket = self.buckets.get(key.id)
        if bucket is None:
            bucket = TokenBucket.full(settings.rate_per_s(), settings.rate_burst())
            self.buckets[key.id] = bucket
        return bucket


def _unauthorized(shown: str | None, rule: str, invalid: bool) -> Refusal:
    """401 with the RFC 6750 challenge; ``invalid``: a key was sent but is not accepted."""
    challenge = b'Bearer realm="techrisk"'
    if invalid:
        challenge += b', error="invalid_token"'
    return 401, _error("unauthorized", shown, rule), [(b"www-authenticate", challenge)]


def _error(error: str, value: str | None, rule: str) -> dict[str, Any]:
    """The service's error shape (``serving.responses.ErrorResponse``)."""
    return {"error": error, "errors": [{"field": FIELD, "value": value, "rule": rule}]}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def _route_path(scope: Scope) -> str:
    """The path the router will match (the scope's path below any ``root_path``)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path != root and path[len(root)] == "/":
        return path[len(root) :]
    return path
