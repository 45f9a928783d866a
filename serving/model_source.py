"""Where the live model comes from: the MLflow registry (development) or the Bento (built).

``bentoml serve`` from the source tree loads ``TECHRISK_MODEL_URI`` from the MLflow registry at
start, so a moved ``@champion`` is picked up on restart. A built Bento is self-contained: its
model was imported into BentoML's model store at build time (``techrisk bento``) and is loaded
from there, with the registry name, version and alias it had, kept in the model's metadata.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.pd_model import PDModel
from serving.scoring import ModelHandle
from techrisk_base import settings
from techrisk_base.errors import TechriskError

#: Set while building a Bento, so the service class references the stored model.
PACKAGING_FLAG = "TECHRISK_PACKAGING"


class ModelNotFound(TechriskError):
    """The registry has no model at the URI asked for: nothing trained or registered yet."""

    def __init__(self, uri: str, store: str, reason: str) -> None:
        super().__init__(
            f"no model at {uri} in the MLflow store {store} ({reason}); train and register one"
            " with `techrisk train`, or set TECHRISK_MODEL_URI / MLFLOW_TRACKING_URI"
        )


def from_registry(uri: str | None = None) -> ModelHandle:
    uri = uri or settings.model_uri()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.tracking_uri())
    name, version, alias = settings.parse_registry_uri(uri)
    try:
        if version is None:
            client = MlflowClient()
            versions = (
                [client.get_model_version_by_alias(name, alias)]
                if alias
                else client.search_model_versions(f"name='{name}'")
            )
            if not versions:
                raise ModelNotFound(uri, settings.tracking_uri(), "no version registered")
            version = str(max(int(v.version) for v in versions))
        # Load the version just resolved, not the alias again: the alias may move between
        # the two calls, and the handle must name the version it holds.
        pinned = f"models:/{name}/{version}"
        model: PDModel = mlflow.pyfunc.load_model(pinned).unwrap_python_model().model
    except MlflowException as exc:
        raise ModelNotFound(uri, settings.tracking_uri(), exc.message) from exc
    return ModelHandle(model=model, name=name, version=version, alias=alias, uri=uri)


def import_into_bentoml(uri: str | None = None) -> Any:
    """Copy the registered model into BentoML's model store (what ``bentoml build`` packs)."""
    import bentoml

    uri = uri or settings.model_uri()
    handle = from_registry(uri)
    return bentoml.mlflow.import_model(
        settings.BENTO_MODEL_NAME,
        model_uri=uri,
        metadata={
            "registry_name": handle.name,
            "registry_version": handle.version,
            "registry_alias": handle.alias or "",
            "registry_uri": uri,
        },
    )


def from_bento_store(ref: Any) -> ModelHandle:
    import bentoml

    # Inside a running service BentoML has already resolved the class-scope reference.
    stored = ref if isinstance(ref, bentoml.Model) else bentoml.models.get(ref.tag)
    meta = stored.info.metadata
    pyfunc = bentoml.mlflow.load_model(stored)
    return ModelHandle(
        model=pyfunc.unwrap_python_model().model,
        name=meta.get("registry_name", settings.BENTO_MODEL_NAME),
        version=str(meta.get("registry_version", stored.tag.version)),
        alias=meta.get("registry_alias") or None,
        uri=f"bento:{stored.tag}",
    )


def build_bento(project_dir: str = ".", uri: str | None = None) -> Any:
    """Import the registered model, then ``bentoml build`` from ``bentofile.yaml``.

    The Bento then carries the model, so it serves without access to the MLflow registry.
    """
    import bentoml

    import_into_bentoml(uri)
    os.environ[PACKAGING_FLAG] = "1"
    bentofile = str(Path(project_dir) / "bentofile.yaml")
    return bentoml.bentos.build_bentofile(bentofile, build_ctx=str(project_dir))
