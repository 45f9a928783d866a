/* The loan officer's page. Every number comes from the server (/score, /whatif,
   /counterfactuals, /ui/api/*); this script only lays it out and formats it. */
"use strict";
const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));
const UI = "/ui/api";
const S = { lang: "zh", meta: null, families: {}, samples: {}, picked: null, request: null,
  result: null, policy: null, whatif: null, cf: null, batch: null, auth: null };

function t(key, ...args) {
  const v = I18N[S.lang][key];
  return typeof v === "function" ? v(...args) : (v ?? key);
}
const zh = () => S.lang === "zh";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const pct = (p, d = 2) => `${(100 * p).toFixed(d)}%`;
const fmt = (x, d = 0) => Number(x).toLocaleString(zh() ? "zh-CN" : "en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const industryName = (code) => (INDUSTRY[code] || [code, code])[zh() ? 0 : 1];
const familyName = (key) => {
  const name = (S.families[key] || [key, key])[zh() ? 0 : 1];
  return zh() ? name : name.charAt(0).toUpperCase() + name.slice(1);
};

/* -- the API key: kept for this tab only (sessionStorage), sent as a Bearer token ------------ */
const KEY_SLOT = "techrisk.apiKey";
const AUTH_STATUSES = [401, 403, 429];
const apiKey = () => sessionStorage.getItem(KEY_SLOT) || "";
function renderAuth() {
  const box = $("#auth-msg"), a = S.auth;
  box.hidden = !a;
  if (a) box.textContent = a.status === 429 ? t("auth_429", a.retry || 1) : t(`auth_${a.status}`);
}
$("#api-key").value = apiKey();
$("#key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY_SLOT, $("#api-key").value.trim());
  S.auth = null; renderAuth(); $("#form-error").textContent = "";
  load();
});

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  if (apiKey()) init.headers.Authorization = `Bearer ${apiKey()}`;
  const r = await fetch(url, init);
  if (AUTH_STATUSES.includes(r.status)) {
    S.auth = { status: r.status, retry: r.headers.get("Retry-After") }; renderAuth();
    throw Object.assign(new Error($("#auth-msg").textContent), { status: r.status });
  }
  const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw Object.assign(new Error(data.error || `HTTP ${r.status}`), { status: r.status, data });
  return data;
}

/* -- language ------------------------------------------------------------------------------ */
function applyLang() {
  document.documentElement.lang = zh() ? "zh-CN" : "en";
  $$("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $$("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("#lang").textContent = zh() ? "English" : "中文";
  document.title = `techrisk · ${t("title")}`;
  if (S.meta) $("#model-version").textContent = t("model", modelText(S.meta.model));
  renderSampleList(); if (S.picked) showPicked();
  if (S.result) renderResult(); if (S.policy) renderPolicy(); if (S.whatif) renderWhatIf();
  if (S.cf) renderCf(); if (S.batch) renderBatch(); if (S.history) renderHistory();
  renderAuth(); rerenderErrors();
}
$("#lang").addEventListener("click", () => { S.lang = zh() ? "en" : "zh"; applyLang(); });

/* -- errors next to their field -------------------------------------------------------------- */
let lastErrors = [];
function ruleText(rule) {
  return zh() ? rulesZh(rule) : rule;
}
function fieldLabel(field) { return zh() && FIELD_ZH[field] ? FIELD_ZH[field] : field; }
function clearErrors() { lastErrors = []; $$(".field-error").forEach((e) => { e.textContent = ""; }); $$(".invalid").forEach((e) => e.classList.remove("invalid")); }
function slotFor(field, scope) {
  const f = field.replace(/^request\./, "");
  let slot = $(`.field-error[data-field="${f}"]`);
  if (!slot && scope === "whatif") {
    const m = f.match(/^changes\[(\d+)\]/);
    const kind = m && S.sentChanges && S.sentChanges[+m[1]] && S.sentChanges[+m[1]].kind;
    slot = (kind && $(`.field-error[data-field="changes.${kind}"]`)) || $('.field-error[data-field="changes"]');
  }
  if (!slot && scope === "history") slot = $('.field-error[data-field="credit_code"]');
  if (!slot && scope === "batch") slot = $('.field-error[data-field="batch"]');
  if (!slot && /^(files|firms|[a-z_]+\[\d+\])/.test(f) && scope === "tables") slot = $('.field-error[data-field="files"]');
  return slot || $('.field-error[data-field="records"]') || $("#form-error");
}
function showErrors(errors, scope) {
  clearErrors(); lastErrors = [errors, scope];
  for (const e of errors) {
    const slot = slotFor(e.field, scope);
    const own = slot.dataset.field && e.field.replace(/^request\./, "") === slot.dataset.field;
    const value = e.value === null || e.value === undefined ? "" : ` (${JSON.stringify(e.value)})`;
    const line = own ? `${ruleText(e.rule)}${value}` : `${fieldLabel(e.field)}${value}: ${ruleText(e.rule)}`;
    slot.textContent += (slot.textContent ? "\n" : "") + line;
    const input = slot.closest("label") && slot.closest("label").querySelector("input,select");
    if (input) input.classList.add("invalid");
  }
}
function rerenderErrors() { if (lastErrors.length) showErrors(...lastErrors); }
function failed(err, scope) {
  if (err.data && err.data.errors) showErrors(err.data.errors, scope);
  else { clearErrors(); slotFor("", scope).textContent = err.message; }
}

/* -- tabs and sources ---------------------------------------------------------------------- */
$$("#tabs button").forEach((b) => b.addEventListener("click", () => {
  $$("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
  $$(".tab").forEach((s) => { s.hidden = s.id !== b.dataset.tab; });
}));
$$('input[name="source"]').forEach((r) => r.addEventListener("change", () => {
  $$("[data-source]").forEach((d) => { d.hidden = d.dataset.source !== r.value; });
}));
const source = () => $('input[name="source"]:checked').value;

/* -- sample firms -------------------------------------------------------------------------- */
let searchTimer = null;
async function searchSamples() {
  const list = await call("GET", `${UI}/samples?q=${encodeURIComponent($("#sample-search").value)}`);
  S.sampleList = list; renderSampleList();
}
function renderSampleList() {
  const ul = $("#sample-list"); if (!S.sampleList) return;
  ul.innerHTML = S.sampleList.length ? S.sampleList.map((s) =>
    `<li data-code="${esc(s.credit_code)}" class="${S.picked === s.credit_code ? "active" : ""}">${esc(s.name)} <span class="code">${esc(s.credit_code)}</span> · ${esc(industryName(s.industry))}</li>`).join("")
    : `<li class="muted">${t("no_sample")}</li>`;
}
/* A failure of a call no button waits on: a refused key is in the banner, anything else here. */
function aside(err) { if (!AUTH_STATUSES.includes(err.status)) $("#form-error").textContent = err.message; }
$("#sample-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => searchSamples().catch(aside), 200); });
$("#sample-list").addEventListener("click", async (ev) => {
  const li = ev.target.closest("li[data-code]"); if (!li) return;
  let body;
  try { body = await call("GET", `${UI}/samples/${li.dataset.code}`); } catch (err) { aside(err); return; }
  S.samples[li.dataset.code] = body; S.picked = li.dataset.code;
  fillApplication(body.application); showPicked(); renderSampleList();
});
function showPicked() {
  const b = S.samples[S.picked];
  $("#picked").textContent = `${b.firm.name} · ${b.firm.credit_code} · ${industryName(b.firm.industry)}`;
}
function fillApplication(a) {
  $("#product").value = a.product; $("#as_of").value = a.as_of; $("#amount").value = a.amount;
  $("#term_months").value = a.term_months; $("#guarantee").value = a.guarantee;
}
function applicationFromForm(loanId) {
  const num = (id) => ($(id).value === "" ? null : Number($(id).value));
  return { loan_id: loanId ?? null, product: $("#product").value, as_of: $("#as_of").value || null,
    amount: num("#amount"), term_months: num("#term_months"), guarantee: $("#guarantee").value };
}

/* -- building and scoring the request -------------------------------------------------------- */
async function buildRequest() {
  const src = source();
  let body;
  if (src === "sample") {
    if (!S.picked) throw Object.assign(new Error(t("pick_first")), {});
    body = structuredClone(S.samples[S.picked]);
  } else if (src === "json") {
    try { body = JSON.parse($("#json-body").value); } catch (e) { throw new Error(t("bad_json") + e.message); }
    if (body && body.application && !$("#as_of").value) fillApplication(body.application);
  } else {
    const files = $("#table-files").files;
    if (!files.length) throw new Error(t("files_required"));
    const form = new FormData();
    for (const f of files) form.append("files", f);
    const a = applicationFromForm();
    for (const k of ["product", "as_of", "amount", "term_months", "guarantee"]) if (a[k] !== null) form.append(k, a[k]);
    body = await call("POST", `${UI}/tables`, form).catch((e) => { e.scope = "tables"; throw e; });
  }
  if (body && typeof body === "object" && src !== "json") body.application = applicationFromForm(body.application && body.application.loan_id);
  else if (body && typeof body === "object") body.application = { ...(body.application || {}), ...applicationFromForm(body.application && body.application.loan_id) };
  return body;
}
$("#apply").addEventListener("submit", async (ev) => {
  ev.preventDefault(); clearErrors();
  const btn = $("#score-btn"); btn.disabled = true;
  try {
    const body = await buildRequest();
    const result = await call("POST", "/score", body);
    S.request = body; S.result = result; S.whatif = null; S.cf = null;
    $("#result").hidden = false; renderResult(); renderWhatIf(); renderCf(); prefillWhatIf();
    $("#history-code").value = result.credit_code;
    S.policy = await call("POST", `${UI}/policy`, body); renderPolicy();
  } catch (err) { failed(err, err.scope || "score"); }
  finally { btn.disabled = false; }
});

function modelText(m) { return `${m.name} v${m.version}${m.alias ? ` @${m.alias}` : ""}`; }
function decisionText(d) { return t(d); }

function renderResult() {
  const r = S.result;
  $("#r-grade").textContent = r.grade;
  $("#r-pd").textContent = pct(r.pd);
  $("#r-score").textContent = fmt(r.score);
  const d = $("#r-decision"); d.textContent = decisionText(r.decision); d.className = `decision d-${r.decision}`;
  renderScale(r);
  const ind = industryName(S.request.firm.industry);
  $("#r-peer").textContent = r.peer_percentile === null ? t("no_peer") : t("peer", Math.round(r.peer_percentile), ind);
  $("#r-meta").textContent = t("meta", modelText(r.model), r.request_id, r.as_of);
  renderWaterfall(r); renderReasons(r);
}

function renderScale(r) {
  if (!S.meta) return;
  const grades = S.meta.grades, n = grades.length;
  const band = S.meta.decision_bands[r.product];
  const color = (g) => `hsl(${Math.round(130 - (120 * (g - 1)) / Math.max(1, n - 1))}, 55%, 42%)`;
  const cells = grades.map((g) => {
    const lo = g.pd_low, hi = g.pd_high;
    return `<div class="cell ${g.grade === r.grade ? "here" : ""}" style="background:${color(g.grade)}" title="PD ${pct(lo)}–${pct(hi)}">${g.grade}<span class="pd">≤${pct(hi, 1)}</span></div>`;
  }).join("");
  let bands = "";
  if (band) {
    const share = (pred) => grades.filter(pred).length / n * 100;
    const upper = (g) => g.pd_high;
    const a = share((g) => upper(g) <= band.approve_max + 1e-12), dcl = share((g) => upper(g) > band.decline_min + 1e-12);
    bands = `<div class="bands"><div style="width:${a}%;border-color:var(--good)">${t("approve")} ≤ ${pct(band.approve_max, 0)}</div>` +
      `<div style="width:${100 - a - dcl}%;border-color:var(--warn)">${t("review")}</div>` +
      `<div style="width:${dcl}%;border-color:var(--bad)">${t("decline")} &gt; ${pct(band.decline_min, 0)}</div></div>`;
  }
  $("#scale").innerHTML = `<div style="width:100%"><div style="display:flex">${cells}</div>${bands}<p class="hint small">${t("scale_caption", t("p_" + r.product))}</p></div>`;
}

function renderWaterfall(r) {
  const fams = Object.entries(r.family_points).filter(([, v]) => Math.abs(v) >= 0.5);
  const steps = [[t("base"), r.base_points, "base"], ...fams.map(([k, v]) => [familyName(k), v, "step"]), [t("total"), r.score, "total"]];
  let run = 0; const bars = [];
  for (const [label, v, kind] of steps) {
    if (kind === "step") { bars.push([label, run, run + v, v]); run += v; }
    else { bars.push([label, 0, v, v, kind]); run = kind === "base" ? v : run; }
  }
  const lo = Math.min(...bars.map((b) => Math.min(b[1], b[2])).filter((x, i) => bars[i][4] === undefined), r.base_points, r.score) - 20;
  const hi = Math.max(...bars.map((b) => Math.max(b[1], b[2]))) + 20;
  const W = 800, rowH = 24, left = 270, width = W - left - 70;
  const x = (v) => left + ((Math.max(v, lo) - lo) / (hi - lo)) * width;
  const rows = bars.map(([label, a, b, v, kind], i) => {
    const x0 = x(Math.min(a, b)), x1 = x(Math.max(a, b)), y = 6 + i * rowH;
    const fill = kind ? "#0b5cad" : v < 0 ? "#c5221f" : "#1e8e3e";
    const txt = kind ? fmt(v) : `${v > 0 ? "+" : ""}${fmt(v)}`;
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(label)}</text>` +
      `<rect x="${x0}" y="${y + 3}" width="${Math.max(2, x1 - x0)}" height="${rowH - 8}" fill="${fill}"/>` +
      `<text x="${x1 + 6}" y="${y + 15}">${txt}</text>`;
  }).join("");
  $("#waterfall").innerHTML = `<p class="hint">${t("wf_caption")}</p><svg width="${W}" height="${bars.length * rowH + 12}" role="img">${rows}</svg>`;
}

function renderReasons(r) {
  const item = (x) => `<li><span class="pts ${x.points < 0 ? "bad" : "good"}">${x.points > 0 ? "+" : ""}${fmt(x.points)} ${t("points")}</span> ${esc(zh() ? x.family_zh : x.family_en)}` +
    x.features.map((f) => `<span class="feat">${esc(zh() ? f.zh : f.en)}</span>`).join("") + "</li>";
  const shown = (x) => Math.abs(x.points) >= 0.5;  // "-0 分" says nothing to an officer
  $("#r-raise").innerHTML = r.reasons.raise_risk.filter(shown).map(item).join("");
  $("#r-lower").innerHTML = r.reasons.lower_risk.filter(shown).map(item).join("");
}

/* -- policy checklist --------------------------------------------------------------------- */
function renderPolicy() {
  const share = (v) => (v === null ? t("unknown") : pct(v, 1));
  const rows = S.policy.checks.map((c) => {
    let value, rule = "";
    if (c.key.startsWith("tsme_") && ["tsme_staff", "tsme_rd", "tsme_ip"].includes(c.key)) { value = c.value === null ? t("unknown") : t("pts_of", fmt(c.value), c.threshold); }
    else if (c.key === "tsme_total") { value = c.value === null ? t("unknown") : `${fmt(c.value)}`; rule = t("pass_at", c.threshold); }
    else if (["hnte_tech_staff", "hnte_revenue"].includes(c.key)) { value = share(c.value); rule = `≥ ${pct(c.threshold, 0)}`; }
    else if (c.key === "hnte_rd") { value = share(c.value); rule = zh() ? "收入≤5000万元 5%，≤2亿元 4%，以上 3%" : "5% (revenue ≤ CNY 50m), 4% (≤ 200m), 3% above"; }
    else if (c.key === "hnte_age") { value = c.value === null ? t("unknown") : `${fmt(c.value, 1)} ${zh() ? "年" : "years"}`; rule = zh() ? "≥ 1 年" : "≥ 1 year"; }
    else if (c.key === "hnte_ip") { value = c.value === null ? t("unknown") : `${fmt(c.value)} ${zh() ? "件" : ""}`; rule = "≥ 1"; }
    else if (c.key === "hnte_field") { value = c.value === null ? t("unknown") : industryName(c.value); }
    else value = c.met === null ? t("unknown") : c.met ? t("yes") : t("no");
    const cls = c.met === null ? "na" : c.met ? "ok" : "no";
    return `<tr><td class="${cls}">${esc(t(c.key))}</td><td>${esc(value)}</td><td>${esc(rule)}</td></tr>`;
  }).join("");
  $("#policy").innerHTML = `<tr><th>${t("chk")}</th><th>${t("chk_value")}</th><th>${t("chk_rule")}</th></tr>${rows}`;
}

/* -- what-if ------------------------------------------------------------------------------ */
function latestFiscal(body) {
  const asOf = body.application.as_of;
  const filed = body.financials.filter((f) => `${f.fiscal_year + 1}-05-31` < asOf);
  return filed.sort((a, b) => b.fiscal_year - a.fiscal_year)[0];
}
function prefillWhatIf() {
  const f = latestFiscal(S.request);
  $("#wi-rd").value = f && f.rd_expense !== null && f.rd_expense !== undefined ? Math.round(f.rd_expense) : "";
  $("#wi-rd").dataset.original = $("#wi-rd").value;
  $("#wi-pat").value = 0; $("#wi-overdue").checked = false; $("#wi-round").value = 0; $("#wi-tax").value = "";
}
function changesFromForm() {
  const changes = [];
  const rd = $("#wi-rd").value;
  if (rd !== "" && rd !== $("#wi-rd").dataset.original) changes.push({ kind: "rd_expense", value: Number(rd) });
  if (Number($("#wi-pat").value) > 0) changes.push({ kind: "invention_patents", count: Number($("#wi-pat").value) });
  if ($("#wi-overdue").checked) changes.push({ kind: "clear_overdues" });
  if (Number($("#wi-round").value) > 0) changes.push({ kind: "equity_round", amount: Number($("#wi-round").value), round: "A", lead_investor_tier: 2 });
  if ($("#wi-tax").value) changes.push({ kind: "tax_rating", rating: $("#wi-tax").value });
  return changes;
}
async function runWhatIf(changes) {
  clearErrors();
  if (!changes.length) { $('.field-error[data-field="changes"]').textContent = t("no_change"); return; }
  S.sentChanges = changes;
  try { S.whatif = await call("POST", "/whatif", { request: S.request, changes }); renderWhatIf(); }
  catch (err) { failed(err, "whatif"); }
}
$("#whatif-btn").addEventListener("click", () => runWhatIf(changesFromForm()));
function renderWhatIf() {
  const out = $("#whatif-out"); const w = S.whatif;
  if (!w) { out.hidden = true; return; }
  const o = w.original, m = w.modified;
  const cls = (better) => (better === null ? "" : better ? "better" : "worse");
  const row = (label, a, b, better) => `<tr><td>${label}</td><td class="n">${a}</td><td class="n ${cls(better)}">${b}</td></tr>`;
  out.innerHTML = `<tr><th>${esc(w.changes.map((c) => (zh() ? c.zh : c.en)).join("；"))}</th><th class="n">${t("original")}</th><th class="n">${t("modified")}</th></tr>` +
    row(t("pd"), pct(o.pd), pct(m.pd), m.pd === o.pd ? null : m.pd < o.pd) +
    row(t("score_label"), fmt(o.score), fmt(m.score), m.score === o.score ? null : m.score > o.score) +
    row(t("grade"), o.grade, m.grade, m.grade === o.grade ? null : m.grade < o.grade) +
    row(t("decision"), decisionText(o.decision), decisionText(m.decision), null);
  out.hidden = false;
}

/* -- counterfactual suggestions --------------------------------------------------------------- */
async function runCf(goal) {
  clearErrors(); $("#cf-out").textContent = "…";
  try { S.cf = await call("POST", "/counterfactuals", { request: S.request, goal }); renderCf(); }
  catch (err) { $("#cf-out").textContent = ""; failed(err, "cf"); }
}
$("#cf-next").addEventListener("click", () => runCf("next_grade"));
$("#cf-approve").addEventListener("click", () => runCf("approve"));
function renderCf() {
  const c = S.cf; const out = $("#cf-out");
  if (!c) { out.innerHTML = ""; return; }
  if (c.status !== "found") {
    const key = c.status === "already_there" ? (c.goal === "approve" ? "cf_none_needed_approve" : "cf_none_needed_next") : `cf_${c.status}`;
    out.innerHTML = `<p>${t(key)}</p><p class="muted small">${t("cf_time", c.candidates_scored, fmt(c.elapsed_ms))}</p>`; return;
  }
  out.innerHTML = c.suggestions.map((s, i) => `<div class="suggestion" data-i="${i}"><ul>${s.texts.map((x) => `<li>${esc(zh() ? x.zh : x.en)}</li>`).join("")}</ul>` +
    `<div><b>${t("cf_new", s.grade, pct(s.pd), decisionText(s.decision))}</b></div>` +
    `<button type="button" class="cf-apply" data-i="${i}">${t("cf_apply")}</button></div>`).join("") +
    `<p class="muted small">${t("cf_time", c.candidates_scored, fmt(c.elapsed_ms))}</p>`;
}
$("#cf-out").addEventListener("click", (ev) => {
  const b = ev.target.closest(".cf-apply"); if (!b) return;
  const s = S.cf.suggestions[+b.dataset.i];
  prefillWhatIf();
  for (const ch of s.changes) {
    if (ch.kind === "rd_expense") $("#wi-rd").value = ch.value;
    if (ch.kind === "invention_patents") $("#wi-pat").value = ch.count;
    if (ch.kind === "clear_overdues") $("#wi-overdue").checked = true;
    if (ch.kind === "equity_round") $("#wi-round").value = ch.amount;
    if (ch.kind === "tax_rating") $("#wi-tax").value = ch.rating;
  }
  $("#whatif-card").scrollIntoView({ behavior: "smooth" });
  runWhatIf(s.changes);
});

/* -- credit memo -------------------------------------------------------------------------- */
function memo() {
  const r = S.result, f = S.request.firm;
  const both = (zhText, enText) => `${zhText} / ${enText}`;
  const lines = [
    `# ${both("授信摘要", "Credit memo")}: ${f.name}`, "",
    `- ${both("统一社会信用代码", "Credit code")}: ${f.credit_code}`,
    `- ${both("产品", "Product")}: ${I18N.zh["p_" + r.product]} / ${I18N.en["p_" + r.product]}; ${both("金额", "amount")} ${S.request.application.amount} 万元; ${S.request.application.term_months} ${both("个月", "months")}; ${both("基准日", "as of")} ${r.as_of}`,
    `- ${both("违约概率", "PD")}: ${pct(r.pd)}; ${both("信用分", "score")}: ${Math.round(r.score)}; ${both("等级", "grade")}: ${r.grade}`,
    `- ${both("建议", "Recommendation")}: ${I18N.zh[r.decision]} / ${I18N.en[r.decision]}`,
  ];
  if (r.peer_percentile !== null) lines.push(`- ${I18N.zh.peer(Math.round(r.peer_percentile), industryName(f.industry))} / ${I18N.en.peer(Math.round(r.peer_percentile), (INDUSTRY[f.industry] || [f.industry, f.industry])[1])}`);
  lines.push("", `## ${both("主要原因", "Main reasons")}`);
  for (const x of [...r.reasons.raise_risk, ...r.reasons.lower_risk]) lines.push(`- ${x.zh}`, `  ${x.en}`);
  if (S.whatif) {
    const w = S.whatif;
    lines.push("", `## ${both("假设分析", "What if")}`);
    for (const c of w.changes) lines.push(`- ${c.zh} / ${c.en}`);
    lines.push(`- PD ${pct(w.original.pd)} → ${pct(w.modified.pd)}; ${both("等级", "grade")} ${w.original.grade} → ${w.modified.grade}; ${I18N.zh[w.modified.decision]} / ${I18N.en[w.modified.decision]}`);
  }
  if (S.cf && S.cf.suggestions.length) {
    lines.push("", `## ${both("改进建议", "Suggestions")}`);
    for (const s of S.cf.suggestions) lines.push(`- ${s.texts.map((x) => x.zh).join("；")} / ${s.texts.map((x) => x.en).join("; ")} → ${both("等级", "grade")} ${s.grade}, PD ${pct(s.pd)}`);
  }
  lines.push("", `${both("模型", "Model")}: ${modelText(r.model)} · ${both("请求编号", "request id")}: ${r.request_id}`, "");
  return lines.join("\n");
}
$("#memo-copy").addEventListener("click", async () => {
  const text = memo();
  try { await navigator.clipboard.writeText(text); } catch (e) {
    const ta = document.createElement("textarea"); ta.value = text; document.body.append(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }
  $("#memo-status").textContent = t("memo_copied");
});
function download(name, text, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type })); a.download = name; document.body.append(a); a.click(); a.remove();
}
$("#memo-download").addEventListener("click", () => download(`credit-memo-${S.result.credit_code}-${S.result.request_id.slice(0, 8)}.md`, memo(), "text/markdown"));

/* -- batch ------------------------------------------------------------------------------------ */
$("#batch-btn").addEventListener("click", async () => {
  clearErrors();
  const files = $("#batch-files").files;
  if (!files.length) { $('.field-error[data-field="batch"]').textContent = t("files_required"); return; }
  const form = new FormData(); for (const f of files) form.append("files", f);
  $("#batch-btn").disabled = true;
  try { S.batch = await call("POST", `${UI}/batch`, form); renderBatch(); }
  catch (err) { failed(err, "batch"); } finally { $("#batch-btn").disabled = false; }
});
const ORDER = ["approve", "review", "decline"];
const BATCH_COLUMNS = ["loan_id", "credit_code", "product", "applied_on", "amount", "industry", "pd", "score", "grade", "decision", "peer_percentile"];
function renderBatch() {
  const b = S.batch; $("#batch-out").hidden = false;
  const p = b.portfolio, c = b.counts;
  let html = `<p>${t("batch_counts", c.applications_scored, c.applications_rejected)}</p>`;
  if (p) {
    html += `<table class="data"><tr><th>${t("decision")}</th><th class="n">${t("n_apps")}</th><th class="n">${t("share")}</th><th class="n">${t("amount_w")}</th></tr>` +
      [...p.decisions].sort((a, b) => ORDER.indexOf(a.decision) - ORDER.indexOf(b.decision)).map((d) => `<tr><td>${decisionText(d.decision)}</td><td class="n">${fmt(d.n)}</td><td class="n">${pct(d.share, 1)}</td><td class="n">${fmt(d.amount)}</td></tr>`).join("") + "</table>" +
      `<p>${t("el")}: ${fmt(p.expected_loss.total)} ${t("wan")} · ${t("approved_amount")}: ${fmt(p.approve_band.amount ?? 0)} ${t("wan")} · ${t("leverage")}: ${fmt(p.approve_band.leverage ?? 0, 2)}×</p>`;
  }
  if (b.errors.length) {
    html += `<h3>${t("rejected")}</h3><table class="data"><tr>${["table", "row", "credit_code", "column", "value", "rule"].map((k) => `<th>${t("col")[k] || k}</th>`).join("")}</tr>` +
      b.errors.slice(0, 50).map((e) => `<tr><td>${esc(e.table)}</td><td>${e.row + 1}</td><td>${esc(e.credit_code)}</td><td>${esc(e.column)}</td><td>${esc(e.value)}</td><td>${esc(ruleText(e.rule))}</td></tr>`).join("") + "</table>";
  }
  $("#portfolio").innerHTML = html;
  const reason = zh() ? "reason_1_zh" : "reason_1_en";
  const cols = [...BATCH_COLUMNS, reason];
  const cell = (row, k) => k === "pd" ? pct(row.pd) : k === "score" ? fmt(row.score) : k === "decision" ? decisionText(row.decision)
    : k === "industry" ? industryName(row.industry) : k === "product" ? t("p_" + row.product) : k === "peer_percentile" ? (row[k] === null ? "" : `${Math.round(row[k])}%`) : esc(row[k]);
  $("#batch-table").innerHTML = `<tr>${cols.map((k) => `<th>${t("col")[k] || k}</th>`).join("")}</tr>` +
    b.rows.slice(0, 500).map((row) => `<tr>${cols.map((k) => `<td>${cell(row, k)}</td>`).join("")}</tr>`).join("");
}
$("#batch-download").addEventListener("click", () => {
  const rows = S.batch.rows; if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  const q = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  download("techrisk-batch-results.csv", "\ufeff" + [cols.join(","), ...rows.map((r) => cols.map((k) => q(r[k])).join(","))].join("\n"), "text/csv");
});

/* -- history ---------------------------------------------------------------------------------- */
$("#history-btn").addEventListener("click", async () => {
  clearErrors();
  try { S.history = await call("GET", `${UI}/history/${encodeURIComponent($("#history-code").value.trim())}`); renderHistory(); }
  catch (err) { failed(err, "history"); }
});
function renderHistory() {
  const h = S.history, table = $("#history-table");
  $("#history-empty").hidden = h.decisions.length > 0; table.hidden = !h.decisions.length;
  table.innerHTML = `<tr><th>${t("hist_when")}</th><th>${t("col").product}</th><th>${t("as_of")}</th><th class="n">${t("col").pd}</th><th class="n">${t("grade")}</th><th>${t("decision")}</th><th>${t("reasons")}</th><th>${t("col").model_version}</th></tr>` +
    h.decisions.map((d) => `<tr><td>${esc(d.created_at.replace("T", " ").slice(0, 19))}</td><td>${t("p_" + d.product)}</td><td>${d.as_of}</td><td class="n">${pct(d.pd)}</td><td class="n">${d.grade}</td><td>${decisionText(d.decision)}</td>` +
      `<td>${d.reasons.map((x) => esc(zh() ? x.zh : x.en)).join("<br>")}</td><td>${esc(d.model)}</td></tr>`).join("");
}

/* -- start, and again once a key is entered ---------------------------------------------------- */
async function load() {
  try {
    const [meta, families] = await Promise.all([call("POST", "/metadata", {}), call("GET", `${UI}/families`)]);
    S.meta = meta; S.families = families;
    $("#model-version").textContent = t("model", modelText(meta.model));
  } catch (err) { aside(err); }
  await searchSamples().catch(aside);
}
applyLang();
load();
