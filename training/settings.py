"""Training settings from the environment, with embedded defaults (SQLite and files in var/)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///var/mlflow.db"
DEFAULT_ARTIFACT_DIR = Path("var/mlartifacts")


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)


def artifact_location() -> str:
    """Where new experiments keep artifacts: a local folder unless the server decides."""
    configured = os.environ.get("TECHRISK_ARTIFACT_DIR")
    path = Path(configured) if configured else DEFAULT_ARTIFACT_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve().as_uri()


def ensure_local_store(uri: str) -> None:
    """Create the folder of a relative SQLite store (``sqlite:///var/mlflow.db``)."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
