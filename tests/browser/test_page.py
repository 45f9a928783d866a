"""The loan officer's page in a real headless Chromium against a real ``bentoml serve``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.schemas import ScoreRequest
from serving.whatif import apply_changes, parse_changes
from tests.browser.conftest import enter_key, shot
from tests.servers import bearer

CHILD_TABLES = (
    "ip_assets",
    "financials",
    "staffing",
    "credit_events",
    "tax_ratings",
    "financing_rounds",
    "support_records",
)


def pick_sample(page, code: str | None = None) -> str:
    """Choose a sample firm (the first listed, or the one with ``code``); its credit code."""
    if code:
        page.fill("#sample-search", code)
        page.wait_for_selector(f'#sample-list li[data-code="{code}"]')
    item = page.locator(f'#sample-list li[data-code="{code}"]' if code else "#sample-list li")
    chosen = item.first.get_attribute("data-code")
    item.first.click()
    page.wait_for_selector("#picked:not(:empty)")
    return chosen


def score(page) -> None:
    page.click("#score-btn")
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    page.wait_for_selector("#policy tr >> nth=1")


def test_score_a_sample_firm_and_see_grade_and_reasons(page) -> None:
    pick_sample(page)
    score(page)
    grade = page.inner_text("#r-grade")
    assert re.fullmatch(r"([1-9]|10)", grade)
    assert page.inner_text("#r-decision") in ("批准", "人工复核", "拒绝")
    assert page.locator(".scale .cell.here").inner_text().startswith(grade)
    assert page.locator("#r-raise li, #r-lower li").count() >= 1
    assert "同业中位数" in page.inner_text("#result") or "总体中位数" in page.inner_text("#result")
    assert "风险低于" in page.inner_text("#r-peer")
    assert page.locator("#waterfall svg rect").count() >= 3
    shot(page, "01-scored-zh")


def test_credit_memo_downloads_a_bilingual_summary(page, tmp_path) -> None:
    pick_sample(page)
    score(page)
    with page.expect_download() as download:
        page.click("#memo-download")
    saved = tmp_path / "memo.md"
    download.value.save_as(saved)
    memo = saved.read_text(encoding="utf-8")
    result = page.evaluate("S.result")
    assert memo.startswith("# 授信摘要 / Credit memo")
    assert result["request_id"] in memo and f"v{result['model']['version']}" in memo
    assert f"等级 / grade: {result['grade']}" in memo


def test_switch_language(page) -> None:
    pick_sample(page)
    score(page)
    page.click("#lang")
    assert page.inner_text("header h1") == "Tech-SME credit assessment"
    assert page.inner_text("#r-decision") in ("Approve", "Refer to officer", "Decline")
    assert "Safer than" in page.inner_text("#r-peer")
    reasons = page.inner_text("#r-raise") + page.inner_text("#r-lower")
    assert reasons and not re.search(r"[\u4e00-\u9fff]", page.inner_text("#policy"))
    shot(page, "02-scored-en")
    page.click("#lang")
    assert page.inner_text("header h1") == "科技型中小企业信用评估"


def test_whatif_changes_the_pd(page) -> None:
    pick_sample(page)
    score(page)
    page.fill("#wi-pat", "3")
    page.fill("#wi-round", "2000")
    page.select_option("#wi-tax", "A")
    page.click("#whatif-btn")
    page.wait_for_selector("#whatif-out:not([hidden])")
    row = page.locator("#whatif-out tr").nth(1).locator("td")
    before, after = row.nth(1).inner_text(), row.nth(2).inner_text()
    assert before != after, "the what-if did not move the PD"
    assert float(after.rstrip("%")) < float(before.rstrip("%"))
    shot(page, "03-whatif")


@pytest.fixture(scope="module")
def improvable(page_server, page_key) -> str:
    """A sample firm for which the server finds a suggestion one grade up."""
    with httpx.Client(base_url=page_server, timeout=120, headers=bearer(page_key)) as client:
        for sample in client.get("/ui/api/samples", params={"limit": 60}).json():
            body = client.get(f"/ui/api/samples/{sample['credit_code']}").json()
            out = client.post("/counterfactuals", json={"request": body}).json()
            if out["status"] == "found":
                return sample["credit_code"]
    pytest.fail("no sample firm has a counterfactual suggestion")


def test_counterfactual_applied_through_score_reaches_the_promised_grade(
    page, page_server, page_key, improvable
) -> None:
    pick_sample(page, improvable)
    score(page)
    page.click("#cf-next")
    page.wait_for_selector("#cf-out .suggestion", timeout=60_000)
    shot(page, "04-counterfactuals")
    state = page.evaluate("({request: S.request, cf: S.cf})")
    assert state["cf"]["suggestions"]
    for suggestion in state["cf"]["suggestions"]:
        changed = apply_changes(
            ScoreRequest.model_validate(state["request"]), parse_changes(suggestion["changes"])
        )
        scored = httpx.post(
            f"{page_server}/score",
            json=changed.model_dump(mode="json"),
            headers=bearer(page_key),
            timeout=60,
        ).json()
        assert scored["grade"] == suggestion["grade"] <= state["cf"]["original"]["grade"] - 1
    # "Try in what-if" fills the panel and shows the same grade, computed by the server
    page.click(".cf-apply >> nth=0")
    page.wait_for_selector("#whatif-out:not([hidden])")
    grade_row = page.locator("#whatif-out tr").nth(3).locator("td")
    assert int(grade_row.nth(2).inner_text()) == state["cf"]["suggestions"][0]["grade"]
    shot(page, "05-counterfactual-in-whatif")


def _write_tables(
    market: dict[str, pd.DataFrame], apps: pd.DataFrame, folder: Path, excel: tuple[str, ...] = ()
) -> list[Path]:
    """The applicants' rows of every table as a bank exports them: CSV, or Excel for ``excel``."""
    folder.mkdir(parents=True, exist_ok=True)
    codes = set(apps["credit_code"])
    paths = []
    for table in ("firms", *CHILD_TABLES):
        frame = market[table][market[table]["credit_code"].isin(codes)]
        if table in excel:
            paths.append(folder / f"{table}.xlsx")
            frame.to_excel(paths[-1], index=False)
        else:
            paths.append(folder / f"{table}.csv")
            frame.to_csv(paths[-1], index=False)
    return paths


def test_upload_one_firms_tables_csv_and_excel_and_score(page, small_market, tmp_path) -> None:
    app = small_market["applications"].sort_values("applied_on").iloc[[-1]]
    paths = _write_tables(small_market, app, tmp_path / "one", excel=("firms", "financials"))
    page.check('input[name="source"][value="tables"]')
    page.set_input_files("#table-files", [str(p) for p in paths])
    page.fill("#as_of", str(app["applied_on"].iloc[0].date()))
    score(page)
    assert re.fullmatch(r"([1-9]|10)", page.inner_text("#r-grade"))
    shot(page, "06-uploaded-tables")


def test_batch_upload_and_download(page, small_market, tmp_path) -> None:
    apps = small_market["applications"].sort_values("applied_on").tail(25).copy()
    apps = apps.drop(columns=["default_12m"], errors="ignore")
    apps.iloc[0, apps.columns.get_loc("amount")] = -5  # one bad row: reported, not dropped
    paths = _write_tables(small_market, apps, tmp_path / "batch")
    apps.to_csv(tmp_path / "batch" / "applications.csv", index=False)
    page.click('#tabs button[data-tab="batch"]')
    page.set_input_files(
        "#batch-files", [*map(str, paths), str(tmp_path / "batch/applications.csv")]
    )
    page.click("#batch-btn")
    page.wait_for_selector("#batch-table tr >> nth=1", timeout=120_000)
    assert page.locator("#batch-table tr").count() == 25  # header + 24 scored
    assert "amount" in page.inner_text("#portfolio")  # the rejected row, with its column
    shot(page, "07-batch")
    with page.expect_download() as download:
        page.click("#batch-download")
    saved = tmp_path / "results.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and {"pd", "grade", "decision"} <= set(rows[0])


def test_validation_error_appears_at_its_field(page) -> None:
    pick_sample(page)
    page.fill("#as_of", "2099-01-01")
    page.click("#score-btn")
    slot = page.locator('.field-error[data-field="application.as_of"]')
    slot.wait_for(state="visible")
    assert "不能晚于今天" in slot.inner_text()
    assert page.locator("#as_of.invalid").count() == 1
    shot(page, "08-error-zh")
    page.click("#lang")
    assert "must not be in the future" in slot.inner_text()
    shot(page, "09-error-en")


def test_history_lists_the_decision_just_made(page) -> None:
    code = pick_sample(page)
    score(page)
    request_id = page.evaluate("S.result.request_id")
    page.click('#tabs button[data-tab="history"]')
    assert page.input_value("#history-code") == code
    page.click("#history-btn")
    page.wait_for_selector("#history-table:not([hidden]) tr >> nth=1")
    assert page.locator("#history-table tr").count() >= 2
    assert page.evaluate("S.history.decisions[0].request_id") == request_id
    shot(page, "10-history")
    page.fill("#history-code", "91310115MA1K4QXX3A")
    page.click("#history-btn")
    slot = page.locator('.field-error[data-field="credit_code"]')
    slot.wait_for(state="visible")
    assert "校验位" in slot.inner_text() or "统一社会信用代码" in slot.inner_text()


def test_without_a_key_the_page_asks_for_one_and_keeps_it_for_the_tab(bare_page, page_key) -> None:
    banner = bare_page.locator("#auth-msg")
    banner.wait_for(state="visible")
    assert "API 密钥" in banner.inner_text()
    assert bare_page.locator("#sample-list li[data-code]").count() == 0
    shot(bare_page, "11-no-key-zh")
    bare_page.click("#lang")
    assert "API key is missing" in banner.inner_text()
    enter_key(bare_page, "tr_00000000_" + "x" * 43)  # well-formed, unknown: hidden, then back
    bare_page.wait_for_selector("#auth-msg:not([hidden])")
    assert "revoked" in banner.inner_text()
    assert bare_page.locator("#sample-list li[data-code]").count() == 0
    enter_key(bare_page, page_key)
    bare_page.wait_for_selector("#sample-list li[data-code]", timeout=90_000)
    assert banner.is_hidden()
    assert bare_page.evaluate("sessionStorage.getItem('techrisk.apiKey')") == page_key
    bare_page.reload()  # the same tab keeps its key
    bare_page.wait_for_selector("#sample-list li[data-code]", timeout=90_000)


def test_an_auditor_key_is_told_it_may_not_score(bare_page, page_keys) -> None:
    enter_key(bare_page, page_keys["auditor"])
    banner = bare_page.locator("#auth-msg")
    bare_page.wait_for_function(
        "document.querySelector('#auth-msg').textContent.includes('无权')"
    )  # the sample firms are a scorer's
    bare_page.click("#lang")
    assert "role may not" in banner.inner_text()
    shot(bare_page, "12-auditor-refused-en")
