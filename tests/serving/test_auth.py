"""API keys, roles and the per-key rate limit (``serving/auth.py``).

Most tests put the middleware in front of a bare app that answers 200 on every path, so they
check who gets through without a model; the last ones check it is on the real service, the
mounted page included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.api_keys import KeyStore
from serving.auth import ApiKeyAuth
from tests.aio import run_coroutine
from tests.servers import api_key, bearer


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path})


@pytest.fixture
def keys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "api_keys.json"
    monkeypatch.setenv("TECHRISK_API_KEYS", str(path))
    return path


@pytest.fixture
def make_key(keys_path: Path, tmp_path: Path) -> Callable[..., str]:
    return lambda *roles: api_key(os.environ, tmp_path, *roles)


@pytest.fixture
def app(keys_path: Path) -> Iterator[TestClient]:
    bare = Starlette(
        routes=[Route("/{path:path}", _echo, methods=["GET", "POST"])],
        middleware=[Middleware(ApiKeyAuth)],
    )
    with TestClient(bare) as client:
        yield client


def _refusal(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "errors"}
    (error,) = body["errors"]
    assert error["field"] == "Authorization"
    return error


def test_no_key_is_401_with_a_bearer_challenge(app: TestClient, make_key) -> None:
    make_key()
    for path in ("/score", "/metadata", "/ui/api/samples", "/admin/reload", "/anything"):
        error = _refusal(app.post(path, json={}), 401)
        assert error["value"] is None and "Bearer" in error["rule"]
    assert app.post("/score").headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-key", "tr_0123abcd_" + "x" * 43],
)
def test_a_malformed_key_is_401_and_never_echoed(app: TestClient, make_key, header) -> None:
    make_key()
    response = app.post("/score", headers={"Authorization": header})
    error = _refusal(response, 401)
    assert error["value"] is None
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    sent = header.rsplit(" ", 1)[-1]
    assert sent == "Bearer" or sent not in response.text


def test_a_wrong_secret_or_unknown_id_is_401(app: TestClient, make_key) -> None:
    key = make_key()
    kid = key.split("_")[1]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    error = _refusal(app.post("/score", headers=bearer(forged)), 401)
    assert error["value"] == f"tr_{kid}_…" and forged not in str(error)
    unknown = "tr_ffffffff_" + key.split("_", 2)[2]
    _refusal(app.post("/score", headers=bearer(unknown)), 401)
    assert app.post("/score", headers=bearer(key)).status_code == 200


def test_a_revoked_key_stops_at_its_next_request_without_restart(
    app: TestClient, make_key, keys_path: Path
) -> None:
    key = make_key()
    assert app.post("/score", headers=bearer(key)).status_code == 200
    KeyStore(keys_path).revoke(key.split("_")[1])
    error = _refusal(app.post("/score", headers=bearer(key)), 401)
    assert "revoked" in error["rule"]
    # A key added afterwards works at once too.
    assert app.post("/score", headers=bearer(make_key())).status_code == 200


@pytest.mark.parametrize(
    ("roles", "allowed", "refused"),
    [
        (
            ("scorer",),
            ["/score", "/score_batch", "/whatif", "/counterfactuals", "/metadata",
             "/ui/api/samples", "/ui/api/history/91310000MA1FL3LH1J"],
            ["/admin/reload", "/admin/other", "/unknown"],
        ),
        (
            ("auditor",),
            ["/metadata", "/ui/api/history/91310000MA1FL3LH1J", "/ui/api/families"],
            ["/score", "/score_batch", "/whatif", "/ui/api/samples", "/ui/api/batch",
             "/admin/reload"],
        ),
        (
            ("admin",),
            ["/score", "/metadata", "/admin/reload", "/ui/api/batch", "/unknown"],
            [],
        ),
    ],
)  # fmt: skip
def test_roles(app: TestClient, make_key, roles, allowed, refused) -> None:
    key = make_key(*roles)
    for path in allowed:
        assert app.post(path, headers=bearer(key)).status_code == 200, (roles, path)
    for path in refused:
        error = _refusal(app.post(path, headers=bearer(key)), 403)
        assert path in error["rule"] and "admin" in error["rule"]
        assert key not in str(error)


def test_open_paths_need_no_key(app: TestClient) -> None:
    for path in (
        "/",
        "/livez",
        "/readyz",
        "/healthz",
        "/metrics",
        "/docs.json",
        "/schema.json",
        "/static_content/index.css",
        "/ui",
        "/ui/",
        "/ui/static/app.js",
    ):
        assert app.get(path).status_code == 200, path
    # What only looks like the open paths stays closed.
    for path in ("/ui/api/samples", "/ui/apix", "/livez/x", "/uiapi", "/static_contentx"):
        assert app.get(path).status_code == 401, path


def test_the_burst_then_429_with_retry_after_per_key(
    app: TestClient, make_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHRISK_RATE_BURST", "3")
    monkeypatch.setenv("TECHRISK_RATE_PER_S", "0.25")
    key, other = make_key(), make_key()
    codes = [app.post("/score", headers=bearer(key)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = app.post("/score", headers=bearer(key))
    error = _refusal(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 4
    assert "3" in error["rule"] and key not in limited.text
    assert app.post("/score", headers=bearer(other)).status_code == 200


def test_an_unreadable_keys_file_refuses_every_key_with_503_and_no_path(
    app: TestClient, make_key, keys_path: Path
) -> None:
    key = make_key()
    keys_path.write_text('{"version": 1, "keys": [{"id": "nope"}]}', encoding="utf-8")
    response = app.post("/score", headers=bearer(key))
    assert response.status_code == 503
    assert response.json() == {"error": "authentication unavailable: retry later"}
    assert app.get("/livez").status_code == 200


def test_refused_before_the_body_is_read(keys_path: Path) -> None:
    """A refused request never reaches the app and its body is never received."""
    reached: list[str] = []

    async def inner(scope, receive, send) -> None:
        reached.append(scope["path"])

    async def receive() -> dict:
        raise AssertionError("the body was read")

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/score", "headers": [], "root_path": ""}
    run_coroutine(ApiKeyAuth(inner)(scope, receive, send))
    assert sent[0]["status"] == 401 and not reached


# -- on the real service (the model of the small market) -------------------------------------


def test_the_service_and_its_page_are_closed_without_a_key(client, sample_requests) -> None:
    no_key = {"Authorization": ""}
    assert client.post("/score", json=sample_requests[0], headers=no_key).status_code == 401
    assert client.get("/ui/api/samples", headers=no_key).status_code == 401
    assert client.get("/ui/api/history/91310000MA1FL3LH1J", headers=no_key).status_code == 401
    for path in ("/livez", "/readyz", "/docs.json", "/ui/", "/ui/static/app.js"):
        assert client.get(path, headers=no_key).status_code == 200, path
    assert client.post("/score", json=sample_requests[0]).status_code == 200  # scorer key


def test_an_auditor_reads_metadata_and_history_but_cannot_score(
    client, new_key, sample_requests
) -> None:
    auditor = bearer(new_key("auditor"))
    assert client.post("/score", json=sample_requests[0], headers=auditor).status_code == 403
    assert client.post("/score", json=sample_requests[0]).status_code == 200  # scorer key
    assert client.post("/metadata", json={}, headers=auditor).status_code == 200
    code = sample_requests[0]["firm"]["credit_code"]
    history = client.get(f"/ui/api/history/{code}", headers=auditor)
    assert history.status_code == 200 and len(history.json()["decisions"]) == 1
