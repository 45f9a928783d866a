"""The project's base error, so callers catch what the project raises on purpose as one type."""

from __future__ import annotations


class TechriskError(Exception):
    """Base of every error the project raises on purpose.

    The command line prints one of these as a single line with a non-zero exit; the service
    maps its subclasses to HTTP 4xx or 503. Anything else is a bug and keeps its traceback.
    """


class InvalidArgument(TechriskError, ValueError):
    """A user-given setting or option breaks its rule; the message names it, its value and rule.

    A ``ValueError`` too, so code that validated with ``ValueError`` keeps catching it.
    """

    def __init__(self, name: str, value: object, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name} {rule}; got {value!r}")
