"""The keys file and ``techrisk keys create|list|revoke``: hashes only, owner-only, shown once."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from serving.api_keys import KeysFileInvalid, KeyStore, key_id
from techrisk.cli import main
from techrisk_base import settings
from techrisk_base.errors import InvalidArgument

KEY = re.compile(r"tr_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def keys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "api_keys.json"
    monkeypatch.setenv("TECHRISK_API_KEYS", str(path))
    return path


def test_the_file_holds_hashes_only_and_is_owner_only(keys_path: Path) -> None:
    old = os.umask(0)  # a permissive umask must not leak into the file's mode
    try:
        key, token = KeyStore().create("loan desk", ["scorer", "auditor"])
    finally:
        os.umask(old)
    assert KEY.fullmatch(token) and key_id(token) == key.id
    text = keys_path.read_text(encoding="utf-8")
    secret = token.split("_", 2)[2]
    assert token not in text and secret not in text
    stored = json.loads(text)["keys"][0]
    assert stored["sha256"] == key.sha256 and len(stored["sha256"]) == 64
    assert stored["roles"] == ["scorer", "auditor"] and stored["revoked_at"] is None
    assert stat.S_IMODE(keys_path.stat().st_mode) == 0o600
    assert not [p for p in keys_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_authenticate_accepts_the_key_only_until_it_is_revoked(keys_path: Path) -> None:
    store = KeyStore()
    key, token = store.create("a", ["scorer"])
    _, other = store.create("b", ["admin"])
    assert store.authenticate(token) == key
    assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.authenticate("tr_00000000_" + token.split("_", 2)[2]) is None
    assert store.authenticate("") is None
    revoked = store.revoke(key.id)
    assert revoked.revoked_at is not None
    assert store.authenticate(token) is None
    assert store.authenticate(other) is not None


def test_bad_names_roles_and_files_are_named(keys_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="--name"):
        KeyStore().create("  ", ["scorer"])
    with pytest.raises(InvalidArgument, match="--role"):
        KeyStore().create("x", ["root"])
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keys_path.write_text('{"version": 1, "keys": [{"id": "x"}]}', encoding="utf-8")
    with pytest.raises(KeysFileInvalid, match=r"keys\.0\.id"):
        KeyStore().read()


def test_the_default_file_sits_in_the_var_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TECHRISK_API_KEYS", raising=False)
    monkeypatch.setenv("TECHRISK_VAR", "/srv/techrisk")
    assert settings.api_keys_path() == Path("/srv/techrisk/api_keys.json")


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("TECHRISK_RATE_PER_S", "0", "requests per second"),
        ("TECHRISK_RATE_PER_S", "fast", "requests per second"),
        ("TECHRISK_RATE_BURST", "0", "integer"),
        ("TECHRISK_RATE_BURST", "2.5", "integer"),
    ],
)
def test_bad_rate_settings_are_named(monkeypatch, name: str, value: str, rule: str) -> None:
    from serving.auth import check_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidArgument, match=rule) as caught:
        check_settings()
    assert caught.value.name == name and caught.value.value == value


def test_cli_create_list_revoke(keys_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "branch 7", "--role", "scorer"]) == 0
    out = capsys.readouterr().out
    (token,) = KEY.findall(out.split("shown this once", 1)[1].splitlines()[1])
    assert f"Authorization: Bearer {token}" in out
    kid = key_id(token)
    assert KeyStore().authenticate(token) is not None

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert kid in listed and "branch 7" in listed and "scorer" in listed and "active" in listed
    assert token.split("_", 2)[2] not in listed

    assert main(["keys", "revoke", kid]) == 0
    assert "revoked" in capsys.readouterr().out
    assert KeyStore().authenticate(token) is None
    assert main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out

    assert main(["keys", "revoke", "0badc0de"]) == 2
    err = capsys.readouterr().err.strip()
    assert "0badc0de" in err and len(err.splitlines()) == 1


def test_cli_create_needs_a_known_role(keys_path: Path) -> None:
    with pytest.raises(SystemExit) as missing:
        main(["keys", "create", "--name", "x"])
    with pytest.raises(SystemExit) as unknown:
        main(["keys", "create", "--name", "x", "--role", "root"])
    assert missing.value.code == unknown.value.code == 2
    assert not keys_path.exists()
