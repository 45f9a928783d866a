"""``/admin/reload`` in process: the admin role only, a no-op when nothing moved."""

from __future__ import annotations

from tests.servers import bearer


def test_reload_wants_the_admin_role_and_reports_the_versions(client, new_key) -> None:
    assert client.post("/admin/reload", json={}, headers={"Authorization": ""}).status_code == 401
    scorer = client.post("/admin/reload", json={})  # the client's own key is a scorer's
    assert scorer.status_code == 403
    assert "admin" in scorer.json()["errors"][0]["rule"]
    auditor = client.post("/admin/reload", json={}, headers=bearer(new_key("auditor")))
    assert auditor.status_code == 403
    r = client.post("/admin/reload", json={}, headers=bearer(new_key("admin")))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "models": [
            {
                "uri": "models:/techrisk-pd@champion",
                "previous": "1",
                "version": "1",
                "changed": False,
            }
        ]
    }
