"""Serving settings from the environment, with embedded defaults (read in one place)."""

from __future__ import annotations

import os
import re

DEFAULT_MODEL_URI = "models:/techrisk-pd@champion"
DEFAULT_TRACKING_URI = "sqlite:///var/mlflow.db"
#: Name of the model in BentoML's model store when packaged into a Bento.
BENTO_MODEL_NAME = "techrisk-pd"


def model_uri() -> str:
    return os.environ.get("TECHRISK_MODEL_URI", DEFAULT_MODEL_URI)


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of ``models:/name@alias`` or ``models:/name/version``."""
    m = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))?", uri)
    if not m:
        raise ValueError(
            f"TECHRISK_MODEL_URI must look like models:/<name>@<alias> or models:/<name>/<version>;"
            f" got {uri!r}"
        )
    name, alias, version = m.group(1), m.group(2), m.group(3)
    return name, version, alias
