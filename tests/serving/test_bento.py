"""``techrisk bento`` builds a self-contained Bento that carries the registered model."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[2]


def test_bento_build_packs_the_registered_model_and_serves_without_mlflow(
    registry, tmp_path, sample_requests
) -> None:
    env = {**os.environ, **registry, "BENTOML_HOME": str(tmp_path / "bentoml")}
    env.pop("TECHRISK_MODEL_URI", None)
    subprocess.run(
        [sys.executable, "-m", "techrisk.cli", "bento"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
    )
    bentos = list((tmp_path / "bentoml" / "bentos" / "techrisk").glob("*/bento.yaml"))
    assert len(bentos) == 1
    info = yaml.safe_load(bentos[0].read_text())
    assert info["service"] == "serving.service:TechRiskService"
    models = [m["tag"].split(":")[0] for svc in info["services"] for m in svc["models"]]
    assert models == ["techrisk-pd"]
    src = bentos[0].parent / "src"
    # The OpenAPI document's examples (serving/openapi.py) ship with the code.
    modules = (
        "techrisk_base/settings.py",
        "serving/service.py",
        "features/build.py",
        "examples/score_request.json",
    )
    for module in (*modules, "models/pd_model.py"):
        assert (src / module).exists(), module
    stored = list((tmp_path / "bentoml" / "models" / "techrisk-pd").glob("*/model.yaml"))
    meta = yaml.safe_load(stored[0].read_text())["metadata"]
    assert meta["registry_name"] == "techrisk-pd" and meta["registry_alias"] == "champion"

    # The Bento serves with no MLflow store in reach: the model comes from the Bento. Served
    # from a folder of its own with no audit setting, it creates its audit store at the
    # documented default, $BENTOML_HOME/techrisk/var/techrisk.db, and records the decision.
    # Its API keys are named by TECHRISK_API_KEYS here: a keys file at the default place would
    # create the var folder this test expects the Bento itself to create.
    serve_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'no-such-dir' / 'mlflow.db'}",
    }
    serve_env.pop("TECHRISK_DATABASE_URL", None)
    serve_env.pop("TECHRISK_VAR", None)
    key = api_key(serve_env, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with bentoml_serve("techrisk:latest", serve_env, elsewhere) as base:
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        refused = httpx.post(f"{base}/score", json=sample_requests[0], timeout=60)
        response = httpx.post(
            f"{base}/score", json=sample_requests[0], headers=bearer(key), timeout=60
        )
    assert refused.status_code == 401
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["model"]["name"] == "techrisk-pd" and out["model"]["uri"].startswith("bento:")
    assert 0 < out["pd"] < 1
    audit = tmp_path / "bentoml" / "techrisk" / "var" / "techrisk.db"
    with sqlite3.connect(audit) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
    assert not (elsewhere / "var").exists()
