"""The one registry of features: name, family, monotone direction, unit and zh/en labels.

Everything downstream reads it: the LightGBM monotone constraints (``direction``), the reason
codes shown to loan officers (``zh``/``en`` with ``unit``), the docs and the MLflow signature.
A test proves that the columns ``build_features`` produces and this registry are the same set.

``direction`` is the sign of the feature's effect on risk where credit practice knows it
(+1: more of it never lowers PD, e.g. days past due; -1: more of it never raises PD, e.g.
valid invention patents; 0: unknown or non-monotone, e.g. R&D intensity's sweet spot).
"""

from __future__ import annotations

from dataclasses import dataclass

from features.schemas import GUARANTEES, INDUSTRIES, PRODUCTS, RATINGS, ROUNDS


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    direction: int
    unit: str
    zh: str
    en: str
    #: Labels of a coded value: for unit "level" the value k (1-based, ordinal) means
    #: labels[k-1]; for unit "category" the value k (0-based code, no order) means labels[k].
    labels: tuple[str, ...] = ()
    #: Sentences with ``{value}`` where "label value" reads oddly to a loan officer: ``text``
    #: for short durations ("最近一轮融资在 3 个月前"), ``long_text`` once the value reads in
    #: years or sits at ``cap`` ("18 年未获股权融资", not "距最近一轮融资 216 个月").
    #: Each is a (zh, en) pair; empty: "label value".
    text: tuple[str, str] = ("", "")
    long_text: tuple[str, str] = ("", "")
    #: The value the feature is capped at, which means "this long or more, or never".
    cap: float | None = None

    @property
    def label_texts(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(zh, en) display names of the coded values' labels ("tdld" → 投贷联动)."""
        if not self.labels or not all(code in CODE_TEXT for code in self.labels):
            return (), ()
        return tuple(CODE_TEXT[c][0] for c in self.labels), tuple(
            CODE_TEXT[c][1] for c in self.labels
        )

    @property
    def is_categorical(self) -> bool:
        return self.unit == "category"

    def label(self, value: float) -> str:
        """The label of a coded value, as shown to a loan officer."""
        k = int(value) - (1 if self.unit == "level" else 0)
        return self.labels[k]


#: Family key -> (zh, en) label, in the order reasons and reports list them.
FAMILIES: dict[str, tuple[str, str]] = {
    "ip": ("知识产权", "IP portfolio"),
    "rd_financials": ("研发与财务", "R&D and financials"),
    "staffing": ("人员结构", "staffing"),
    "credit": ("信用记录", "credit record"),
    "tax": ("纳税信用", "tax compliance"),
    "financing": ("股权融资", "equity financing"),
    "support": ("政府支持与技术市场", "public support and technology market"),
    "policy": ("政策资质", "policy qualification"),
    "profile": ("企业与申请", "firm and application"),
}

#: Units: how a value is rendered in a reason text.
UNITS: dict[str, tuple[str, str]] = {
    "count": ("件", ""),
    "times": ("次", "times"),
    "wan": ("万元", "×10k CNY"),
    "ratio": ("", ""),  # rendered as a percentage
    "days": ("天", "days"),
    "months": ("个月", "months"),  # a duration: long ones read in years
    "month_count": ("个月", "months"),  # a count of months within a window: never in years
    "rounds": ("轮", "rounds"),
    "items": ("项", ""),
    "years": ("年", "years"),
    "points": ("分", "points"),
    "people": ("人", "people"),
    "level": ("", ""),  # an ordinal code (1 = first label), rendered by its label
    "flag": ("", ""),
    "category": ("", ""),
}

#: How the contract's codes read to a loan officer (zh, en).
CODE_TEXT: dict[str, tuple[str, str]] = {
    "electronic_info": ("电子信息", "electronic information"),
    "bio_medicine": ("生物与新医药", "biomedicine"),
    "aerospace": ("航空航天", "aerospace"),
    "new_materials": ("新材料", "new materials"),
    "high_tech_services": ("高技术服务", "high-tech services"),
    "new_energy": ("新能源与节能", "new energy"),
    "resources_environment": ("资源与环境", "resources and environment"),
    "advanced_manufacturing": ("先进制造与自动化", "advanced manufacturing"),
    "other": ("其他领域", "other fields"),
    "tdld": ("投贷联动", "investment-loan linkage"),
    "xyd": ("信易贷", "credit-information loan"),
    "none": ("信用", "unsecured"),
    "fund": ("政府性融资担保", "guarantee fund"),
    "ip_pledge": ("知识产权质押", "IP pledge"),
    "seed": ("种子轮", "seed"),
    "angel": ("天使轮", "angel"),
    "A": ("A 轮", "series A"),
    "B": ("B 轮", "series B"),
    "C+": ("C 轮及以后", "series C+"),
    "strategic": ("战略融资", "strategic"),
}

# Category codes come from the contract so the two can never disagree.
TAX_RATINGS = RATINGS  # ordinal 1..5, 1 best


def _f(
    name: str,
    family: str,
    direction: int,
    unit: str,
    zh: str,
    en: str,
    labels: tuple = (),
    text: tuple[str, str] = ("", ""),
    long_text: tuple[str, str] = ("", ""),
    cap: float | None = None,
) -> Feature:
    return Feature(name, family, direction, unit, zh, en, labels, text, long_text, cap)


# fmt: off
_FEATURES: tuple[Feature, ...] = (
    # -- IP portfolio --------------------------------------------------------------------
    _f("ip_class1_valid", "ip", -1, "count", "有效I类知识产权（发明专利等）", "valid class-I IP (invention patents etc.)"),
    _f("ip_utility_valid", "ip", 0, "count", "有效实用新型专利", "valid utility-model patents"),
    _f("ip_software_copyrights", "ip", 0, "count", "软件著作权", "software copyrights"),
    _f("ip_class2_valid", "ip", 0, "count", "有效II类知识产权", "valid class-II IP"),
    _f("ip_trademarks", "ip", 0, "count", "注册商标", "registered trademarks"),
    _f("ip_invention_filings_24m", "ip", -1, "count", "近24个月发明专利申请", "invention filings in 24 months"),
    _f("ip_lapsed_24m", "ip", 1, "count", "近24个月失效专利", "patents lapsed in 24 months"),
    _f("ip_lapse_ratio", "ip", 1, "ratio", "授权专利失效比例", "share of granted patents lapsed"),
    _f("ip_citations_per_patent", "ip", -1, "times", "专利授权后3年平均被引", "mean citations within 3 years of grant"),
    _f("ip_claims_mean", "ip", -1, "items", "发明专利平均权利要求数", "mean claims per invention patent"),
    _f("ip_acquired_share", "ip", 1, "ratio", "受让取得专利占比", "share of patents acquired, not own R&D"),
    _f("ip_pledges_36m", "ip", 0, "count", "近36个月知识产权质押", "IP pledges in 36 months"),
    _f("ip_invention_grant_rate", "ip", -1, "ratio", "发明专利授权率", "invention grant rate"),
    _f("ip_days_since_filing", "ip", 1, "days", "距最近一次专利申请", "days since the latest patent filing", text=("最近一次专利申请在 {value}前", "latest patent filing {value} ago"), long_text=("{value}未申请专利", "no patent filed in {value}"), cap=3650.0),
    # -- R&D and financials --------------------------------------------------------------
    _f("fin_revenue", "rd_financials", 0, "wan", "最近年度营业收入", "latest annual revenue"),
    _f("fin_revenue_growth", "rd_financials", -1, "ratio", "营业收入同比增长", "revenue growth year on year"),
    _f("fin_loan_to_revenue", "rd_financials", 1, "ratio", "申请金额占最近年度营业收入比", "amount applied for / latest annual revenue"),
    _f("rd_ratio_1y", "rd_financials", 0, "ratio", "研发费用占营业收入比（最近年度）", "R&D expense / revenue (latest year)"),
    _f("rd_ratio_3y", "rd_financials", 0, "ratio", "近三年研发费用占营业收入比", "R&D expense / revenue over 3 years"),
    _f("rd_cost_ratio_1y", "rd_financials", 0, "ratio", "研发费用占成本费用比", "R&D expense / total cost"),
    _f("rd_expense_growth", "rd_financials", 0, "ratio", "研发费用同比增长", "R&D expense growth year on year"),
    _f("fin_high_tech_revenue_share", "rd_financials", 0, "ratio", "高新技术产品收入占比", "high-tech product revenue share"),
    _f("fin_net_margin", "rd_financials", -1, "ratio", "净利润率", "net profit margin"),
    _f("fin_debt_to_assets", "rd_financials", 1, "ratio", "资产负债率", "debt to assets"),
    _f("fin_current_ratio", "rd_financials", -1, "ratio", "流动比率", "current ratio"),
    _f("fin_ocf_margin", "rd_financials", -1, "ratio", "经营现金流占营业收入比", "operating cash flow / revenue"),
    _f("fin_ocf_negative_3y", "rd_financials", 1, "years", "近三年经营现金流为负的年数", "years of negative operating cash flow in 3"),
    _f("fin_total_assets", "rd_financials", 0, "wan", "总资产", "total assets"),
    _f("fin_years_reported", "rd_financials", 0, "years", "已披露财务年度数", "fiscal years on file"),
    _f("fin_months_since_report", "rd_financials", 0, "months", "最近财报距今", "months since the latest annual report", text=("最近年报距今 {value}", "latest annual report {value} old"), long_text=("最近年报距今 {value}", "latest annual report {value} old")),
    # -- staffing ------------------------------------------------------------------------
    _f("staff_employees", "staffing", 0, "people", "职工人数", "employees"),
    _f("staff_tech_share", "staffing", -1, "ratio", "科技人员占比", "technical staff share"),
    _f("staff_rd_share", "staffing", 0, "ratio", "研发人员占比", "R&D staff share"),
    _f("staff_college_share", "staffing", -1, "ratio", "大专及以上学历占比", "college-educated share"),
    _f("staff_insured_share", "staffing", -1, "ratio", "社保缴纳人数占比", "share of staff with social insurance"),
    _f("staff_growth_12m", "staffing", -1, "ratio", "近12个月职工人数增长", "employee growth in 12 months"),
    _f("staff_months_reported_24m", "staffing", 0, "month_count", "近24个月社保记录月数", "months of staffing records in 24"),
    # -- credit record -------------------------------------------------------------------
    _f("cr_overdue_count_24m", "credit", 1, "times", "近24个月逾期次数", "overdues in 24 months"),
    _f("cr_days_past_due_max_24m", "credit", 1, "days", "近24个月最长逾期", "longest delinquency in 24 months"),
    _f("cr_dpd90_count_36m", "credit", 1, "times", "近36个月逾期90天以上次数", "90+ days past due in 36 months"),
    _f("cr_days_since_overdue", "credit", -1, "days", "距最近一次逾期", "days since the latest overdue", text=("最近一次逾期在 {value}前", "latest overdue {value} ago"), long_text=("{value}无逾期", "no overdue in {value}"), cap=3650.0),
    _f("cr_dishonest_36m", "credit", 1, "times", "近36个月失信被执行", "dishonest-enforcement listings in 36 months"),
    _f("cr_court_judgments_36m", "credit", 1, "times", "近36个月涉诉判决", "court judgments in 36 months"),
    _f("cr_admin_penalties_36m", "credit", 1, "times", "近36个月行政处罚", "administrative penalties in 36 months"),
    _f("cr_tax_arrears_24m", "credit", 1, "times", "近24个月欠税", "tax arrears in 24 months"),
    _f("cr_utility_arrears_24m", "credit", 1, "times", "近24个月水电欠费", "utility arrears in 24 months"),
    _f("cr_abnormal_operation_24m", "credit", 1, "times", "近24个月经营异常", "abnormal-operation listings in 24 months"),
    _f("cr_loans_opened_24m", "credit", 0, "times", "近24个月新增贷款", "loans opened in 24 months"),
    _f("cr_loans_repaid_24m", "credit", 0, "times", "近24个月结清贷款", "loans repaid in 24 months"),
    _f("cr_file_months", "credit", -1, "months", "信用记录时长", "length of the credit file"),
    # -- tax compliance ------------------------------------------------------------------
    _f("tax_rating_latest", "tax", 1, "level", "最近纳税信用等级", "latest tax credit rating", TAX_RATINGS),
    _f("tax_rating_worst_3y", "tax", 1, "level", "近三年最差纳税信用等级", "worst tax rating in 3 years", TAX_RATINGS),
    _f("tax_a_years_3y", "tax", -1, "years", "近三年A级纳税人年数", "A-rated years in 3"),
    _f("tax_years_rated", "tax", 0, "years", "纳税信用评价年数", "years with a tax rating"),
    # -- equity financing ----------------------------------------------------------------
    _f("vc_rounds", "financing", 0, "rounds", "股权融资轮数", "equity rounds"),
    _f("vc_raised_total", "financing", -1, "wan", "累计股权融资额", "equity raised in total"),
    _f("vc_raised_24m", "financing", -1, "wan", "近24个月股权融资额", "equity raised in 24 months"),
    _f("vc_months_since_round", "financing", 0, "months", "距最近一轮融资", "months since the latest round", text=("最近一轮融资在 {value}前", "latest equity round {value} ago"), long_text=("{value}未获股权融资", "no equity round in {value}")),
    _f("vc_last_round_amount", "financing", -1, "wan", "最近一轮融资额", "latest round size"),
    _f("vc_best_lead_tier", "financing", 1, "level", "领投机构最高梯队", "best lead-investor tier", ("1", "2", "3"), text=("领投机构最高为第 {value} 梯队", "best lead investor in tier {value}")),
    _f("vc_stage", "financing", 0, "level", "最近融资轮次", "latest round stage", ROUNDS),
    # -- public support and technology market --------------------------------------------
    _f("sup_vouchers_36m", "support", -1, "times", "近36个月科技创新券", "innovation vouchers in 36 months"),
    _f("sup_fund_amount_36m", "support", -1, "wan", "近36个月政府科技资金", "public innovation funding in 36 months"),
    _f("sup_tech_contracts_36m", "support", -1, "times", "近36个月技术合同登记", "registered technology contracts in 36 months"),
    _f("sup_university_projects_36m", "support", -1, "times", "近36个月产学研合作", "university collaborations in 36 months"),
    _f("sup_tax_relief_36m", "support", -1, "times", "近36个月研发费用加计扣除", "R&D super-deductions in 36 months"),
    _f("sup_records", "support", 0, "count", "政府支持与技术市场记录", "support and technology-market records"),
    # -- policy qualification ------------------------------------------------------------
    _f("pol_tsme_staff_points", "policy", -1, "points", "科技型中小企业评价：科技人员得分", "tech-SME evaluation: staff points"),
    _f("pol_tsme_rd_points", "policy", -1, "points", "科技型中小企业评价：研发投入得分", "tech-SME evaluation: R&D points"),
    _f("pol_tsme_ip_points", "policy", -1, "points", "科技型中小企业评价：科技成果得分", "tech-SME evaluation: IP points"),
    _f("pol_tsme_points", "policy", -1, "points", "科技型中小企业评价总分", "tech-SME evaluation total points"),
    _f("pol_tsme_size_eligible", "policy", 0, "flag", "符合科技型中小企业规模与信用条件", "meets tech-SME size and credit conditions"),
    _f("pol_tsme_fast_track", "policy", -1, "flag", "科技型中小企业直通车（有效高企证书）", "tech-SME fast track (valid high-tech certificate)"),
    _f("pol_tsme_qualified", "policy", -1, "flag", "符合科技型中小企业条件", "qualifies as a tech SME"),
    _f("pol_hnte_checks_met", "policy", -1, "items", "高企认定条件满足项数（共6项）", "high-tech criteria met (of 6)"),
    _f("pol_hnte_rd_met", "policy", 0, "flag", "近三年研发强度达高企标准", "3-year R&D intensity meets the high-tech threshold"),
    _f("pol_rd_band", "policy", 0, "level", "研发强度档位", "R&D intensity band", ("<1%", "1-3%", "3-5%", "5-8%", ">=8%")),
    # -- firm and application ------------------------------------------------------------
    _f("firm_age_years", "profile", -1, "years", "成立年限", "years since founding"),
    _f("firm_industry", "profile", 0, "category", "技术领域", "technology field", INDUSTRIES),
    _f("firm_registered_capital", "profile", 0, "wan", "注册资本", "registered capital"),
    _f("app_product", "profile", 0, "category", "产品", "programme", PRODUCTS),
    _f("app_amount", "profile", 0, "wan", "申请金额", "amount applied for"),
    _f("app_term_months", "profile", 0, "months", "期限", "term"),
    _f("app_guarantee", "profile", 0, "category", "担保方式", "guarantee", GUARANTEES),
)
# fmt: on

REGISTRY: dict[str, Feature] = {f.name: f for f in _FEATURES}
FEATURE_NAMES: tuple[str, ...] = tuple(REGISTRY)

__all__ = [
    "FEATURE_NAMES",
    "GUARANTEES",
    "INDUSTRIES",
    "PRODUCTS",
    "REGISTRY",
    "ROUNDS",
    "TAX_RATINGS",
]


def categorical_features(names: list[str] | tuple[str, ...]) -> list[str]:
    return [n for n in names if n in REGISTRY and REGISTRY[n].is_categorical]
