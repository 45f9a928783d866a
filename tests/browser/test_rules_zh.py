"""Every rule the service can send reads as Chinese on the page in Chinese.

The rules come from ``tests.browser.rule_catalogue``, which breaks each rule of the contract,
the boundary and the what-if panel, and from the page's own endpoints on the served page (a
batch with an unknown firm, a firm with an invalid record, an application dated in the future;
a batch without its firms; a misnamed file; a code that is no sample firm). The page renders
them with its own ``ruleText``. What may stay in Latin letters is what the user types as it
is: table, column and field names, the codes a column takes, file names and formats, settings
and quoted values.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from features.credit_code import generate_codes
from tests.browser.rule_catalogue import identifiers, rule_texts
from tests.servers import bearer

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
def texts(page_server, page_key, small_market, tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("bad-batch")
    return sorted({*rule_texts(), *_page_rules(page_server, page_key, small_market, folder)})


def _page_rules(base: str, key: str, market: dict[str, pd.DataFrame], folder: Path) -> set[str]:
    """The rules the page's own endpoints answer, from a served page."""
    apps = market["applications"].sort_values("applied_on").tail(4).copy()
    apps = apps.drop(columns=["default_12m"], errors="ignore").reset_index(drop=True)
    codes = list(apps["credit_code"])
    [stranger] = generate_codes(1, np.random.default_rng(99))
    apps.loc[0, "credit_code"] = stranger  # no such firm in firms.csv
    apps.loc[1, "applied_on"] = pd.Timestamp("2999-01-01")  # in the future
    ip = market["ip_assets"][market["ip_assets"]["credit_code"].isin(codes)].copy()
    granted = ip.index[(ip["credit_code"] == codes[2]) & ip["granted_on"].notna()]
    ip.loc[granted[:1], "granted_on"] = ip.loc[granted[:1], "filed_on"] - pd.Timedelta(days=400)
    files = {
        "applications": apps,
        "firms": market["firms"][market["firms"]["credit_code"].isin(codes)],
        "ip_assets": ip,
    }
    for name, frame in files.items():
        frame.to_csv(folder / f"{name}.csv", index=False)

    def upload(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
        return [("files", (n, (folder / n).read_bytes(), "text/csv")) for n in names]

    rules: set[str] = set()
    with httpx.Client(base_url=base, headers=bearer(key), timeout=120) as client:
        for sent in (
            upload("applications.csv", "firms.csv", "ip_assets.csv"),
            upload("applications.csv"),
            [("files", ("notes.txt", b"x", "text/plain"))],
        ):
            body = client.post("/ui/api/batch", files=sent).json()
            rules |= {e["rule"] for e in body["errors"]}
        for path in (f"/ui/api/samples/{stranger}", "/ui/api/history/ABC"):
            rules |= {e["rule"] for e in client.get(path).json()["errors"]}
    return rules


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
        "firm has an invalid record",
        "firm not found",
        "is required for a batch",
        "must be named",
        "is not a sample firm",
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
