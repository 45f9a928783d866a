"""Start and stop a real ``bentoml serve`` on 127.0.0.1 and a free port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

BENTOML = Path(sys.executable).with_name("bentoml")


def api_key(env: MutableMapping[str, str], folder: Path, *roles: str) -> str:
    """A new API key (roles default: scorer) in ``folder/api_keys.json``, which ``env``'s
    ``TECHRISK_API_KEYS`` then names; never the caller's own keys file."""
    from serving.api_keys import KeyStore

    path = folder / "api_keys.json"
    env["TECHRISK_API_KEYS"] = str(path)
    _, token = KeyStore(path).create("tests", list(roles or ("scorer",)))
    return token


def bearer(key: str) -> dict[str, str]:
    """The header that carries ``key``."""
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def bentoml_serve(target: str, env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    """Serve ``target`` (a service path or a Bento tag); yield its base URL once ready.

    The server's log goes to a file: an undrained pipe fills up (~200 access-log lines) and
    then blocks the server mid-request.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(BENTOML), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, base, log, target)
            yield base
        finally:
            stop(process)


def _wait_ready(process: subprocess.Popen, base: str, log: IO[bytes], target: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(log.read().decode(errors="replace")[-3000:])
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"bentoml serve {target} was not ready within 120 s")
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (BentoML forks workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
