"""Moving ``@champion``: gated promotion, rollback to ``@previous``, promotion by hand.

Every move returns a ``PromotionRecord`` and writes it as tags on the registry (on the
model version promoted, and ``last_promotion`` on the registered model), so the registry
alone answers "who moved the champion, when, and why". Every move is also written to a
``PromotionJournal`` (the audit store) *before* any alias moves, and settled after: an
unusable journal stops the move, and a move the registry refuses is recorded as failed,
with the aliases put back.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import mlflow
from mlflow import MlflowClient

from techrisk_base import settings
from techrisk_base.errors import TechriskError
from training.config import ConfigError

#: Registry tag values are limited to 5,000 characters.
_TAG_LIMIT = 5_000
#: The aliases a move touches, restored together when the registry refuses part of it.
_ALIASES = ("champion", "previous", "challenger")


class PromotionFailed(TechriskError):
    """The registry refused a move of ``@champion``; the journal records it as failed."""


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


class PromotionJournal(Protocol):
    """Where every move of ``@champion`` is on record (the audit store's promotions table)."""

    def begin(self, record: PromotionRecord) -> int:
        """Record the move as pending, before any alias moves; raise if it cannot."""
        ...

    def settle(self, entry: int, status: str, error: str | None = None) -> None:
        """Mark entry ``entry`` ``done`` or ``failed`` with the error."""
        ...


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
    journal: PromotionJournal,
    gates: list[dict[str, Any]] | None = None,
    run_id: str | None = None,
) -> PromotionRecord:
    """``@champion`` → ``to_version``; the old champion keeps ``@previous``; tags written.

    The journal's record comes first, so no alias moves without one; if the registry then
    refuses the move, the aliases are put back and the record is settled as failed.
    """
    client = _client()
    try:
        client.get_model_version(name, to_version)
    except mlflow.exceptions.MlflowException:
        raise ConfigError(f"model {name} has no version {to_version!r}") from None
    current = alias_version(name, "champion")
    if current == str(to_version):
        raise ConfigError(f"version {to_version} of {name} is @champion already")
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
    before = {alias: alias_version(name, alias) for alias in _ALIASES}
    entry = journal.begin(record)
    try:
        _move(client, record)
    except Exception as exc:  # whatever the registry raised, the record must say it failed
        error = f"the registry refused the move: {exc}; {_restore(client, name, before)}"
        journal.settle(entry, "failed", error)
        raise PromotionFailed(
            f"{action} of {name} version {to_version} failed (record {entry}): {error}"
        ) from exc
    journal.settle(entry, "done")
    return record


def _move(client: MlflowClient, record: PromotionRecord) -> None:
    name, to_version = record.model_name, record.to_version
    if record.from_version is not None:
        client.set_registered_model_alias(name, "previous", record.from_version)
    client.set_registered_model_alias(name, "champion", to_version)
    if alias_version(name, "challenger") == to_version:
        client.delete_registered_model_alias(name, "challenger")
    tags = {
        "promoted_at": record.at.isoformat(),
        "promoted_by": record.by,
        "promotion_action": record.action,
        "promotion_reason": record.reason[:_TAG_LIMIT],
        "promotion_gates": json.dumps(record.gates, ensure_ascii=False)[:_TAG_LIMIT],
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, to_version, key, value)
    text = json.dumps(record.to_dict(), ensure_ascii=False)
    client.set_registered_model_tag(name, "last_promotion", text[:_TAG_LIMIT])


def _restore(client: MlflowClient, name: str, before: dict[str, str | None]) -> str:
    """Put the aliases back as they were; says whether that worked, for the record."""
    try:
        for alias, version in before.items():
            if version is not None:
                client.set_registered_model_alias(name, alias, version)
            elif alias_version(name, alias) is not None:
                client.delete_registered_model_alias(name, alias)
    except Exception as exc:  # the record must say the registry may be half-moved
        return f"restoring the aliases failed too ({exc}): check @champion by hand"
    shown = ", ".join(f"@{alias}={version or 'none'}" for alias, version in before.items())
    return f"aliases restored ({shown})"


def rollback(name: str, *, by: str, reason: str, journal: PromotionJournal) -> PromotionRecord:
    """``@champion`` back to ``@previous`` (the rolled-back version becomes ``@previous``)."""
    previous = alias_version(name, "previous")
    if previous is None:
        raise ConfigError(f"model {name} has no @previous version to roll back to")
    return move_champion(name, previous, action="rollback", by=by, reason=reason, journal=journal)
