"""Moving ``@champion``: gated promotion, rollback to ``@previous``, promotion by hand.

Every move returns a ``PromotionRecord`` and writes it as tags on the registry (on the
model version promoted, and ``last_promotion`` on the registered model), so the registry
alone answers "who moved the champion, when, and why". The command line also writes the
record to the audit store.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
from mlflow import MlflowClient

from techrisk_base import settings
from training.config import ConfigError

#: Registry tag values are limited to 5,000 characters.
_TAG_LIMIT = 5_000


@dataclass(frozen=True)
class PromotionRecord:
    action: str  # "promote" (gated), "manual" (--version) or "rollback"
    model_name: str
    from_version: str | None
    to_version: str
    by: str
    reason: str
    at: dt.datetime
    gates: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out


def operator(by: str | None) -> str:
    """Who moves the alias: the ``--by`` name, else the OS user."""
    return by.strip() if by and by.strip() else getpass.getuser()


def _client() -> MlflowClient:
    uri = settings.tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(uri)


def alias_version(name: str, alias: str) -> str | None:
    try:
        return str(_client().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def move_champion(
    name: str,
    to_version: str,
    *,
    action: str,
    by: str,
    reason: str,
    gates: list[dict[str, Any]] | None = None,
    run_id: str | None = None,
) -> PromotionRecord:
    """``@champion`` → ``to_version``; the old champion keeps ``@previous``; tags written."""
    client = _client()
    try:
        client.get_model_version(name, to_version)
    except mlflow.exceptions.MlflowException:
        raise ConfigError(f"model {name} has no version {to_version!r}") from None
    current = alias_version(name, "champion")
    if current == str(to_version):
        raise ConfigError(f"version {to_version} of {name} is @champion already")
    if current is not None:
        client.set_registered_model_alias(name, "previous", current)
    client.set_registered_model_alias(name, "champion", str(to_version))
    if alias_version(name, "challenger") == str(to_version):
        client.delete_registered_model_alias(name, "challenger")
    record = PromotionRecord(
        action=action,
        model_name=name,
        from_version=current,
        to_version=str(to_version),
        by=by,
        reason=reason,
        at=dt.datetime.now(dt.UTC),
        gates=gates or [],
        run_id=run_id,
    )
    text = json.dumps(record.to_dict(), ensure_ascii=False)
    tags = {
        "promoted_at": record.at.isoformat(),
        "promoted_by": by,
        "promotion_action": action,
        "promotion_reason": reason[:_TAG_LIMIT],
        "promotion_gates": json.dumps(record.gates, ensure_ascii=False)[:_TAG_LIMIT],
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, str(to_version), key, value)
    client.set_registered_model_tag(name, "last_promotion", text[:_TAG_LIMIT])
    return record


def rollback(name: str, *, by: str, reason: str) -> PromotionRecord:
    """``@champion`` back to ``@previous`` (the rolled-back version becomes ``@previous``)."""
    previous = alias_version(name, "previous")
    if previous is None:
        raise ConfigError(f"model {name} has no @previous version to roll back to")
    return move_champion(name, previous, action="rollback", by=by, reason=reason)
