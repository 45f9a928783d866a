"""Every rule text the loan officer's page can show, produced by breaking the rules.

The page renders the service's rules (English, from the contract and the boundary) in
Chinese with the patterns of ``serving/ui_static/i18n.js``. This catalogue is built the way a
user meets the rules — by bad values in every column of every table, on the file side
(``split_valid``, what an upload meets) and the request side (``ScoreRequest``, what a pasted
body meets), bad bodies, bad requests and bad what-if changes — so a rule added to the code
is in it without anyone listing it here. Row rules across columns are taken as the contract
declares them (``features.contract``), worded as each side words them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, get_args

import pandas as pd
from pydantic import ValidationError

from features.contract import BY_NAME, CONTRACT
from features.errors import SchemaError
from features.loaders import split_valid
from serving import boundary, limits
from serving.schemas import (
    CHILD_TABLES,
    RECORD_MODELS,
    Application,
    Record,
    ScoreRequest,
    validation_errors,
)
from serving.whatif import Change, parse_changes
from synthetic import generate_market

REPO = Path(__file__).resolve().parents[2]
#: Values that break a column's type, bounds, choices or format, one at a time.
BAD_VALUES: tuple[Any, ...] = (
    None,
    [],
    {},
    "x",
    "abc",
    "2021-13-45",
    "2021-03-01T10:00:00",
    -1e30,
    1e30,
    -1,
    0,
    1.5,
    5,
    True,
    "a" * 500,
    "1999-01-01",
    "2021-03-15",
)


def rule_texts() -> list[str]:
    """The distinct rule texts, sorted."""
    texts: set[str] = set()
    texts |= _file_rules()
    texts |= _record_rules()
    texts |= _request_rules()
    texts |= _body_rules()
    texts |= _whatif_rules()
    return sorted(texts)


def identifiers() -> set[str]:
    """Words a rule may keep as they are in Chinese too: table, column and field names, the
    codes a column takes, and what-if kinds — what the user types into a file or a body."""
    words: set[str] = {"changes"}
    for table in CONTRACT:
        words.add(table.name)
        for column in table.columns:
            words |= {column.name, column.field_name, *map(str, column.choices)}
    for model in (*RECORD_MODELS.values(), Application):
        words |= set(model.model_fields)
    for change in get_args(get_args(Change)[0]):
        words |= set(get_args(change.model_fields["kind"].annotation))
    return words


def _errors_of(validate: Callable[[], object]) -> set[str]:
    try:
        validate()
    except ValidationError as exc:
        return {e["rule"] for e in validation_errors(exc)}
    return set()


def _file_rules() -> set[str]:
    """What an uploaded table meets: valid rows of a synthetic market, each with one column
    set to a bad value (a row whose other cells are valid meets that column's every rule), a
    missing column, two equal rows, and the table's row rules as the contract declares them."""
    market = generate_market(n_firms=40, seed=3)
    texts: set[str] = set()
    for table in CONTRACT:
        valid = market[table.name].head(len(BAD_VALUES)).astype(object)
        if len(valid) < len(BAD_VALUES):
            raise ValueError(f"the market has too few {table.name} rows for the bad values")
        names = [c.name for c in table.columns]
        for column in table.columns:
            frame = valid.copy()
            frame[column.name] = [
                json.dumps(v) if isinstance(v, list | dict) else v for v in BAD_VALUES
            ]
            _, failures = split_valid(table.name, frame)
            texts |= {f.rule for f in failures}
        try:
            split_valid(table.name, pd.DataFrame({names[0]: []}))
        except SchemaError as exc:
            texts |= {f.rule for f in exc.failures}
        texts |= {rule.text for rule in table.rules}
        twice = pd.concat([valid.head(1)] * 2, ignore_index=True)
        texts |= {f.rule for f in split_valid(table.name, twice)[1]}
    return texts


def _record_rules() -> set[str]:
    """What a pasted body's records meet, field by field, and the table's row rules worded as
    the request side words them (with the value of the column a rule names)."""
    texts: set[str] = set()
    for name, model in {**RECORD_MODELS, "applications": Application}.items():
        for field in model.model_fields:
            for bad in BAD_VALUES:
                texts |= _errors_of(lambda m=model, f=field, b=bad: m.model_validate({f: b}))
        texts |= {
            Record._rule_text(rule, {rule.shows: 120} if rule.shows else {})
            for rule in BY_NAME[name].rules
        }
        texts |= _errors_of(lambda m=model: m.model_validate({"unknown_field": 1}))
    return texts


def _request_rules() -> set[str]:
    """Rules across a request's records, each broken on the README's example request."""
    example = json.loads((REPO / "examples" / "score_request.json").read_text("utf-8"))
    founded = dt.date.fromisoformat(example["firm"]["founded_on"])

    def broken(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        body = copy.deepcopy(example)
        change(body)
        return body

    bodies = [
        broken(lambda b: b["application"].update(as_of="2999-01-01")),
        broken(lambda b: b["application"].update(as_of=str(founded - dt.timedelta(days=1)))),
        broken(lambda b: b["ip_assets"][0].update(credit_code="91350100M000100Y43")),
        *(
            broken(lambda b, t=table: b[t].append(dict(b[t][0])))  # a record sent twice
            for table in CHILD_TABLES
            if example[table]
        ),
        broken(lambda b: b.pop("staffing")),
        broken(lambda b: b.update(staffing={})),
        broken(lambda b: b.update(firm=[])),
        broken(lambda b: b.update(extra=[])),
        broken(lambda b: b["firm"].update(credit_code="91310107QD0BYGDCB3")),
        broken(lambda b: b["firm"].update(credit_code="9131")),
    ]
    texts: set[str] = set()
    for body in bodies:
        texts |= _errors_of(lambda b=body: ScoreRequest.model_validate(b))
    texts |= _errors_of(lambda: ScoreRequest.model_validate(example, context={"max_records": 1}))
    return texts


def _body_rules() -> set[str]:
    """What the boundary answers a body that is not one JSON object."""
    bodies: Iterable[bytes] = (
        b"\xef\xbb\xbf{}",
        b"\xff\xfe",
        b"[]",
        b"{",
        b'{"a": }',
        b'{"a" 1}',
        b'{"a": 1,}',
        b'{"a": "x}',
        b"{} x",
        b'{"a": "\\q"}',
        b'{"a": "\\u12"}',
        b'{"a": "x\ny"}',
        b'{"a": NaN}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b'{"a": 1, "a": 2}',
        b'{"a":' * (limits.MAX_DEPTH + 2) + b"1" + b"}" * (limits.MAX_DEPTH + 2),
    )
    texts: set[str] = set()
    for body in bodies:
        try:
            limits.parse_body(body)
        except limits.MalformedBody as exc:
            texts.add(exc.rule)
    for refusal in (boundary._unsupported("text/plain"), boundary._too_large("2000", 1_000)):
        texts |= {e.rule for e in refusal.body.errors or []}
    return texts


def _whatif_rules() -> set[str]:
    """What the what-if panel's changes meet."""
    changes: list[object] = [
        [],
        [{"kind": "nope"}],
        [{"kind": "rd_expense", "value": -1}],
        [{"kind": "rd_expense", "value": "x"}],
        [{"kind": "invention_patents", "count": 0}],
        [{"kind": "invention_patents", "count": 99}],
        [{"kind": "equity_round", "amount": 0}],
        [{"kind": "equity_round", "amount": 1e9, "lead_investor_tier": 9}],
        [{"kind": "tax_rating", "rating": "Z"}],
        [{"kind": "rd_expense", "value": 1}] * 11,
    ]
    texts: set[str] = set()
    for raw in changes:
        texts |= _errors_of(lambda r=raw: parse_changes(r))
    return texts
