"""Where the live model comes from: the MLflow registry (development) or the Bento (built).

``bentoml serve`` from the source tree loads ``TECHRISK_MODEL_URI`` from the MLflow registry at
start, so a moved ``@champion`` is picked up on restart. A built Bento is self-contained: its
model was imported into BentoML's model store at build time (``techrisk bento``) and is loaded
from there, with the registry name, version and alias it had, kept in the model's metadata.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from models.pd_model import PDModel
from serving import settings
from serving.scoring import ModelHandle


def from_registry(uri: str | None = None) -> ModelHandle:
    uri = uri or settings.model_uri()
    mlflow.set_tracking_uri(settings.tracking_uri())
    name, version, alias = settings.parse_registry_uri(uri)
    if version is None:
        client = MlflowClient()
        mv = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else max(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
        )
        version = str(mv.version)
    model: PDModel = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
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

    stored = ref.stored if hasattr(ref, "stored") else bentoml.models.get(ref)
    meta = stored.info.metadata
    pyfunc = bentoml.mlflow.load_model(stored)
    return ModelHandle(
        model=pyfunc.unwrap_python_model().model,
        name=meta.get("registry_name", settings.BENTO_MODEL_NAME),
        version=str(meta.get("registry_version", stored.tag.version)),
        alias=meta.get("registry_alias") or None,
        uri=f"bento:{stored.tag}",
    )
