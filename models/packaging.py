"""The model in MLflow: a pyfunc wrapper, logging with signature and example, loading by alias.

The pyfunc answers, for a feature frame, the calibrated PD, score, grade and one TreeSHAP
contribution column per feature (``contrib__<feature>``, plus ``contrib__bias``), so that a
consumer that only knows MLflow still gets the reasons. Python code that wants more (points,
decisions, cohorts) unwraps the ``PDModel`` itself.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.pd_model import PDModel

REGISTERED_NAME = "techrisk-pd"
CONTRIB_PREFIX = "contrib__"
_ARTIFACT = "pd_model"
#: What the logged model needs at load time; pinned from the running environment so a
#: fresh process resolves the same libraries, without MLflow's slow requirement inference.
_REQUIREMENTS = ("lightgbm", "numba", "numpy", "pandas", "scikit-learn")


class PDPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow's view of a ``PDModel``."""

    def load_context(self, context: Any) -> None:
        self.model = PDModel.load(Path(context.artifacts[_ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        contributions = (params or {}).get("contributions", True)
        return predict_frame(self.model, model_input, contributions=contributions)


def predict_frame(model: PDModel, frame: pd.DataFrame, contributions: bool = True) -> pd.DataFrame:
    """PD, score, grade and margin per row, plus the TreeSHAP columns unless switched off
    (``params={"contributions": False}`` when only the PD is wanted)."""
    X = model.encode(frame)
    scores = model.score(X)
    out = pd.DataFrame(
        {"pd": scores.pd, "score": scores.score, "grade": scores.grade, "margin": scores.margin},
        index=frame.index,
    )
    if not contributions:
        return out
    contrib = model.contributions(X)
    names = [CONTRIB_PREFIX + f for f in model.features] + [CONTRIB_PREFIX + "bias"]
    return pd.concat([out, pd.DataFrame(contrib, columns=names, index=frame.index)], axis=1)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in _REQUIREMENTS] + [
        f"mlflow=={mlflow.__version__}"
    ]


def log_pd_model(
    model: PDModel, example: pd.DataFrame, registered_name: str | None = REGISTERED_NAME
) -> Any:
    """Log the model to the active run with signature and input example; register it.

    Returns MLflow's ``ModelInfo`` (``registered_model_version`` is set when registered).
    """
    example = example.head(5)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / _ARTIFACT)
        with warnings.catch_warnings():
            # The grade is an integer and never missing; MLflow's hint about integer
            # columns that could hold missing values does not apply.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(
                example, predict_frame(model, example), params={"contributions": True}
            )
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={_ARTIFACT: str(model_dir)},
            code_paths=[str(Path(__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            registered_model_name=registered_name,
        )


def set_alias(name: str, version: str | int, alias: str) -> None:
    MlflowClient().set_registered_model_alias(name, alias, str(version))


def has_alias(name: str, alias: str) -> bool:
    try:
        MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return False
    return True


def load_pd_model(uri: str = f"models:/{REGISTERED_NAME}@champion") -> PDModel:
    """The ``PDModel`` behind a registered (or any) MLflow model URI."""
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().model
