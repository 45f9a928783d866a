"""What shadow scoring costs ``/score``: p50 and p99 of one real ``bentoml serve`` without and
with ``TECHRISK_SHADOW_URI``, on the same model, firms and request order.

``python -m benchmarks.shadow [--firms 3000] [--requests 300]`` trains a quick model on a small
synthetic market in a temporary folder, so it needs nothing set up. The shadow is the champion
itself: a challenger of the same kind costs the same.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from benchmarks.load import UNLIMITED_RATE
from features.build import build_feature_table
from features.store import write_feature_table
from serving.examples import request_from_frames
from synthetic import generate_market, write_market
from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[1]
WARM_UP = 20


def _latencies(base: str, bodies: list[dict], key: str) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=60, headers=bearer(key)) as http:
        for i, body in enumerate([*bodies[:WARM_UP], *bodies]):
            start = time.perf_counter()
            r = http.post("/score", json=body)
            elapsed = time.perf_counter() - start
            if r.status_code != 200:
                raise RuntimeError(f"/score answered {r.status_code}: {r.text[:300]}")
            if i >= WARM_UP:
                out.append(elapsed)
    return out


def _shadow_rows(audit_url: str) -> int:
    engine = sa.create_engine(audit_url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM shadow_scores")).scalar_one()
    engine.dispose()
    return int(count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env = {
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
            "TECHRISK_ARTIFACT_DIR": str(tmp / "artifacts"),
            "TECHRISK_RELOAD_S": "0",
        }
        os.environ.update(env)
        from models.spec import LGBMSpec
        from training.config import TrainConfig
        from training.run import train

        market = generate_market(n_firms=args.firms, seed=11)
        write_market(market, tmp / "market")
        write_feature_table(build_feature_table(market), tmp / "features.parquet")
        train(
            TrainConfig(path=tmp / "features.parquet"),
            LGBMSpec(num_boost_round=150, early_stopping_rounds=30),
        )
        apps = market["applications"].sample(n=args.requests, random_state=3)
        bodies = [request_from_frames(market, row) for _, row in apps.iterrows()]
        figures = {}
        for label, extra in (
            ("without shadow", {}),
            ("with shadow", {"TECHRISK_SHADOW_URI": "models:/techrisk-pd@champion"}),
        ):
            audit_url = f"sqlite:///{tmp / (label.replace(' ', '_') + '.db')}"
            serve_env = {
                **os.environ,
                **env,
                **extra,
                **UNLIMITED_RATE,
                "TECHRISK_DATABASE_URL": audit_url,
            }
            serve_env.pop("TECHRISK_MODEL_URI", None)
            key = api_key(serve_env, tmp)
            with bentoml_serve("serving.service:TechRiskService", serve_env, REPO) as base:
                ms = np.array(_latencies(base, bodies, key)) * 1e3
                time.sleep(2.0)  # let the shadow thread finish its queue
            shadowed = _shadow_rows(audit_url)
            figures[label] = (np.percentile(ms, 50), np.percentile(ms, 99), shadowed)
            print(
                f"/score {label}: p50 {figures[label][0]:.1f} ms, p99 {figures[label][1]:.1f} ms"
                f" over {len(ms)} requests; shadow rows {shadowed}"
            )
        base_p50, shadow_p50 = figures["without shadow"][0], figures["with shadow"][0]
        print(f"shadow overhead on p50: {shadow_p50 - base_p50:+.1f} ms")


if __name__ == "__main__":
    main()
