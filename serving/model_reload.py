"""Hot reload: the running service follows a moved registry alias without a restart.

:class:`AliasWatcher` asks the MLflow registry which version an alias (``@champion``, or the
shadow's ``@challenger``) names — every ``TECHRISK_RELOAD_S`` seconds in a background thread,
and on demand from ``/admin/reload``. When the version differs from the one served, it loads
the new model *beside* the old one and then swaps the handle in one assignment. A request
reads the handle once when it starts (``serving.scoring.Scorer``), so in-flight requests
finish on the model they began with, and each response and its audit row carry the version
that scored it. A failed load keeps the old model and is logged; the next poll tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving import model_source
from serving.scoring import ModelHandle
from techrisk_base import settings
from techrisk_base.errors import TechriskError

log = logging.getLogger("techrisk.reload")


@dataclass(frozen=True)
class ReloadResult:
    uri: str
    previous: str
    version: str

    @property
    def changed(self) -> bool:
        return self.previous != self.version


class AliasWatcher:
    """Keeps ``get()`` serving the version ``uri``'s alias names; ``set`` installs a handle."""

    def __init__(
        self,
        uri: str,
        get: Callable[[], ModelHandle],
        set_: Callable[[ModelHandle], None],
        interval_s: float = 0.0,
    ) -> None:
        self.uri = uri
        self._get = get
        self._set = set_
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval_s > 0:
            self._thread = threading.Thread(
                target=self._poll, args=(interval_s,), name="techrisk-reload", daemon=True
            )
            self._thread.start()

    def registry_version(self) -> str:
        """The version the alias names now (a pinned ``/N`` URI never moves)."""
        name, version, alias = settings.parse_registry_uri(self.uri)
        if version is not None:
            return version
        if alias is None:
            versions = MlflowClient().search_model_versions(f"name='{name}'")
            return str(max(int(v.version) for v in versions))
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)

    def check(self) -> ReloadResult:
        """Swap to the alias's version if it moved; one check at a time."""
        with self._lock:
            current = self._get().version
            try:
                wanted = self.registry_version()
            except MlflowException as exc:
                raise ReloadFailed(self.uri, exc.message) from exc
            if wanted != current:
                handle = model_source.from_registry(self.uri)
                self._set(handle)
                log.info("reloaded %s: version %s → %s", self.uri, current, handle.version)
                return ReloadResult(self.uri, current, handle.version)
            return ReloadResult(self.uri, current, current)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.check()
            except Exception:  # keep serving the old model; try again at the next poll
                log.exception("could not reload %s; still serving the previous version", self.uri)


class ReloadFailed(TechriskError):
    """The registry could not say which version the alias names."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"could not look up {uri} in the registry: {reason}")
