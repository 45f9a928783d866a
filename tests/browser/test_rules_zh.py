"""Every rule the service can send reads as Chinese on the page in Chinese.

The rules come from ``tests.browser.rule_catalogue``, which breaks each rule of the contract,
the boundary and the what-if panel; the page renders them with its own ``ruleText``. What
may stay in Latin letters is what the user types as it is: table, column and field names,
the codes a column takes, file names and formats, settings and quoted values.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.rule_catalogue import identifiers, rule_texts

#: Latin-letter tokens a Chinese rule keeps: formats, standards, settings and literals.
KEPT = (
    "YYYY-MM-DD",
    "GB 32100-2015",
    "application/json",
    "charset=utf-8",
    "features/schemas.py",
    "UTF-8",
    "JSON",
    "BOM",
    "NaN",
    "Infinity",
    "true",
    "false",
    r"\uXXXX",
    ".csv",
    ".xlsx",
    ".parquet",
)
#: Quoted values, credit codes, table positions and settings a rule names.
LITERALS = re.compile(r"'[^']*'|\b[0-9A-Z]{18}\b|\w+\[\d+\]|TECHRISK_[A-Z_]+|\bC\+")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return rule_texts()


def untranslated(rendered: str, names: set[str]) -> list[str]:
    """The English words left in ``rendered`` once kept tokens and names are taken out."""
    rest = LITERALS.sub(" ", rendered)
    for token in KEPT:
        rest = rest.replace(token, " ")
    words = re.findall(r"[A-Za-z_][A-Za-z_0-9.]*", rest)
    return [w for w in words if w.strip(".") not in names and not re.fullmatch(r"[A-Z]", w)]


def test_the_catalogue_reaches_every_kind_of_rule(texts) -> None:
    """A catalogue that broke nothing would pass the test below vacuously."""
    starts = {
        "must be a number",
        "must be a whole number",
        "must be one of",
        "must be on or after",
        "must be valid JSON",
        "repeats ",
        "must not be in the future",
        "is required but missing",
        "Input tag",
    }
    assert len(texts) > 60
    assert all(any(t.startswith(s) for t in texts) for s in starts)


def test_every_rule_renders_in_chinese(bare_page, texts) -> None:
    rendered = bare_page.evaluate("(rules) => rules.map(ruleText)", texts)
    names = identifiers()
    left = {
        rule: (zh, words)
        for rule, zh in zip(texts, rendered, strict=True)
        if (words := untranslated(zh, names)) or zh == rule
    }
    assert not left, "rules the page shows in English:\n" + "\n".join(
        f"{rule!r} -> {zh!r} (left: {words})" for rule, (zh, words) in left.items()
    )


def test_in_english_the_rules_are_shown_as_sent(bare_page, texts) -> None:
    bare_page.click("#lang")
    assert bare_page.evaluate("(rules) => rules.map(ruleText)", texts) == texts
