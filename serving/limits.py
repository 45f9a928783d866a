"""The request-only limits of the service, and the one strict parse of a JSON body.

Bounds that are properties of the data (plausible money and counts, one record per key) are
declared with the contract (``features/contract.py``) and hold for a bank's files too. These
hold for one HTTP request only: its size in bytes (``TECHRISK_MAX_BODY_BYTES``), how deep its
JSON nests (:data:`MAX_DEPTH`) and how many records one table may carry
(``TECHRISK_MAX_RECORDS``, checked by ``serving.schemas.ScoreRequest``).

:func:`parse_body` decodes a body once, strictly, with Python's C JSON decoder and two hooks:
each object's key/value pairs are seen before a dict would silently keep the last of two equal
keys, and the non-JSON constants ``NaN``/``Infinity`` are refused. JSON parsers disagree on
which of two equal keys wins, so a body whose meaning depends on the parser is refused rather
than guessed at. The decoded object is handed to the endpoint (``serving.boundary``), so the
service never decodes a body twice.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from techrisk_base import settings

#: Deepest nesting a body may have. A score request nests 4 levels (body, table, record,
#: value), a batch or a what-if 5; the margin is for clients that wrap, not for recursion.
MAX_DEPTH = 32


@dataclass(frozen=True)
class Limits:
    """The request limits in force, read from the settings when a request arrives."""

    max_body_bytes: int
    max_records: int


def current() -> Limits:
    """The limits now; a bad setting raises ``InvalidArgument`` (the service checks at start)."""
    return Limits(max_body_bytes=settings.max_body_bytes(), max_records=settings.max_records())


class MalformedBody(ValueError):
    """A body that is not one strict JSON object: where (``field``), what and which rule.

    ``value`` never quotes the body's content (it may hold names and credit codes, and the
    refusal is logged): it is a position, a byte, a key or a type.
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        field = _writable(field)
        value = _writable(value) if isinstance(value, str) else value
        super().__init__(f"{field}: {rule}")
        self.field, self.value, self.rule = field, value, rule


def _writable(text: str) -> str:
    """``text`` with any lone surrogate spelt as its escape, so the refusal can be sent."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _Constant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's decoder reads them, JSON has none."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def parse_body(body: bytes) -> dict[str, Any]:
    """``body`` decoded as one JSON object, or :class:`MalformedBody` saying why not."""
    if body.startswith(codecs.BOM_UTF8):
        raise MalformedBody("(body)", "EF BB BF", "must not start with a byte order mark")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        value = f"byte {exc.start}: 0x{body[exc.start]:02X}"
        raise MalformedBody("(body)", value, "must be UTF-8 text") from None
    repeated: dict[int, tuple[dict[str, Any], str]] = {}

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            # Keep the dict itself: its id stays unique while the walk below looks for it.
            repeated[id(obj)] = (obj, _first_repeated(pairs))
        return obj

    try:
        value = json.loads(text, object_pairs_hook=pairs_to_dict, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        position = f"line {exc.lineno} column {exc.colno}"
        raise MalformedBody("(body)", position, f"must be valid JSON: {exc.msg}") from None
    except _Constant as exc:
        rule = "must be valid JSON: NaN and Infinity are not JSON numbers"
        raise MalformedBody("(body)", str(exc), rule) from None
    except RecursionError:
        raise MalformedBody("(body)", f"> {MAX_DEPTH}", _DEPTH_RULE) from None
    except ValueError:  # an integer beyond Python's 4,300-digit conversion limit
        rule = "must be valid JSON with numbers of at most 4300 digits"
        raise MalformedBody("(body)", None, rule) from None
    depth = json_depth(body)
    if depth > MAX_DEPTH:
        raise MalformedBody("(body)", depth, _DEPTH_RULE)
    if repeated:
        path, key = next(
            (_join(path, repeated[id(node)][1]), repeated[id(node)][1])
            for path, node in _nodes(value)
            if id(node) in repeated
        )
        rule = "must not repeat a key within one object (which value would count?)"
        raise MalformedBody(path, key, rule)
    if _SURROGATE_ESCAPE.search(body):
        path = next((path for path, text in _texts(value) if not _is_unicode(text)), None)
        if path is not None:
            rule = (
                "must be valid Unicode: a lone surrogate escape (\\ud800-\\udfff) is no character"
            )
            raise MalformedBody(path, None, rule)
    if not isinstance(value, dict):
        raise MalformedBody(
            "(body)", _JSON_TYPES.get(type(value), "value"), "must be a JSON object"
        )
    return value


_DEPTH_RULE = f"must nest at most {MAX_DEPTH} levels of objects and arrays"
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_TYPES[type(None)] = "null"


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key among pairs that made a smaller dict")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _nodes(value: Any) -> Iterator[tuple[str, Any]]:
    """Every value of a decoded body with its path (``ip_assets[1].claims``), in document
    order; walked only to locate a fault already detected."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            children = [(_join(path, k), v) for k, v in node.items()]
        elif isinstance(node, list):
            children = [(f"{path}[{i}]", v) for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(children))


def _texts(value: Any) -> Iterator[tuple[str, str]]:
    """Every string of a decoded body, keys included, with its path."""
    for path, node in _nodes(value):
        if isinstance(node, str):
            yield path, node
        elif isinstance(node, dict):
            yield from ((path or "(body)", key) for key in node)  # where the key is


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogate from a ``\\ud800`` escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: A ``\\uD800``-``\\uDFFF`` escape: a surrogate, which JSON allows only in valid pairs.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: A JSON string literal in UTF-8 bytes (valid JSON: every quote inside one is escaped, and
#: no byte of a multi-byte character is a quote or a backslash).
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: +1 for an opening bracket, -1 for a closing one, by byte.
_STEPS = np.zeros(256, dtype=np.int64)
_STEPS[list(b"[{")] = 1
_STEPS[list(b"]}")] = -1
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deep the objects and arrays of valid JSON ``body`` nest (a scalar is 0).

    Counted on the bytes without their strings, in C and numpy: a walk of the decoded object
    would cost a Python step per value of every request.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return int(np.cumsum(_STEPS[np.frombuffer(brackets, dtype=np.uint8)]).max())
