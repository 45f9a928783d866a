"""API keys of the scoring service, kept hashed in one JSON file (``settings.api_keys_path()``).

A key reads ``tr_<id>_<secret>``: the id (8 hex digits) is public and names the key in the
file, in ``techrisk keys list`` and in error bodies; the secret is 256 random bits. The file
holds the SHA-256 of the whole key, never the key: a random secret of that size needs no slow
password hash (nothing to guess), and lookup by id plus one constant-time comparison keeps
the check free of timing hints. The key is shown once, when created.

The file is written whole to a sibling and moved into place (readers never see half a
file), owner-only (0600), under a lock so two ``techrisk keys`` commands cannot lose each
other's change. The service re-reads it when it changes on disk, so a revoked key stops
working at its next request, without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from techrisk_base import settings
from techrisk_base.errors import InvalidArgument, TechriskError

log = logging.getLogger("techrisk.api_keys")

Role = Literal["scorer", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("scorer", "auditor", "admin")
_KEY = re.compile(r"tr_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
_FILE_MODE = 0o600


class KeysFileInvalid(TechriskError):
    """The keys file cannot be read as keys; the message names the file and what is wrong."""


class UnknownKey(TechriskError):
    """No key with the id asked for."""


class ApiKey(BaseModel):
    """One key as stored: who it is for, what it may do, the hash of its secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{8}$")
    name: str = Field(min_length=1, max_length=100)
    roles: tuple[Role, ...] = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeysFile(BaseModel):
    """The file's whole content."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    keys: list[ApiKey] = []


def key_id(token: str) -> str | None:
    """The id of a well-formed key, else None (nothing of a malformed token is ever shown)."""
    match = _KEY.fullmatch(token)
    return match.group(1) if match else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class KeyStore:
    """The keys file: create, list and revoke keys, and check a presented key against it.

    ``path`` None follows ``TECHRISK_API_KEYS`` at each call (a test, or a caller that moves
    the setting, is heard); :meth:`authenticate` re-reads the file only when it changed.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[Path, tuple[int, int, int] | None] | None = None
        self._by_id: dict[str, ApiKey] = {}
        self._invalid: KeysFileInvalid | None = None

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else settings.api_keys_path()

    # -- the service's side ---------------------------------------------------------------

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key ``token`` is, or None (malformed, unknown, wrong secret, revoked).

        Raises :class:`KeysFileInvalid` while the file is unreadable: refusing every key is
        the safe answer, and the caller must say the fault is the server's.
        """
        kid = key_id(token)
        keys = self._current()
        stored = keys.get(kid) if kid else None
        if stored is None or not hmac.compare_digest(stored.sha256, _digest(token)):
            return None
        return stored if stored.active else None

    def _current(self) -> dict[str, ApiKey]:
        """The keys by id, re-read when the file's inode, size or mtime moved."""
        path = self.path
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._seen != (path, stamp):
                self._reload(path, stamp)
            if self._invalid is not None:
                raise self._invalid
            return self._by_id

    def _reload(self, path: Path, stamp: tuple[int, int, int] | None) -> None:
        self._seen = (path, stamp)
        self._invalid = None
        if stamp is None:
            log.warning(
                "no API keys file at %s: every endpoint but health and docs answers 401; "
                "create a key with `techrisk keys create --name NAME --role scorer`",
                path,
            )
            self._by_id = {}
            return
        try:
            self._by_id = {k.id: k for k in self.read().keys}
        except KeysFileInvalid as exc:
            log.error("%s; every key is refused until it is fixed", exc)
            self._by_id, self._invalid = {}, exc
        else:
            log.info("API keys: %d active in %s", sum(k.active for k in self._by_id.values()), path)

    # -- the command line's side ----------------------------------------------------------

    def read(self) -> KeysFile:
        """The file's keys; an absent file holds none."""
        path = self.path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return KeysFile()
        except OSError as exc:
            raise KeysFileInvalid(f"API keys file {path} cannot be read: {exc}") from None
        try:
            return KeysFile.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()
            )
            raise KeysFileInvalid(f"API keys file {path} is not valid: {problems}") from None

    def create(self, name: str, roles: list[str]) -> tuple[ApiKey, str]:
        """A new key for ``name`` with ``roles``: (what is stored, the key itself — shown once)."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidArgument("--name", name, "must be 1 to 100 characters")
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise InvalidArgument(
                "--role", unknown or roles, f"must be given at least once, each one of {ROLES}"
            )
        with self._editing() as content:
            taken = {k.id for k in content.keys}
            kid = secrets.token_hex(4)
            while kid in taken:
                kid = secrets.token_hex(4)
            token = f"tr_{kid}_{secrets.token_urlsafe(32)}"
            key = ApiKey(
                id=kid,
                name=name,
                roles=tuple(r for r in ROLES if r in roles),
                sha256=_digest(token),
                created_at=dt.datetime.now(dt.UTC),
            )
            content.keys.append(key)
        return key, token

    def revoke(self, kid: str) -> ApiKey:
        """Mark the key revoked (kept on file, so the list shows who had access until when)."""
        with self._editing() as content:
            for i, key in enumerate(content.keys):
                if key.id == kid:
                    if key.active:
                        key = key.model_copy(update={"revoked_at": dt.datetime.now(dt.UTC)})
                        content.keys[i] = key
                    return key
        raise UnknownKey(f"no API key with id {kid!r} in {self.path}; see `techrisk keys list`")

    @contextlib.contextmanager
    def _editing(self) -> Iterator[KeysFile]:
        """Read, let the caller change, write back: under a lock, atomically, owner-only."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(f".{path.name}.lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            content = self.read()
            yield content
            self._write(path, content)
        finally:
            os.close(fd)

    @staticmethod
    def _write(path: Path, content: KeysFile) -> None:
        staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(content.model_dump(mode="json"), f, ensure_ascii=False, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(staged, path)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
