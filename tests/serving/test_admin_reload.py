"""``/admin/reload`` in process: refused without the admin token, a no-op when nothing moved."""

from __future__ import annotations


def test_reload_is_off_without_a_token(client, monkeypatch) -> None:
    monkeypatch.delenv("TECHRISK_ADMIN_TOKEN", raising=False)
    r = client.post("/admin/reload", json={})
    assert r.status_code == 403
    assert "TECHRISK_ADMIN_TOKEN" in r.json()["error"]


def test_reload_wants_the_token_and_reports_the_versions(client, monkeypatch) -> None:
    monkeypatch.setenv("TECHRISK_ADMIN_TOKEN", "s3cret")
    assert client.post("/admin/reload", json={}).status_code == 401
    wrong = client.post("/admin/reload", json={}, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    r = client.post("/admin/reload", json={}, headers={"authorization": "Bearer s3cret"})
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
