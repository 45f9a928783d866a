"""The latent firm population: traits no table shows directly, from which every table is drawn.

Each firm has a permanent technology *quality*, a typical R&D intensity, a mature revenue
*scale* and a yearly latent *health* (a z-score: financial strength and business momentum).
Health drifts as an AR(1) process around the firm's own level, is lower in the first years
(young firms are fragile) and drops in 2020–2021 for exporters. Every observable record is a
noisy reading of these traits, so point-in-time features can recover most of the health that
drives the true PD (``truth.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from synthetic import calibration as cal
from synthetic.dates import BASE_END, BASE_YEARS, DAYS_PER_YEAR, year_of, year_start, years
from synthetic.draws import rank_uniform, sigmoid, top_share
from techrisk_base.errors import InvalidArgument

INDUSTRIES: tuple[str, ...] = tuple(cal.INDUSTRY_SHARES)
#: Industries whose exporters were hit in 2020 (seed 000).
EXPORT_INDUSTRIES = ("electronic_info", "advanced_manufacturing")

#: How much each field leans to R&D intensity / venture backing (z-score shifts, chosen).
_RD_SHIFT = {
    "electronic_info": 0.3,
    "bio_medicine": 0.8,
    "aerospace": 0.5,
    "new_materials": 0.2,
    "high_tech_services": -0.1,
    "new_energy": 0.1,
    "resources_environment": -0.2,
    "advanced_manufacturing": -0.2,
    "other": -1.0,
}
_VC_SHIFT = {
    "electronic_info": 0.4,
    "bio_medicine": 0.7,
    "aerospace": 0.2,
    "new_materials": 0.1,
    "high_tech_services": 0.1,
    "new_energy": 0.4,
    "resources_environment": -0.4,
    "advanced_manufacturing": -0.4,
    "other": -0.8,
}

#: Log of the median mature revenue (万元) and its spread: a lognormal fitted to the seed-001
#: revenue bands after the age ramp and health are applied (tuned against calibration.py).
SCALE_MEAN = 7.5
SCALE_SD = 1.45
#: Share of firms that will raise equity; the youngest have not raised yet by the window
#: end, so the share with a recorded round lands on calibration.VC_BACKED_SHARE.
VC_BACKED_LATENT_SHARE = cal.VC_BACKED_SHARE / 0.92
#: Firm age at the window end in years: Gamma(shape, scale), a young population.
AGE_SHAPE = 1.6
AGE_SCALE_YEARS = 5.5
#: Health = HEALTH_LEVEL * firm level + HEALTH_DRIFT * AR(1) drift (unit variance overall).
HEALTH_LEVEL = 0.75
HEALTH_DRIFT = 0.66
HEALTH_AR = 0.75
#: Extra fragility of young firms: health minus YOUNG_PENALTY * exp(-age / 2 years).
YOUNG_PENALTY = 0.4
#: Share of the other firms that file financial statements for only some years.
PATCHY_SHARE = 0.10
#: Health lost by exporters in 2020 and 2021 (seed 000).
EXPORT_SHOCK = {2020: 0.9, 2021: 0.45}

DISTRICT_SHARES = {
    "pudong": 0.25,
    "minhang": 0.12,
    "jiading": 0.08,
    "xuhui": 0.08,
    "songjiang": 0.08,
    "yangpu": 0.06,
    "baoshan": 0.06,
    "jingan": 0.05,
    "putuo": 0.04,
    "changning": 0.04,
    "qingpu": 0.04,
    "fengxian": 0.03,
    "hongkou": 0.02,
    "huangpu": 0.02,
    "jinshan": 0.02,
    "chongming": 0.01,
}
#: GB/T 2260 division code of each district, used in the firm's credit code.
DISTRICT_DIVISIONS = {
    "huangpu": "310101",
    "xuhui": "310104",
    "changning": "310105",
    "jingan": "310106",
    "putuo": "310107",
    "hongkou": "310109",
    "yangpu": "310110",
    "minhang": "310112",
    "baoshan": "310113",
    "jiading": "310114",
    "pudong": "310115",
    "jinshan": "310116",
    "songjiang": "310117",
    "qingpu": "310118",
    "fengxian": "310120",
    "chongming": "310151",
}
DISTRICTS: tuple[str, ...] = tuple(DISTRICT_SHARES)


@dataclass(frozen=True)
class Population:
    """Latent traits of n firms; arrays are indexed by the firm's row number."""

    industry: np.ndarray  # int code into INDUSTRIES
    district: np.ndarray  # int code into DISTRICTS (noise)
    founded: np.ndarray  # day of founding
    quality: np.ndarray  # technology quality z-score
    scale: np.ndarray  # log of mature annual revenue, 万元
    rd_z: np.ndarray  # R&D propensity z-score (rank of rd_intensity)
    rd_intensity: np.ndarray  # typical R&D expense / revenue
    health: np.ndarray  # (n, len(years())) latent health z-score per year
    exporter: np.ndarray  # bool, latent: hit by the 2020 export shock
    vc_backed: np.ndarray  # bool: raises equity rounds
    rd_staff_share: np.ndarray
    tech_staff_share: np.ndarray  # >= rd_staff_share
    college_share: np.ndarray
    revenue_per_employee: np.ndarray  # 万元 per employee at maturity
    asset_turnover: np.ndarray  # total assets / annual revenue
    thin_financials: np.ndarray  # bool: files no financial statements
    thin_staffing: np.ndarray  # bool: no social-insurance headcount records
    patchy_financials: np.ndarray  # bool: files only some years
    #: First year of an extension's export-order shock for the exposed firms, else 0
    shock_year: np.ndarray

    @property
    def n(self) -> int:
        return len(self.founded)

    def health_at(self, firm: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Health of each firm in the calendar year of each day (clipped to the drawn years)."""
        col = np.clip(year_of(days) - cal.FIRST_RECORD_YEAR, 0, self.health.shape[1] - 1)
        return self.health[firm, col]


def concat_populations(first: Population, second: Population) -> Population:
    """Two blocks of firms as one population (the second's rows follow the first's)."""
    return Population(
        **{
            f.name: np.concatenate([getattr(first, f.name), getattr(second, f.name)])
            for f in fields(Population)
        }
    )


def rd_intensity_from_uniform(u: np.ndarray) -> np.ndarray:
    """Quantile function of the typical R&D intensity: log-linear between the band edges.

    The band shares of calibration.py pin the quantiles at 1 %, 3 %, 5 % and 8 %; above 8 %
    CASH_BURN_SHARE of firms lie beyond CASH_BURN_RD_RATIO, up to 60 %.
    """
    cum = np.cumsum((0.0, *cal.RD_BAND_SHARES))
    cum = np.insert(cum, -1, 1 - cal.CASH_BURN_SHARE)
    ratio = np.array([0.002, *cal.RD_BAND_EDGES, cal.CASH_BURN_RD_RATIO, 0.60])
    return np.exp(np.interp(u, cum, np.log(ratio)))


@dataclass(frozen=True)
class Shock:
    """A 2020-like export-order shock in the extension period (seed 000: orders shrank,
    receivables lengthened, some firms lost half their revenue).

    ``loss_by_year`` is the health each exposed firm loses in each calendar year; the exposed
    firms are the exporters of ``industries`` (EXPORTER_SHARE of each).
    """

    industries: tuple[str, ...]
    loss_by_year: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.industries) - set(INDUSTRIES))
        if unknown or not self.industries:
            raise InvalidArgument(
                "shock_industries", ",".join(self.industries), f"must be among {INDUSTRIES}"
            )


def draw_population(
    n: int,
    rng: np.random.Generator,
    extension: np.random.Generator | None = None,
    shock: Shock | None = None,
    founded_between: tuple[int, int] | None = None,
) -> Population:
    """Draw n firms' latent traits (see the module docstring for the story).

    Ages are drawn as of the base window end, so a market observed later holds the same
    firms. Health in years after the base window comes from the ``extension`` stream (the
    base draws stay as they were), less the ``shock``. ``founded_between`` (days) draws
    entrants: firms founded after the base window, uniformly in that span.
    """
    extra_years = len(years()) - len(BASE_YEARS)
    if (extra_years > 0 or founded_between is not None) and extension is None:
        raise InvalidArgument("extension", None, "a window past the base end needs its own stream")
    shares = np.array(list(cal.INDUSTRY_SHARES.values()))
    industry = rng.choice(len(INDUSTRIES), size=n, p=shares / shares.sum())
    district = rng.choice(len(DISTRICTS), size=n, p=np.array(list(DISTRICT_SHARES.values())))
    age = np.clip(rng.gamma(AGE_SHAPE, AGE_SCALE_YEARS, size=n), 0.05, 35.0)
    founded = BASE_END - np.round(age * DAYS_PER_YEAR).astype(np.int64)
    if founded_between is not None and extension is not None:
        lo, hi = founded_between
        founded = lo + np.floor(extension.random(n) * (hi - lo + 1)).astype(np.int64)
        age = np.full(n, 0.05)  # entrants are new at the base window end

    quality = rng.standard_normal(n)
    level = 0.4 * quality + np.sqrt(1 - 0.16) * rng.standard_normal(n)
    rd_shift = np.array([_RD_SHIFT[i] for i in INDUSTRIES])[industry]
    rd_z = 0.45 * quality + rd_shift + 0.85 * rng.standard_normal(n)
    rd_intensity = rd_intensity_from_uniform(rank_uniform(rd_z))
    scale_z = 0.3 * level + 0.3 * quality + np.sqrt(1 - 0.18) * rng.standard_normal(n)
    scale = SCALE_MEAN + SCALE_SD * scale_z

    exporter = np.isin(industry, [INDUSTRIES.index(i) for i in EXPORT_INDUSTRIES]) & (
        rng.random(n) < cal.EXPORTER_SHARE
    )
    health = _health_paths(level, founded, exporter, rng, extension)
    shock_year = np.zeros(n, dtype=np.int64)
    if shock is not None and extension is not None:
        losses = _shock_losses(industry, exporter, shock, extension)
        health -= losses
        shock_year[losses.any(axis=1)] = min(year for year, _ in shock.loss_by_year)

    vc_shift = np.array([_VC_SHIFT[i] for i in INDUSTRIES])[industry]
    young_founder = (founded >= year_start(2012)).astype(float)
    vc_score = 0.3 * quality + 0.4 * rd_z + vc_shift + 0.6 * young_founder + rng.logistic(size=n)
    vc_backed = top_share(vc_score, VC_BACKED_LATENT_SHARE)

    rd_staff_share = np.clip(
        sigmoid(-1.25 + 0.45 * (rd_z - rd_z.mean()) + 0.55 * rng.standard_normal(n)), 0.02, 0.75
    )
    tech_staff_share = rd_staff_share + (1 - rd_staff_share) * rng.beta(2.0, 9.0, size=n)
    college_share = sigmoid(0.2 + 0.5 * quality + 0.3 * rd_z + 0.6 * rng.standard_normal(n))

    thin_score = -0.6 * level + 1.2 * (age < 3) - 0.3 * scale_z + rng.logistic(size=n)
    thin_financials = top_share(thin_score, cal.THIN_FINANCIALS_SHARE)
    staff_score = -0.4 * level + 0.8 * (age < 3) + rng.logistic(size=n)
    thin_staffing = top_share(staff_score, cal.THIN_STAFFING_SHARE)
    patchy_financials = ~thin_financials & (rng.random(n) < PATCHY_SHARE)

    return Population(
        industry=industry,
        district=district,
        founded=founded,
        quality=quality,
        scale=scale,
        rd_z=rd_z,
        rd_intensity=rd_intensity,
        health=health,
        exporter=exporter,
        vc_backed=vc_backed,
        rd_staff_share=rd_staff_share,
        tech_staff_share=tech_staff_share,
        college_share=college_share,
        revenue_per_employee=np.exp(np.log(60.0) + 0.45 * rng.standard_normal(n)),
        asset_turnover=np.exp(np.log(1.1) + 0.35 * rng.standard_normal(n)),
        thin_financials=thin_financials,
        thin_staffing=thin_staffing,
        patchy_financials=patchy_financials,
        shock_year=shock_year,
    )


def _shock_losses(
    industry: np.ndarray, exporter: np.ndarray, shock: Shock, rng: np.random.Generator
) -> np.ndarray:
    """(n, len(years())) health lost to the shock: exporters of the shocked industries."""
    chosen = np.isin(industry, [INDUSTRIES.index(i) for i in shock.industries])
    # Outside EXPORT_INDUSTRIES no firm is an exporter yet: draw the exposed share here.
    export_field = np.isin(industry, [INDUSTRIES.index(i) for i in EXPORT_INDUSTRIES])
    drawn = rng.random(len(industry)) < cal.EXPORTER_SHARE
    exposed = chosen & np.where(export_field, exporter, drawn)
    loss = np.zeros((len(industry), len(years())))
    for year, value in shock.loss_by_year:
        col = year - cal.FIRST_RECORD_YEAR
        if 0 <= col < loss.shape[1]:
            loss[exposed, col] = value
    return loss


def _health_paths(
    level: np.ndarray,
    founded: np.ndarray,
    exporter: np.ndarray,
    rng: np.random.Generator,
    extension: np.random.Generator | None,
) -> np.ndarray:
    """Yearly health: firm level + stationary AR(1) drift - youth fragility - export shock.

    The base years draw from ``rng`` exactly as the base market does; later years continue
    the same AR(1) paths from ``extension``.
    """
    n = len(level)
    drift = np.empty((n, len(years())))
    drift[:, 0] = rng.standard_normal(n)
    innovation_sd = np.sqrt(1 - HEALTH_AR**2)
    for k in range(1, len(BASE_YEARS)):
        drift[:, k] = HEALTH_AR * drift[:, k - 1] + innovation_sd * rng.standard_normal(n)
    for k in range(len(BASE_YEARS), len(years())):
        assert extension is not None  # draw_population checked it
        drift[:, k] = HEALTH_AR * drift[:, k - 1] + innovation_sd * extension.standard_normal(n)
    health = HEALTH_LEVEL * level[:, None] + HEALTH_DRIFT * drift
    mid_year = year_start(years()) + 182
    age_mid = np.maximum((mid_year[None, :] - founded[:, None]) / DAYS_PER_YEAR, 0.0)
    health -= YOUNG_PENALTY * np.exp(-age_mid / 2.0)
    for year, loss in EXPORT_SHOCK.items():
        health[exporter, year - years()[0]] -= loss
    return health
