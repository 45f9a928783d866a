"""What-if and counterfactual endpoints (ASGI in-process), and the page's helper API."""

from __future__ import annotations

import copy
import re

import pytest

from serving.audit import AuditStore
from serving.schemas import ScoreRequest
from serving.whatif import (
    ChangeNotApplicable,
    ClearOverdues,
    EquityRound,
    InventionPatents,
    TaxRatingChange,
    apply_changes,
)
from tests.servers import bearer


def _with_overdue(sample_requests) -> dict:
    return next(
        b for b in sample_requests if any(e["kind"] == "overdue" for e in b["credit_events"])
    )


def test_whatif_scores_original_and_changed_records_side_by_side(client, sample_requests):
    body = sample_requests[0]
    changes = [
        {"kind": "invention_patents", "count": 3},
        {"kind": "equity_round", "amount": 2000, "round": "B"},
        {"kind": "tax_rating", "rating": "A"},
    ]
    r = client.post("/whatif", json={"request": body, "changes": changes})
    assert r.status_code == 200, r.text
    out = r.json()
    original = client.post("/score", json=body).json()
    assert out["original"]["pd"] == original["pd"]  # the same path as /score
    changed = apply_changes(ScoreRequest.model_validate(body), [
        InventionPatents(kind="invention_patents", count=3),
        EquityRound(kind="equity_round", amount=2000, round="B"),
        TaxRatingChange(kind="tax_rating", rating="A"),
    ])  # fmt: skip
    again = client.post("/score", json=changed.model_dump(mode="json")).json()
    assert out["modified"]["pd"] == again["pd"]
    # More granted inventions, equity and the best tax rating never raise PD (monotone).
    assert out["modified"]["pd"] <= out["original"]["pd"]
    assert out["delta"]["pd"] == pytest.approx(out["modified"]["pd"] - out["original"]["pd"])
    assert out["changes"][0]["zh"] == "新增 3 件授权发明专利"


def test_whatif_is_not_recorded_as_a_decision(client, sample_requests, service_env):
    body = sample_requests[1]
    before = len(AuditStore(service_env).list(limit=1000))
    changes = [{"kind": "invention_patents", "count": 1}]
    assert client.post("/whatif", json={"request": body, "changes": changes}).status_code == 200
    assert len(AuditStore(service_env).list(limit=1000)) == before


def test_clearing_overdues_removes_them_and_does_not_raise_pd(client, sample_requests):
    body = _with_overdue(sample_requests)
    request = ScoreRequest.model_validate(body)
    cleared = apply_changes(request, [ClearOverdues(kind="clear_overdues")])
    as_of = request.application.as_of
    assert not [e for e in cleared.credit_events if e.kind == "overdue" and e.event_on < as_of]
    out = client.post(
        "/whatif", json={"request": body, "changes": [{"kind": "clear_overdues"}]}
    ).json()
    assert out["modified"]["pd"] <= out["original"]["pd"]


def test_whatif_errors_name_the_change_and_the_request_field(client, sample_requests):
    body = copy.deepcopy(sample_requests[2])
    body["application"]["as_of"] = "2999-01-01"
    r = client.post("/whatif", json={"request": body, "changes": [{"kind": "invention_patents",
                                                                   "count": 0}]})  # fmt: skip
    assert r.status_code == 422
    fields = {e["field"]: e for e in r.json()["errors"]}
    assert "request.application.as_of" in fields
    assert "changes[0].invention_patents.count" in fields
    unknown = client.post("/whatif", json={"request": sample_requests[2],
                                           "changes": [{"kind": "grow_revenue"}]})  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "changes[0]"


def test_a_change_with_nothing_to_act_on_is_an_error(sample_requests):
    clean = next(
        b for b in sample_requests if not any(e["kind"] == "overdue" for e in b["credit_events"])
    )
    with pytest.raises(ChangeNotApplicable, match="no overdue"):
        apply_changes(ScoreRequest.model_validate(clean), [ClearOverdues(kind="clear_overdues")])


def test_counterfactuals_reach_their_goal_when_scored_through_score(client, sample_requests):
    checked = 0
    for body in sample_requests[:12]:
        r = client.post("/counterfactuals", json={"request": body, "goal": "next_grade"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["candidates_scored"] >= 0 and out["elapsed_ms"] > 0
        for s in out["suggestions"]:
            assert s["grade"] <= out["original"]["grade"] - 1
            assert len(s["changes"]) <= 3 and s["cost"] > 0
            changed = apply_changes(
                ScoreRequest.model_validate(body),
                [_parse(c) for c in s["changes"]],
            )
            scored = client.post("/score", json=changed.model_dump(mode="json")).json()
            assert scored["grade"] == s["grade"] and scored["pd"] == pytest.approx(s["pd"])
            checked += 1
    assert checked > 0


def test_counterfactual_suggestions_stay_plausible(client, sample_requests):
    for body in sample_requests[:12]:
        out = client.post("/counterfactuals", json={"request": body, "goal": "approve"}).json()
        last = max((r["amount"] for r in body["financing_rounds"]), default=0)
        for s in out["suggestions"]:
            assert s["decision"] == "approve"
            for c in s["changes"]:
                if c["kind"] == "invention_patents":
                    assert c["count"] <= 5
                if c["kind"] == "equity_round":
                    assert c["amount"] <= max(5000, 2 * last)


def test_counterfactual_goal_is_validated(client, sample_requests):
    r = client.post("/counterfactuals", json={"request": sample_requests[0], "goal": "triple"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "goal"


def _parse(change: dict):
    from serving.whatif import parse_changes

    return parse_changes([change])[0]


# -- the page's helpers ------------------------------------------------------------------------
def test_page_and_its_assets_are_served_without_a_cdn(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and "static/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("app.js", "app.css", "i18n.js"):
        r = client.get(f"/ui/static/{asset}")
        assert r.status_code == 200 and "https://" not in r.text


def test_samples_are_searchable_and_scorable(client):
    found = client.get("/ui/api/samples", params={"q": "", "limit": 5}).json()
    assert len(found) == 5
    first = found[0]
    by_code = client.get("/ui/api/samples", params={"q": first["credit_code"][-6:]}).json()
    assert first["credit_code"] in {s["credit_code"] for s in by_code}
    by_name = client.get("/ui/api/samples", params={"q": first["name"][2:6]}).json()
    assert first["credit_code"] in {s["credit_code"] for s in by_name}
    body = client.get(f"/ui/api/samples/{first['credit_code']}").json()
    assert client.post("/score", json=body).status_code == 200


def test_history_lists_the_firms_decisions(client, sample_requests):
    body = sample_requests[4]
    out = client.post("/score", json=body).json()
    history = client.get(f"/ui/api/history/{body['firm']['credit_code']}").json()
    assert history["decisions"][0]["request_id"] == out["request_id"]
    bad = client.get("/ui/api/history/91310115MA1K4QXX3A")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "credit_code"


def test_the_pages_api_refuses_in_the_services_one_error_shape(client, new_key):
    """FastAPI's and Starlette's own refusals inside the page (a parameter of the wrong type,
    a multipart body it cannot read, a path without a route) read as every other 4xx, and
    its document says so instead of FastAPI's ``{"detail": ...}``."""
    typed = client.get("/ui/api/samples", params={"limit": "abc"})
    assert typed.status_code == 422
    assert typed.json()["errors"] == [
        {
            "field": "limit",
            "value": "abc",
            "rule": "must be a valid integer, unable to parse string as an integer",
        }
    ]
    garbled = client.post(
        "/ui/api/tables",
        content=b"garbage",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert garbled.status_code == 400
    assert garbled.json()["errors"][0]["field"] == "(body)"
    missing = client.get("/ui/api/nothing")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "path"
    # the page's document, like every path no role names, is for admins
    document = client.get("/ui/openapi.json", headers=bearer(new_key("admin"))).json()
    assert "HTTPValidationError" not in str(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            assert {"401", "403", "404", "422", "429"} <= set(operation["responses"])


def test_policy_checklist_comes_from_the_feature_code(client, sample_requests):
    out = client.post("/ui/api/policy", json=sample_requests[5]).json()
    checks = {c["key"]: c for c in out["checks"]}
    assert checks["tsme_total"]["value"] == out["features"]["pol_tsme_points"]
    assert len(checks) == 13


def test_openapi_documents_whatif_and_counterfactuals(client):
    spec = client.get("/docs.json").json()
    assert {"/whatif", "/counterfactuals"} <= set(spec["paths"])
    text = str(spec["paths"]["/whatif"])
    assert "changes" in text and "request" in text
    # every reference in the document resolves
    refs = set(re.findall(r"'\$ref': '#/([^']+)'", str(spec)))
    for ref in refs:
        node = spec
        for part in ref.split("/"):
            assert part in node, f"unresolved $ref #/{ref}"
            node = node[part]


def test_credit_memo_inputs_are_in_the_whatif_response(client, sample_requests):
    out = client.post(
        "/whatif",
        json={"request": sample_requests[6], "changes": [{"kind": "tax_rating", "rating": "A"}]},
    ).json()
    assert out["changes"][0]["en"] == "tax credit rating of A"
    assert out["model"]["alias"] == "champion"
