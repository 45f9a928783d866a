"""The strict input boundary: no 5xx from input, one error shape, limits, leak-free errors.

Each finding of issue 12 it answers is a test here: a malformed body gets the documented
``{"error", "errors": [{field, value, rule}]}`` with 400/413/415 (never BentoML's own 400),
is logged once at WARNING without a traceback or the body's content; implausible numbers,
oversized tables and repeated records are a 422 naming the field; one bad batch item never
fails the others; a 503 says nothing about the deployment.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving import limits
from serving.boundary import STATE_KEY, StrictJsonBoundary
from serving.limits import MAX_DEPTH, MalformedBody, parse_body
from tests.aio import run_coroutine
from tests.servers import bearer

JSON = {"content-type": "application/json"}
FOUR_HUNDRED_NINES = int("9" * 400)


def _refusal(response, status: int) -> dict[str, Any]:
    """The one error, checked to come in the documented shape and nothing else."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "errors"}, body
    [error] = body["errors"]
    assert set(error) == {"field", "value", "rule"}
    return error


def _errors(response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "errors"}
    return body["errors"]


# -- the strict parse, without a service -----------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "value", "rule"),
    [
        (b"\xef\xbb\xbf{}", "(body)", "EF BB BF", "byte order mark"),
        (b'{"firm": "\xff"}', "(body)", "byte 10: 0xFF", "must be UTF-8"),
        (b'{"firm": ', "(body)", "line 1 column 10", "must be valid JSON"),
        (b'{"a": NaN}', "(body)", "NaN", "NaN and Infinity"),
        (b'{"a": -Infinity}', "(body)", "-Infinity", "NaN and Infinity"),
        (b"[1, 2]", "(body)", "array", "must be a JSON object"),
        (b'"text"', "(body)", "string", "must be a JSON object"),
        (b'{"a": 1, "a": 2}', "a", "a", "must not repeat a key"),
        (
            b'{"ip_assets": [{"ip_id": "1"}, {"ip_id": "2", "claims": 1, "claims": 900}]}',
            "ip_assets[1].claims",
            "claims",
            "must not repeat a key",
        ),
        (b'{"x": {"y": 1, "y": {"z": 1, "z": 2}}}', "x.y", "y", "must not repeat a key"),
        (b'{"\\ud800": 1, "\\ud800": 2}', "\\ud800", "\\ud800", "must not repeat a key"),
        (b"[" * 40 + b"]" * 40, "(body)", 40, f"at most {MAX_DEPTH} levels"),
        (b"[" * 100_000 + b"]" * 100_000, "(body)", f"> {MAX_DEPTH}", "levels"),
    ],
    ids=[
        "bom",
        "bad utf-8",
        "truncated",
        "nan",
        "infinity",
        "array",
        "string",
        "repeated key",
        "repeated key in a record",
        "repeated key in a dropped value",
        "repeated lone surrogate key",
        "too deep",
        "far too deep",
    ],
)
def test_a_malformed_body_is_refused_naming_where_and_why(body, field, value, rule):
    with pytest.raises(MalformedBody) as caught:
        parse_body(body)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert rule in caught.value.rule


def test_a_strict_body_decodes_as_json_does():
    raw = {"a": [1, 2.5, {"b": '[{\\"}]'}], "c": None, "名": "上海", "emoji": "😀"}
    for ascii_only in (False, True):  # ASCII-only JSON spells the emoji as a surrogate pair
        text = json.dumps(raw, ensure_ascii=ascii_only)
        assert parse_body(text.encode()) == raw


@pytest.mark.parametrize(
    "body",
    [
        rb'{"firm": {"name": "\ud800x"}}',
        rb'{"a": {"\udfff": 1}}',
        b'{"a": 1} x',
    ],
    ids=["lone surrogate", "lone surrogate key", "trailing text"],
)
def test_what_only_the_fast_decoder_refuses_is_refused_in_its_words(body):
    with pytest.raises(MalformedBody) as caught:
        parse_body(body)
    assert caught.value.field == "(body)"
    assert caught.value.value.startswith("line 1 column ")
    assert caught.value.rule.startswith("must be valid JSON: ")


@pytest.mark.parametrize(
    "body",
    [
        rb'{"a": "x: y", "b": {"c": ":"}}',
        rb'{"a\\": 1, "a": 2}',
        rb'{"a\"": 1, "a": ["\\\":", {"b\\\\": "::"}]}',
        rb'{"a": "[{"}',
    ],
)
def test_colons_brackets_and_escapes_inside_strings_are_not_members(body):
    assert parse_body(body) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (rb'{"a\\": 1, "a\\": 2}', "a\\"),
        (rb'{"x": ":", "b": [{"c\"": 1, "c\"": "\\\\"}]}', 'b[0].c"'),
    ],
)
def test_repeated_keys_with_escapes_are_found(body, field):
    with pytest.raises(MalformedBody, match="must not repeat a key") as caught:
        parse_body(body)
    assert caught.value.field == field


# -- the middleware, at the ASGI level -------------------------------------------------------
def _drive(app, messages: list[dict[str, Any]], headers: dict[str, str]) -> tuple[int, int]:
    """(response status, how many request messages the app took) for one POST /score."""
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return messages[taken - 1]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/score",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    run_coroutine(StrictJsonBoundary(app, paths={"/score"})(scope, receive, send))
    return sent[0]["status"], taken


async def _never(scope, receive, send) -> None:
    raise AssertionError("a refused body reached the service")


def test_a_streamed_body_past_the_limit_is_refused_without_reading_the_rest(monkeypatch):
    monkeypatch.setenv("TECHRISK_MAX_BODY_BYTES", str(4 * 2**20))
    chunk = b" " * 2**20
    sixty_mb = [{"type": "http.request", "body": chunk, "more_body": True}] * 60
    status, taken = _drive(_never, sixty_mb, JSON)  # no Content-Length: chunked
    assert status == 413
    assert taken == 5  # the fifth MiB passes the 4 MiB limit; 55 are never read


def test_a_declared_length_past_the_limit_is_refused_before_reading(monkeypatch):
    status, taken = _drive(_never, [], {**JSON, "content-length": str(60 * 2**20)})
    assert (status, taken) == (413, 0)


def test_the_service_gets_the_decoded_body_and_an_empty_one_to_decode():
    seen: dict[str, Any] = {}

    async def service(scope, receive, send) -> None:
        seen["decoded"] = scope["state"][STATE_KEY]
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    message = {"type": "http.request", "body": b'{"firm": {"name": "x"}}', "more_body": False}
    status, _ = _drive(service, [message], {"content-type": "application/json; charset=UTF-8"})
    assert status == 200
    assert seen == {"decoded": {"firm": {"name": "x"}}, "body": b""}


def test_limit_settings_are_checked(monkeypatch):
    monkeypatch.setenv("TECHRISK_MAX_RECORDS", "lots")
    with pytest.raises(ValueError, match="TECHRISK_MAX_RECORDS must be a whole number >= 1"):
        limits.current()
    monkeypatch.setenv("TECHRISK_MAX_RECORDS", "0")
    with pytest.raises(ValueError, match="TECHRISK_MAX_RECORDS"):
        limits.current()
    monkeypatch.delenv("TECHRISK_MAX_RECORDS")
    monkeypatch.setenv("TECHRISK_MAX_BODY_BYTES", "1024")
    assert limits.current() == limits.Limits(max_body_bytes=1024, max_records=10_000)


# -- over HTTP, through the whole service ----------------------------------------------------
MALFORMED = [
    # (case, raw body, headers, status, field, rule words)
    ("bom", b"\xef\xbb\xbf{}", JSON, 400, "(body)", "byte order mark"),
    ("bad utf-8", b'{"firm": {"name": "\xc3\x28"}}', JSON, 400, "(body)", "UTF-8"),
    ("malformed json", b'{"firm": {', JSON, 400, "(body)", "valid JSON"),
    ("array body", b"[]", JSON, 400, "(body)", "JSON object"),
    ("nan", b'{"firm": {"registered_capital": NaN}}', JSON, 400, "(body)", "NaN"),
    ("deep nesting", b'{"firm": ' + b"[" * 64 + b"]" * 64 + b"}", JSON, 400, "(body)", "levels"),
    ("duplicate key", b'{"firm": {"name": "a", "name": "b"}}', JSON, 400, "firm.name", "repeat"),
    ("text/plain", b"{}", {"content-type": "text/plain"}, 415, "Content-Type", "application/json"),
    (
        "form body",
        b"name=%E4%B8%8A%E6%B5%B7&credit_code=91310115MA1K4QXX3B",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "Content-Type",
        "application/json",
    ),
    ("no content type", b"{}", {}, 415, "Content-Type", "application/json"),
    (
        "another charset",
        b"{}",
        {"content-type": "application/json; charset=latin-1"},
        415,
        "Content-Type",
        "application/json",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "field", "rule"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
@pytest.mark.parametrize("path", ["/score", "/score_batch", "/whatif", "/counterfactuals"])
def test_malformed_bodies_get_the_documented_shape(
    client, path, body, headers, status, field, rule
):
    error = _refusal(client.post(path, content=body, headers=headers), status)
    assert error["field"] == field and rule in error["rule"]


def test_a_bodiless_post_with_a_multipart_type_is_answered_not_a_500(client):
    """Schemathesis found it: an empty body declared ``multipart/form-data`` without its
    boundary reached BentoML's form parser, which answered 500."""
    response = client.post(
        "/metadata", content=b"", headers={"content-type": "multipart/form-data"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"]["version"]


def test_a_60_mb_body_is_a_413(client):
    error = _refusal(client.post("/score", content=b" " * (60 * 2**20), headers=JSON), 413)
    assert "TECHRISK_MAX_BODY_BYTES" in error["rule"]


def test_unknown_top_level_fields_are_422_in_the_documented_shape(client, sample_requests):
    body = {**sample_requests[0], "notes": "x"}
    errors = _errors(client.post("/score", json=body))
    assert errors == [
        {
            "field": "notes",
            "value": "x",
            "rule": "is not a field of this record (see features/schemas.py)",
        }
    ]
    errors = _errors(client.post("/whatif", json={"request": sample_requests[0], "chnages": []}))
    assert {"field": "chnages", "value": [], "rule": "is not a field of this request"} in errors
    errors = _errors(client.post("/score_batch", json={"items": [], "extra": 1}))
    assert [e["field"] for e in errors] == ["extra"]


def test_a_malformed_body_is_logged_once_as_one_warning_without_its_content(client, caplog):
    name, code = "上海保密科技有限公司", "91310115MA1K4QXX3B"
    form = f"name={name}&credit_code={code}".encode()
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    with caplog.at_level(logging.INFO):
        client.post("/score", content=form, headers=form_type)
        client.post("/score", content=f'{{"firm": {{"name": "{name}", '.encode(), headers=JSON)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    refusals = [r for r in caplog.records if r.name == "techrisk.boundary"]
    assert [r.levelno for r in refusals] == [logging.WARNING] * 2
    for record in refusals:
        text = record.getMessage()
        assert "\n" not in text and record.exc_info is None
        assert name not in text and code not in text
        assert text.startswith("refused POST /score: 4")


def test_a_400_digit_count_is_a_422_naming_field_value_and_rule(client, sample_requests):
    body = copy.deepcopy(sample_requests[0])
    body["ip_assets"][0]["claims"] = FOUR_HUNDRED_NINES
    [error] = _errors(client.post("/score", json=body))
    assert error["field"] == "ip_assets[0].claims"
    assert error["value"] == "9999999999999999…(400 digits)"
    assert error["rule"] == "must be a whole number between 0 and 1000"


def test_implausible_amounts_are_refused(client, sample_requests):
    body = copy.deepcopy(sample_requests[0])
    body["application"]["amount"] = 1e30
    body["firm"]["registered_capital"] = 1e308
    errors = {e["field"]: e for e in _errors(client.post("/score", json=body))}
    assert set(errors) == {"application.amount", "firm.registered_capital"}
    assert errors["application.amount"]["rule"] == "must be a number > 0 and <= 100000"


def test_one_implausible_or_repeated_item_fails_alone_in_a_batch(client, sample_requests):
    huge = copy.deepcopy(sample_requests[1])
    huge["financials"][0]["revenue"] = FOUR_HUNDRED_NINES
    repeated = copy.deepcopy(sample_requests[2])
    repeated["credit_events"].append(repeated["credit_events"][0])
    items = [sample_requests[3], huge, repeated, sample_requests[4]]
    r = client.post("/score_batch", json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["scored"], out["rejected"]) == (2, 2)
    assert [i["ok"] for i in out["items"]] == [True, False, False, True]
    assert out["items"][1]["errors"][0]["field"] == "financials[0].revenue"
    n = len(repeated["credit_events"]) - 1
    assert out["items"][2]["errors"][0]["field"] == f"credit_events[{n}]"


def test_the_same_credit_event_twenty_times_is_refused_not_scored(client, sample_requests):
    body = copy.deepcopy(sample_requests[5])
    assert body["credit_events"], "the sample firm needs a credit event"
    body["credit_events"] += [body["credit_events"][0]] * 19
    errors = _errors(client.post("/score", json=body))
    assert len(errors) == 19
    assert {e["rule"] for e in errors} == {
        "repeats credit_events[0]: one record sent twice would count twice; two records "
        "alike are told apart by their record_id"
    }


@pytest.mark.parametrize("text", ["1_000", " 5 ", "+5"])
def test_numbers_as_loose_text_are_refused(client, sample_requests, text):
    body = copy.deepcopy(sample_requests[0])
    body["application"]["amount"] = text
    [error] = _errors(client.post("/score", json=body))
    assert (error["field"], error["value"]) == ("application.amount", text)


def test_a_table_past_the_record_limit_is_refused_before_its_records_are_read(
    client, sample_requests, monkeypatch
):
    body = copy.deepcopy(sample_requests[0])
    limit = max(len(records) for records in body.values() if isinstance(records, list))
    monkeypatch.setenv("TECHRISK_MAX_RECORDS", str(limit))
    body["ip_assets"] = [{"junk": i} for i in range(limit + 1)]  # never validated one by one
    [error] = _errors(client.post("/score", json=body))
    assert error == {
        "field": "ip_assets",
        "value": limit + 1,
        "rule": f"must have at most {limit} records (TECHRISK_MAX_RECORDS)",
    }


def test_the_503_of_an_unusable_store_says_nothing_about_the_deployment(
    registry, sample_requests, monkeypatch, asgi_app, caplog, new_key
):
    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    url = "postgresql+psycopg://auditor@127.0.0.1:1/bank_audit"
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    with (
        TestClient(asgi_app, headers=bearer(new_key())) as c,
        caplog.at_level(logging.ERROR),
    ):
        r = c.post("/score", json=sample_requests[0])
        batch = c.post("/score_batch", json={"items": sample_requests[:2]})
    for response in (r, batch):
        assert response.status_code == 503
        text = response.text.lower()
        for secret in (
            "auditor",
            "127.0.0.1",
            "bank_audit",
            "postgres",
            "psycopg",
            "select",
            "insert",
        ):
            assert secret not in text, (secret, response.text)
        assert "audit store unavailable" in response.json()["error"]
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)  # the details: logged


def test_the_routers_404_and_405_have_the_documented_shape(client, new_key):
    admin = {"authorization": f"Bearer {new_key('admin')}"}  # unknown paths need admin
    error = _refusal(client.get("/no-such-endpoint", headers=admin), 404)
    assert error == {
        "field": "path",
        "value": "/no-such-endpoint",
        "rule": "is not an endpoint of this service; see /docs.json",
    }
    wrong = client.get("/score")
    assert wrong.headers["allow"] == "POST"
    error = _refusal(wrong, 405)
    assert error == {"field": "method", "value": "GET", "rule": "must be one of POST"}
    # An endpoint's own JSON answers pass untouched.
    assert client.post("/metadata").json()["model"]["version"]
