"""Schemathesis against a real ``bentoml serve``: every documented operation, zero failures.

The schema is the one the server itself serves at ``/docs.json``. Each operation is run through
schemathesis's phases (the documented examples, then boundary and negative "coverage" cases,
then random fuzzing) and every answer is checked: no 5xx, a documented status, the documented
content type, and a body that meets the documented schema. The examples score, so the run
reaches the scorer and checks a real decision against its schema, not only refusals.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[2]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Random cases per operation in the fuzzing phase (the examples and coverage phases add
#: theirs): the whole run stays within about two minutes on a loaded 2-core machine.
FUZZ_EXAMPLES = 20
#: (operation, status) → answers, tallied across the run for the last test.
OUTCOMES: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module")
def served(registry, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    audit_url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'audit.db'}"
    env = {**os.environ, **registry, "TECHRISK_DATABASE_URL": audit_url}
    env.pop("TECHRISK_MODEL_URI", None)
    # The admin role covers every operation, /admin/reload included; without a key the run
    # would only meet 401s.
    headers = bearer(api_key(env, tmp_path_factory.mktemp("keys"), "admin"))
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        yield base, headers


@pytest.fixture(scope="module")
def api_schema(served) -> schemathesis.BaseSchema:
    base, headers = served
    return schemathesis.openapi.from_url(f"{base}/docs.json", headers=headers)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
# Score requests are large nested bodies: generating them is slower than Hypothesis expects.
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_every_operation_answers_as_documented(case, served) -> None:
    base, headers = served
    response = case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=60)
    OUTCOMES[(case.operation.label, response.status_code)] += 1


@pytest.mark.slow
def test_the_run_reached_the_scorer() -> None:
    """Runs after the fuzz test (same module): its cases scored firms, not only refusals."""
    if not OUTCOMES:
        pytest.skip("needs test_every_operation_answers_as_documented in the same run")
    tally = "\n".join(
        f"{n:5d}  {status}  {label}" for (label, status), n in sorted(OUTCOMES.items())
    )
    print(f"schemathesis: {OUTCOMES.total()} cases\n{tally}")
    for label in ("POST /score", "POST /score_batch", "POST /whatif", "POST /counterfactuals"):
        assert OUTCOMES[(label, 200)] >= 1, tally
