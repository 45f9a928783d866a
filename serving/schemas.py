"""Request schemas of the scoring service: one firm's raw records plus a loan application.

A bank's system posts the firm's rows of the contract tables (``features.schemas``) and the
application. Everything wrong with them is rejected here, at the boundary, with the field,
the value and the rule (:func:`validation_errors`), so the feature code never sees a bad
row; :func:`to_sources` then hands the records to ``features.build.build_feature_matrix`` as
numpy columns (no DataFrame on a request's path).

Choices made for a bank integration (type checks run inside pydantic-core, in Rust):

- **numbers** are JSON numbers or numeric strings written as JSON numbers (``"1234.50"``:
  Java ``BigDecimal`` and many core-banking exports serialise money as text). Anything else
  is an error: ``"abc"``, ``true``, ``"NaN"``, ``"Infinity"``, and the spellings Python
  would read but a bank's file should not hold (``"1_000"``, ``" 5 "``, ``"+5"``). Counts and
  years must be whole (``12`` or ``12.0``), and every number lies within the contract's
  plausible bounds (a 400-digit count is refused, never converted).
- **dates** are ISO ``YYYY-MM-DD`` strings only. A number is never read as a date: pydantic's
  default would read ``20210301`` as a Unix timestamp in 1970.
- **flags** accept ``true``/``false`` and the tokens the file loaders accept (``"yes"``,
  ``"1"``, ``0``…), so a flag means the same in a CSV and in a request.
- **unknown keys are errors**, not ignored: a misspelt optional column (``"granted_date"``)
  would otherwise silently read as "never granted" and move the score.
- **nullable columns may be omitted** (many serialisers drop nulls); non-nullable ones and
  every table key of :class:`ScoreRequest` are required. An empty list is a thin file; a
  missing table is an error ("missing required table"), because the caller may have forgotten
  it and the firm would be scored as if it had no such records.
- ``credit_code`` is optional on child records and defaults to the firm's; if given it must
  equal the firm's.
- **one record per key**: two records of a table with the same key (the contract's key, else
  the whole record) are refused, since the same credit event sent twice would count twice.
  A table holds at most ``TECHRISK_MAX_RECORDS`` records (``serving.limits``).

Rules across the records of one request (as-of date against today and the founding date,
credit codes, keys) live on :class:`ScoreRequest`. "Today" is the date in China (UTC+8, no
daylight saving) unless the caller passes ``context={"today": date}`` to ``model_validate``.

A batch (:class:`ScoreBatchRequest`, at most ``TECHRISK_MAX_BATCH`` items) is validated item
by item (:func:`parse_batch`): one bad item is answered with its errors, the others scored.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from operator import attrgetter
from typing import Annotated, Any, ClassVar, Self

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, to_jsonable_python
from pydantic_core import core_schema as cs

from features.contract import BY_NAME, Column, RowRule, Table
from features.credit_code import InvalidCreditCode, validate
from features.schemas import TABLES
from features.timing import RECORD_TABLES, as_of_failures, future_counts
from serving import limits
from serving.audit import canonical_number

#: Environment variable bounding the items of one batch request, and its default.
MAX_BATCH_ENV = "TECHRISK_MAX_BATCH"
DEFAULT_MAX_BATCH = 1_000
#: China Standard Time has had no daylight saving since 1991: a fixed offset is exact.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def read_max_batch() -> int:
    """Most items one batch request may carry, from ``TECHRISK_MAX_BATCH``."""
    value = os.environ.get(MAX_BATCH_ENV, str(DEFAULT_MAX_BATCH))
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_BATCH_ENV} must be a positive integer; got {value!r}")
    return int(value)


#: Read once at import, so a bad setting stops the service at start, not on a request.
MAX_BATCH = read_max_batch()


def china_today() -> dt.date:
    """Today's date in Shanghai, the calendar the applications are dated in."""
    return dt.datetime.now(CHINA_TZ).date()


# -- field types -----------------------------------------------------------------------------
def _with_rule(schema: cs.CoreSchema, kind: str, rule: str) -> cs.CoreSchema:
    """``schema`` whose every error reads ``rule`` (error type ``kind``)."""
    return cs.custom_error_schema(schema, kind, custom_error_message=rule)


def _field_type(python_type: type, schema: cs.CoreSchema, json_schema: dict[str, Any]) -> Any:
    """An ``Annotated`` type validated by ``schema`` and documented by ``json_schema``."""
    return Annotated[
        python_type,
        GetPydanticSchema(lambda _source, _handler: schema),
        WithJsonSchema(json_schema),
    ]


#: Numeric text as JSON writes a number; Python's own parsing would also take ``"1_000"``,
#: ``" 5 "`` or ``"+5"``, which no bank's export means as a number.
_NUMBER_TEXT = cs.str_schema(
    strict=True, pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$", max_length=64
)


#: Whole floats dumped to JSON as integers, the audit's canonical form: the scorer records a
#: request's dump without walking it again (``serving.audit.canonical_object``).
_WHOLE_AS_INTEGER = cs.plain_serializer_function_ser_schema(canonical_number, when_used="json")


def _number(
    *,
    whole: bool = False,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A number type whose one rule names kind and bounds ("must be a whole number >= 0").

    A JSON number of the right kind meets the first (strict, fastest) choice; numeric
    strings and whole floats (``12.0`` for a count) are parsed by the others. Never a bool.
    """
    bounds = {k: v for k, v in {"ge": ge, "gt": gt, "le": le}.items() if v is not None}
    if whole:
        exact = cs.int_schema(strict=True, **bounds)
        parsed = cs.int_schema(**bounds)  # from a whole float or an integer string
        choices = [exact, cs.chain_schema([cs.float_schema(strict=True), parsed])]
    else:
        exact = cs.float_schema(strict=True, allow_inf_nan=False, **bounds)
        parsed = cs.float_schema(allow_inf_nan=False, **bounds)
        choices = [exact]
    choices.append(cs.chain_schema([_NUMBER_TEXT, parsed]))
    rule = f"must be a {'whole number' if whole else 'number'}{_bounds_text(ge, gt, le)}"
    schema = cs.union_schema(
        choices,
        custom_error_type="number",
        custom_error_message=rule,
        serialization=None if whole else _WHOLE_AS_INTEGER,
    )
    json_bounds = {"minimum": ge, "exclusiveMinimum": gt, "maximum": le}
    json_schema = {
        "type": "integer" if whole else "number",
        "description": "a JSON number; a numeric string is also accepted",
        **{key: bound for key, bound in json_bounds.items() if bound is not None},
    }
    return _field_type(int if whole else float, schema, json_schema)


def _bounds_text(ge: float | None, gt: float | None, le: float | None) -> str:
    """The bounds in the file side's words (``features.schemas``), after the kind."""
    if ge is not None and le is not None:
        return f" between {ge} and {le}"
    if gt is not None and le is not None:
        return f" > {gt} and <= {le}"
    if ge is not None:
        return f" >= {ge}"
    if le is not None:
        return f" <= {le}"
    return f" > {gt}" if gt is not None else ""


#: Only ``YYYY-MM-DD`` text: pydantic's own date parsing would also read Unix timestamps.
_ISO_DATE_TEXT = cs.chain_schema(
    [cs.str_schema(strict=True, pattern=r"^\d{4}-\d{2}-\d{2}$"), cs.date_schema()]
)
IsoDate = _field_type(
    dt.date,
    _with_rule(
        cs.json_or_python_schema(
            json_schema=_ISO_DATE_TEXT,
            # Python callers may also pass date objects (never datetimes).
            python_schema=cs.union_schema([cs.date_schema(strict=True), _ISO_DATE_TEXT]),
        ),
        "iso_date",
        "must be an ISO date (YYYY-MM-DD)",
    ),
    {"type": "string", "format": "date"},
)
Flag = _field_type(
    bool, _with_rule(cs.bool_schema(), "flag", "must be true or false"), {"type": "boolean"}
)
_STRING = _with_rule(cs.str_schema(strict=True), "text", "must be a string")


@cache
def _text(max_chars: int | None) -> Any:
    """A string, at most ``max_chars`` characters (the contract's plausibility bound)."""
    if max_chars is None:
        return _field_type(str, _STRING, {"type": "string"})
    rule = f"must be at most {max_chars} characters"
    longest = _with_rule(cs.str_schema(max_length=max_chars), "text_length", rule)
    return _field_type(
        str, cs.chain_schema([_STRING, longest]), {"type": "string", "maxLength": max_chars}
    )


def _choice(values: Sequence[str]) -> Any:
    rule = f"must be one of: {', '.join(values)}"
    schema = _with_rule(cs.literal_schema(list(values)), "choice", rule)
    return _field_type(str, schema, {"enum": list(values)})


@lru_cache(maxsize=4096)
def _valid_code(code: str) -> str:
    """``code`` if it is a valid credit code. Cached: a request repeats one code ~100 times,
    and only valid codes are cached (an exception is never memoised)."""
    try:
        validate(code)
    except InvalidCreditCode as exc:
        reason = str(exc).removeprefix(f"credit code {code!r}: ")
        raise PydanticCustomError(
            "credit_code",
            "must be a valid unified social credit code (GB 32100-2015): {reason}",
            {"reason": reason},
        ) from None
    return code


CreditCode = _field_type(
    str,
    cs.no_info_after_validator_function(_valid_code, _STRING),
    {"type": "string", "minLength": 18, "maxLength": 18, "examples": ["91310115MA1K4QXX3B"]},
)


def _request_type(column: Column) -> Any:
    """The request-side type of a declared column (its rules are the file side's)."""
    if column.kind == "real":
        return _number(ge=column.ge, gt=column.gt, le=column.le)
    if column.kind in ("count", "integer") and not column.choices:
        return _number(whole=True, ge=column.ge, le=column.le)
    if column.kind == "choice":
        return _choice(column.choices)
    if column.kind == "text":
        return _text(column.max_chars)
    if column.kind in _TYPES:
        return _TYPES[column.kind]
    raise TypeError(f"column {column.name!r}: kind {column.kind!r} has no request type")


_TYPES = {"credit_code": CreditCode, "date": IsoDate, "flag": Flag}


# -- rules within one record -----------------------------------------------------------------
def _failure(loc: tuple[str | int, ...], value: object, rule: str) -> InitErrorDetails:
    """One error for ``ValidationError.from_exception_data``; ``rule`` is its whole message."""
    return InitErrorDetails(
        type=PydanticCustomError("rule", "{rule}", {"rule": rule}), loc=loc, input=value
    )


def _show(value: object) -> str:
    """A bound as a reader types it: ISO dates, plain numbers."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- one model per contract table ------------------------------------------------------------
class Record(BaseModel):
    """A row of a contract table; ``row_rules`` relate its fields (all failures reported)."""

    model_config = ConfigDict(extra="forbid")
    row_rules: ClassVar[tuple[RowRule, ...]] = ()
    #: Contract column → request field, where they differ (``applied_on`` → ``as_of``).
    field_names: ClassVar[dict[str, str]] = {}
    renamed: ClassVar[bool] = False

    @model_validator(mode="after")
    def _check_row_rules(self) -> Self:
        if not self.row_rules:
            return self
        # A record's fields are the contract row, under the contract's names.
        row = (
            self.__dict__
            if not self.renamed
            else {c: getattr(self, f) for c, f in self.field_names.items()}
        )
        for rule in self.row_rules:  # every record of a request passes here: no list if all hold
            if not rule.holds_one(row):
                break
        else:
            return self
        failures = [
            _failure((rule.column,), row[rule.column], self._rule_text(rule, row))
            for rule in self.row_rules
            if not rule.holds_one(row)
        ]
        raise ValidationError.from_exception_data(type(self).__name__, failures)

    @staticmethod
    def _rule_text(rule: RowRule, row: Mapping[str, Any]) -> str:
        return f"{rule.text} ({_show(row[rule.shows])})" if rule.shows else rule.text


class FirmRecord(Record):
    """A child record; its ``credit_code`` may be left out and then is the firm's."""

    credit_code: CreditCode | None = None


def _record_model(table: Table, base: type[Record]) -> type[Record]:
    """The request model of ``table``: its columns as fields, its row rules as validators.

    Nullable columns are optional fields, and so is a ``credit_code`` that refers to the firm
    (not unique in its table): a child record or the application may leave it out.
    """
    fields: dict[str, Any] = {}
    for column in table.columns:
        if column.request == "absent":
            continue
        kind = _request_type(column)
        optional = (
            column.nullable
            or column.request == "optional"
            or (column.kind == "credit_code" and not column.unique)
        )
        fields[column.field_name] = (kind | None, None) if optional else (kind, ...)
    model = create_model(
        table.record or table.name,
        __base__=base,
        __doc__=table.doc,
        __module__=__name__,
        **fields,
    )
    model.row_rules = table.rules
    model.field_names = {c.name: c.field_name for c in table.columns if c.request != "absent"}
    model.renamed = any(c != f for c, f in model.field_names.items())
    return model


Firm = _record_model(BY_NAME["firms"], Record)
Application = _record_model(BY_NAME["applications"], Record)
#: The list tables of a request and their record models (every table of dated records).
CHILD_TABLES: dict[str, type[FirmRecord]] = {
    name: _record_model(BY_NAME[name], FirmRecord)  # type: ignore[misc]
    for name in RECORD_TABLES
}
RECORD_MODELS: dict[str, type[Record]] = {"firms": Firm, **CHILD_TABLES}
#: The columns that key a record within one firm: the contract's key without ``credit_code``
#: (which is the firm's), or the table's own unique column, or else the whole record (the same
#: credit event twice is one event counted twice).
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(
        [f for f in CHILD_TABLES[name].model_fields if f != "credit_code"]
        if BY_NAME[name].whole_record_key
        else [c for c in BY_NAME[name].key if c != "credit_code"]
        or [c.name for c in BY_NAME[name].columns if c.unique]
    )
    for name in CHILD_TABLES
}


# -- the request -----------------------------------------------------------------------------
#: The tables of a request as fields: the firm, the application, a list per child table.
_RequestTables = create_model(
    "_RequestTables",
    __config__=ConfigDict(extra="forbid"),
    __module__=__name__,
    firm=(Firm, ...),
    application=(Application, ...),
    **{name: (list[model], ...) for name, model in CHILD_TABLES.items()},  # type: ignore[valid-type]
)


class ScoreRequest(_RequestTables):  # type: ignore[misc, valid-type]
    """One firm's records and its application: the body of the score endpoint.

    Every table key is required; ``[]`` means the firm has no such records (a thin file).
    Records dated on or after ``application.as_of`` are accepted (the point-in-time rule
    ignores them); :meth:`future_records` counts them so the response can say so.
    """

    @model_validator(mode="before")
    @classmethod
    def _check_sizes(cls, data: Any, info: ValidationInfo) -> Any:
        """Refuse a table of more than ``TECHRISK_MAX_RECORDS`` records before validating any
        of them: 100,000 rows would hold a worker for seconds only to be refused anyway."""
        if not isinstance(data, dict):
            return data
        limit = (info.context or {}).get("max_records") or limits.current().max_records
        rule = f"must have at most {limit} records (TECHRISK_MAX_RECORDS)"
        failures = [
            _failure((table,), len(records), rule)
            for table in CHILD_TABLES
            if isinstance(records := data.get(table), list) and len(records) > limit
        ]
        if failures:
            raise ValidationError.from_exception_data(cls.__name__, failures)
        return data

    @model_validator(mode="after")
    def _check_request(self, info: ValidationInfo) -> Self:
        today = (info.context or {}).get("today") or china_today()
        failures = [*self._as_of_failures(today), *self._claim_records(), *self._duplicates()]
        if failures:
            raise ValidationError.from_exception_data(type(self).__name__, failures)
        return self

    def records(self) -> Iterator[tuple[str, list[FirmRecord]]]:
        """(table name, records) for every list table, in contract order."""
        for table in CHILD_TABLES:
            yield table, getattr(self, table)

    def future_records(
        self, sources: Mapping[str, Mapping[str, np.ndarray]] | None = None
    ) -> dict[str, int]:
        """Per table, how many records are known only on or after ``as_of``: ignored.

        Each table's known-on rule is the contract's (``features.timing.future_counts``): a
        fiscal year counts from its filing deadline (31 May of the next year), a staffing
        month from the next month, an IP asset from ``filed_on``. ``sources`` are the
        request's :func:`to_sources` columns, when the caller has them already.
        """
        sources = sources if sources is not None else to_sources(self)[0]
        counts = future_counts(sources, [self.firm.credit_code], [self.application.as_of])
        return {table: int(n[0]) for table, n in counts.items()}

    def _as_of_failures(self, today: dt.date) -> list[InitErrorDetails]:
        as_of = self.application.as_of
        [rule] = as_of_failures([as_of], [self.firm.founded_on], today)
        return [] if rule is None else [_failure(("application", "as_of"), as_of, rule)]

    def _claim_records(self) -> list[InitErrorDetails]:
        """Give unkeyed records the firm's code; report records keyed to another firm."""
        code = self.firm.credit_code
        failures = []
        for loc, record in self._keyed_records():
            if record.credit_code is None:
                # What pydantic's __setattr__ does here, without its dispatch: a firm sends a
                # few hundred records, and this is on every request's path.
                record.__dict__["credit_code"] = code
                record.__pydantic_fields_set__.add("credit_code")
            elif record.credit_code != code:
                rule = f"must equal firm.credit_code ({code})"
                failures.append(_failure((*loc, "credit_code"), record.credit_code, rule))
        return failures

    def _keyed_records(self) -> Iterator[tuple[tuple[str | int, ...], Application | FirmRecord]]:
        """Every record that may carry its own ``credit_code``, with its location."""
        yield ("application",), self.application
        for table, records in self.records():
            for i, record in enumerate(records):
                yield (table, i), record

    def _duplicates(self) -> list[InitErrorDetails]:
        """Records sharing a key: the contract keeps one row per key, so which one is right?

        A one-column key is reported at that column; a whole-record key at the record.
        """
        failures = []
        for table, columns in UNIQUE_KEYS.items():
            get = attrgetter(*columns)
            first: dict[object, int] = {}
            for i, record in enumerate(getattr(self, table)):
                key = get(record)
                if key not in first:
                    first[key] = i
                    continue
                if len(columns) == 1:
                    rule = f"must be unique within {table}; also at {table}[{first[key]}]"
                    failures.append(_failure((table, i, columns[0]), key, rule))
                else:
                    rule = f"repeats {table}[{first[key]}]: one record sent twice would count twice"
                    if "record_id" in columns:
                        rule += "; two records alike are told apart by their record_id"
                    value = record.model_dump(mode="json", include=set(columns), exclude_none=True)
                    failures.append(_failure((table, i), value, rule))
        return failures


# -- batches ---------------------------------------------------------------------------------
class _ItemsOfScoreRequests:
    """``items`` as documented (a list of :class:`ScoreRequest`) and as validated (a list of
    anything): each item is validated on its own, so one bad item cannot fail the batch."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> cs.CoreSchema:
        return cs.list_schema(cs.any_schema())

    @classmethod
    def __get_pydantic_json_schema__(cls, _schema: cs.CoreSchema, handler: Any) -> Any:
        items = cs.list_schema(ScoreRequest.__pydantic_core_schema__, max_length=MAX_BATCH)
        return handler(items)


class ScoreBatchRequest(BaseModel):
    """The body of the batch endpoint: at most ``TECHRISK_MAX_BATCH`` score requests.

    Only the envelope is validated here (an object with a list of at most the limit); use
    :func:`parse_batch` to validate the items one by one.
    """

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[Any], _ItemsOfScoreRequests]

    @model_validator(mode="after")
    def _check_size(self, info: ValidationInfo) -> Self:
        limit = (info.context or {}).get("max_batch") or MAX_BATCH
        if len(self.items) > limit:
            rule = f"must have at most {limit} items ({MAX_BATCH_ENV}); split the batch"
            raise ValidationError.from_exception_data(
                type(self).__name__, [_failure(("items",), len(self.items), rule)]
            )
        return self


class ItemError(BaseModel):
    """Why item ``index`` of a batch was not scored; fields are relative to the item."""

    index: int
    errors: list[dict[str, Any]] = Field(description="{field, value, rule} per broken rule")


def parse_batch(
    raw: object, *, today: dt.date | None = None, max_items: int | None = None
) -> tuple[list[ScoreRequest | None], list[ItemError | None]]:
    """Validate a batch body item by item: (requests, errors), aligned with ``items``.

    Item i is either a request (error None) or None with its :class:`ItemError`. An invalid
    envelope (not an object, no ``items``, too many items) raises ``ValidationError``: the
    whole batch is then refused with a 4xx naming the limit.
    """
    context = {"today": today, "max_batch": max_items}
    batch = ScoreBatchRequest.model_validate(raw, context=context)
    requests: list[ScoreRequest | None] = []
    errors: list[ItemError | None] = []
    for index, item in enumerate(batch.items):
        try:
            requests.append(ScoreRequest.model_validate(item, context=context))
            errors.append(None)
        except ValidationError as exc:
            requests.append(None)
            errors.append(ItemError(index=index, errors=validation_errors(exc)))
    return requests, errors


# -- errors in words -------------------------------------------------------------------------
#: Rules for pydantic's own error types (ours carry their rule as the message).
_BUILT_IN_RULES = {
    "extra_forbidden": "is not a field of this record (see features/schemas.py)",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list (send [] for no records)",
}


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Each error of ``exc`` as ``{"field", "value", "rule"}`` for an HTTP 4xx body.

    ``field`` is a dotted path with list indices (``ip_assets[2].granted_on``; ``(body)``
    for the body as a whole), ``value`` the offending value made JSON-safe (None when the
    field is missing), ``rule`` the broken rule in words.
    """
    return field_errors(exc.errors(include_url=False))


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's error dicts (``loc``, ``type``, ``msg``, ``input``) as
    :func:`validation_errors` words them; FastAPI's own request errors pass here too."""
    return [{"field": _path(e["loc"]), "value": _value(e), "rule": _rule_text(e)} for e in errors]


def _path(loc: tuple[str | int, ...]) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc]
    return "".join(parts).lstrip(".") or "(body)"


def _value(error: Mapping[str, Any]) -> Any:
    return None if error["type"] == "missing" else _jsonable(brief_value(error["input"]))


#: Longest text, and most items of a list or object, an error echoes of an offending value.
_ECHO_CHARS = 64
_ECHO_ITEMS = 20
#: Python converts integers of at most 4,300 digits to text (``sys.int_info``).
_TEXT_INT_BITS = 14_000


def brief_value(value: Any, depth: int = 0) -> Any:
    """``value`` short enough for an error body: a 400-digit number, a long string or a
    table of 100,000 rows is echoed cut, with its size, not in full."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 10**18:
        if value.bit_length() > _TEXT_INT_BITS:
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        text = str(value)
        return f"{text[:16]}…({len(text.lstrip('-'))} digits)"
    if isinstance(value, str) and len(value) > _ECHO_CHARS:
        return f"{value[:_ECHO_CHARS]}…({len(value)} characters)"
    if isinstance(value, list | tuple | dict):
        kind, n = ("object", "keys") if isinstance(value, dict) else ("array", "items")
        if len(value) > _ECHO_ITEMS or depth >= 3:
            return f"<{kind} of {len(value)} {n}>"
        if isinstance(value, dict):
            return {str(k)[:_ECHO_CHARS]: brief_value(v, depth + 1) for k, v in value.items()}
        return [brief_value(v, depth + 1) for v in value]
    return value


def _rule_text(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        top_level_table = len(error["loc"]) == 1 and error["loc"][0] in CHILD_TABLES
        return "missing required table (send [] for none)" if top_level_table else "is required"
    if kind in _BUILT_IN_RULES:
        return _BUILT_IN_RULES[kind]
    return error["msg"].replace("Input should be", "must be").removeprefix("Value error, ")


def _jsonable(value: object) -> Any:
    """``value`` as JSON can carry it: ISO dates, and text for NaN/inf (not valid JSON)."""
    plain = to_jsonable_python(value, fallback=repr)
    if isinstance(plain, float) and not math.isfinite(plain):
        return str(plain)
    if isinstance(plain, list):
        return [_jsonable(v) for v in plain]
    if isinstance(plain, dict):
        return {k: _jsonable(v) for k, v in plain.items()}
    return plain


# -- to feature-build columns ----------------------------------------------------------------
#: Days from 0001-01-01 (``date.toordinal`` 1) to 1970-01-01, numpy's day 0.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_NAT = np.iinfo(np.int64).min


def _converter(dtype: str) -> Callable[[Sequence[Any]], np.ndarray]:
    """How a contract column of ``dtype`` becomes a numpy array (from its values)."""
    if dtype.startswith("datetime"):
        return _dates
    if dtype in ("float64", "int64", "bool"):
        return lambda values: np.array(values, dtype=dtype)  # None → NaN for float64
    return lambda values: np.array(values, dtype=object)


def _dates(values: Sequence[dt.date | None]) -> np.ndarray:
    """``datetime64[D]``, None → NaT. Ordinals: 15× faster than numpy's date parsing."""
    days = [_NAT if d is None else d.toordinal() - _EPOCH_ORDINAL for d in values]
    return np.array(days, dtype=np.int64).view("datetime64[D]")


#: Per table: its columns (contract order), one getter for all of them, their converters.
_LAYOUT = {
    table: (
        tuple(TABLES[table].columns),
        attrgetter(*TABLES[table].columns),
        tuple(_converter(str(col.dtype)) for col in TABLES[table].columns.values()),
    )
    for table in RECORD_MODELS
}


def _columns(table: str, records: Sequence[Record]) -> dict[str, np.ndarray]:
    names, get, converters = _LAYOUT[table]
    rows = [get(record) for record in records]
    values = zip(*rows, strict=True) if rows else [()] * len(names)
    return {
        name: convert(column)
        for name, convert, column in zip(names, converters, values, strict=True)
    }


def to_sources(
    request: ScoreRequest,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """The request as ``build_feature_matrix(sources, applications)`` takes it.

    Sources map each contract table to column arrays (dates ``datetime64[D]``, text as object
    arrays of str, money and counts float64 with NaN for missing, years and tiers int64,
    flags bool); applications is the one-row application table.
    """
    sources = {"firms": _columns("firms", [request.firm])}
    sources.update((table, _columns(table, records)) for table, records in request.records())
    app = request.application
    applications = {
        "loan_id": np.array([app.loan_id], dtype=object),
        "credit_code": np.array([request.firm.credit_code], dtype=object),
        "product": np.array([app.product], dtype=object),
        "applied_on": _dates([app.as_of]),
        "amount": np.array([app.amount], dtype=np.float64),
        "term_months": np.array([app.term_months], dtype=np.int64),
        "guarantee": np.array([app.guarantee], dtype=object),
    }
    return sources, applications
