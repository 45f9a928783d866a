"""The request-only limits of the service, and the one strict parse of a JSON body.

Bounds that are properties of the data (plausible money and counts, one record per key) are
declared with the contract (``features/contract.py``) and hold for a bank's files too. These
hold for one HTTP request only: its size in bytes (``TECHRISK_MAX_BODY_BYTES``), how deep its
JSON nests (:data:`MAX_DEPTH`) and how many records one table may carry
(``TECHRISK_MAX_RECORDS``, checked by ``serving.schemas.ScoreRequest``).

:func:`parse_body` decodes a body once, strictly: no BOM, UTF-8, no ``NaN``/``Infinity``, no
key repeated within an object, at most :data:`MAX_DEPTH` levels, an object at the top. JSON
parsers disagree on which of two equal keys wins, so a body whose meaning depends on the
parser is refused rather than guessed at. The decoded object is handed to the endpoint
(``serving.boundary``), so the service never decodes a body twice.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

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
    """``body`` decoded as one JSON object, or :class:`MalformedBody` saying why not.

    The decode is pydantic-core's (Rust, ~2x Python's). It keeps the last of two equal keys
    silently, so the members of the text (its colons outside strings) are counted against the
    keys decoded: a shortfall is a repeated key, which Python's decoder then locates. Any other
    fault is explained by Python's decoder too; only valid bodies take the fast path.
    """
    if body.startswith(codecs.BOM_UTF8):
        raise MalformedBody("(body)", "EF BB BF", "must not start with a byte order mark")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        value = f"byte {exc.start}: 0x{body[exc.start]:02X}"
        raise MalformedBody("(body)", value, "must be UTF-8 text") from None
    try:
        value = from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise _explained(body, str(exc)) from None
    keys, depth = _shape(value)
    if depth > MAX_DEPTH:
        raise MalformedBody("(body)", depth, _DEPTH_RULE)
    # Every colon is a member unless some sit inside strings: count exactly only then.
    if keys != body.count(b":") and keys != _members(body):
        raise _explained(body, "a key repeated within an object")
    if not isinstance(value, dict):
        kind = _JSON_TYPES.get(type(value), "value")
        raise MalformedBody("(body)", kind, "must be a JSON object")
    return value


def _explained(body: bytes, fault: str) -> MalformedBody:
    """The refusal of a body the fast decode found at fault, in the words of Python's
    decoder (which names NaN, repeated keys with their path, the nesting), else in
    pydantic-core's (``"unexpected end of hex escape at line 1 column 14"``)."""
    value = _python_decode(body.decode("utf-8"))  # raises the refusal it finds
    if _shape(value)[1] > MAX_DEPTH:
        return MalformedBody("(body)", _shape(value)[1], _DEPTH_RULE)
    words, _, position = fault.partition(" at ")
    return MalformedBody("(body)", position or None, f"must be valid JSON: {words}")


def _python_decode(text: str) -> Any:
    """``text`` decoded by Python's JSON decoder, refusing NaN/Infinity and repeated keys."""
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
    if repeated:
        path, key = next(
            (_join(path, repeated[id(node)][1]), repeated[id(node)][1])
            for path, node in _nodes(value)
            if id(node) in repeated
        )
        rule = "must not repeat a key within one object (which value would count?)"
        raise MalformedBody(path, key, rule)
    return value


def _shape(value: Any) -> tuple[int, int]:
    """(keys of all its objects, nesting depth) of a decoded body (a scalar has depth 0).

    Level by level, with the per-value test in a comprehension: this walk is on every
    request's path (~0.1 ms for a typical firm).
    """
    keys = depth = 0
    nodes = [value] if value.__class__ in _CONTAINERS else []
    while nodes:
        depth += 1
        below: list[Any] = []
        for node in nodes:
            if node.__class__ is dict:
                keys += len(node)
                node = node.values()
            below += [child for child in node if child.__class__ in _CONTAINERS]
        nodes = below
    return keys, depth


_CONTAINERS = (dict, list)


def _members(body: bytes) -> int:
    """How many ``key: value`` members valid JSON ``body`` writes: its colons outside strings.

    Escaped backslashes, then escaped quotes, are dropped first, so every quote left opens or
    closes a string and the text outside strings is every other piece between quotes.
    """
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(plain.split(b'"')[::2]).count(b":")


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
