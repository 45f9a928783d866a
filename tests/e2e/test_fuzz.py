"""Schemathesis against a real ``bentoml serve``: every documented operation, zero failures.

The schema is the one the server itself serves at ``/docs.json``; the loan officer's page
has its own (``/ui/openapi.json``, FastAPI's) and gets the same run. Each operation goes through
schemathesis's phases (the documented examples, then boundary and negative "coverage" cases,
then random fuzzing) and every answer is checked: no 5xx, a documented status, the documented
content type, and a body that meets the documented schema. The examples score, so the run
reaches the scorer and checks real decisions against their schema, not only refusals.

The run is driven by schemathesis's engine (what its command line runs), configured as a
``schemathesis.toml`` would be: its pytest plugin does not run on pytest 9.2 (it rewrites
``Node._nodeid``, which pytest 9.2 no longer has).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from benchmarks.load import UNLIMITED_RATE
from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[2]
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
#: Random cases per operation in the fuzzing phase (the examples and coverage phases add
#: theirs): the run stays within about two minutes on a loaded 2-core machine. A deeper run
#: sets ``TECHRISK_FUZZ_EXAMPLES`` (e.g. 1000).
FUZZ_EXAMPLES = int(os.environ.get("TECHRISK_FUZZ_EXAMPLES", "20"))
#: Operations whose documented examples are scored: at least one 200 each.
SCORED = ("POST /score", "POST /score_batch", "POST /whatif", "POST /counterfactuals")


@pytest.fixture(scope="module")
def served(registry, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    audit_url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'audit.db'}"
    # No rate limit: the cases must reach validation and the scorer, not the 429 of a key
    # that sends faster than a bank's client would (the limit has tests of its own).
    env = {**os.environ, **registry, **UNLIMITED_RATE, "TECHRISK_DATABASE_URL": audit_url}
    env.pop("TECHRISK_MODEL_URI", None)
    # The admin role covers every operation, /admin/reload included; without a key the run
    # would only meet 401s.
    headers = bearer(api_key(env, tmp_path_factory.mktemp("keys"), "admin"))
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        yield base, headers


def _config(base: str, headers: dict[str, str]) -> schemathesis.Config:
    checks: dict[str, object] = {"enabled": False} | {name: {"enabled": True} for name in CHECKS}
    return schemathesis.Config.from_dict(
        {
            "base-url": base,
            "headers": headers,
            "seed": 0,
            "workers": 1,
            "checks": checks,
            "generation": {"max-examples": FUZZ_EXAMPLES},
            # No links between the operations: there is no state to explore.
            "phases": {"stateful": {"enabled": False}},
            # Every failure of an operation is reported, not only its first.
            "continue-on-failure": True,
            # The coverage phase varies every field of the nested score request: hundreds of
            # valid variants, each scored. /score tries them all; the endpoints that embed a
            # score request get the invalid ones (their valid ones would cost ~100 s more).
            "operations": [
                {
                    "include-path": ["/score_batch", "/whatif", "/counterfactuals"],
                    "phases": {"coverage": {"generation": {"mode": "negative"}}},
                }
            ],
            "request-timeout": 60,
        }
    )


def test_every_operation_answers_as_documented(served) -> None:
    base, headers = served
    answers = _run(f"{base}/docs.json", base, headers)
    assert {label for label, _ in answers} >= {*SCORED, "POST /metadata", "GET /readyz"}
    tally = _tally(answers)
    for label in SCORED:
        assert answers[(label, 200)] >= 1, tally


def test_every_operation_of_the_page_answers_as_its_document_says(served) -> None:
    """The loan officer's page has its own API and document (``/ui/openapi.json``, FastAPI's):
    the same checks, so its refusals too are in the one error shape and never a 5xx."""
    base, headers = served
    answers = _run(f"{base}/ui/openapi.json", f"{base}/ui", headers)
    assert {label for label, _ in answers} >= {"GET /api/samples", "POST /api/policy"}
    assert answers[("GET /api/samples", 200)] >= 1, _tally(answers)


def _tally(answers: Counter[tuple[str, int]]) -> str:
    return "\n".join(f"{n:6d}  {status}  {label}" for (label, status), n in sorted(answers.items()))


def _run(document: str, base: str, headers: dict[str, str]) -> Counter[tuple[str, int]]:
    """Run schemathesis over the operations of ``document`` against ``base``; the answers'
    (operation, status) counts. Any failed check fails the test, naming each."""
    schema = schemathesis.openapi.from_url(document, config=_config(base, headers), headers=headers)
    answers: Counter[tuple[str, int]] = Counter()
    seconds: Counter[str] = Counter()
    failures: dict[tuple[str, str], list[str]] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            seconds[f"{recorder.label} ({event.phase})"] += event.elapsed_time
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    label = recorder.cases[case_id].value.operation.label
                    answers[(label, interaction.response.status_code)] += 1
            for check in (c for checks in recorder.checks.values() for c in checks):
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    found = f"{failure.message[:1500]}\n{check.failure_info.code_sample[:1500]}"
                    failures.setdefault((failure.operation, failure.title), []).append(found)
        elif isinstance(event, events.NonFatalError):
            failures.setdefault((event.label, event.info.title), []).append(event.info.message)
        elif isinstance(event, events.FatalError):
            raise event.exception
    print("\n".join(f"{t:6.1f} s  {label}" for label, t in seconds.most_common()))
    print(f"\nschemathesis: {answers.total()} cases\n{_tally(answers)}")
    assert not failures, "\n\n".join(
        f"{operation}: {title} ({len(found)}×)\n{found[0]}"
        for (operation, title), found in failures.items()
    )
    return answers
