"""The customer stylised facts: one measurement per fact and seed, the checks with their targets, the table across seeds.

Every stylised fact of design section 9 that concerns customers, measured on
neutral settings (research.experiments) over many seeds:
:func:`measure_facts` gives one row per seed (:func:`seed_metrics`, every
check's measure) and :func:`fact_table` each check's target band, the mean
and its 95% t band across seeds, and pass/fail (the band must lie inside the
target, as in tests/agents/test_stylised_facts.py, which imports its
measurements from here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from crmsim.agents.population import RESOLVED, RESOLVED_QUICKLY, SILENT, UNRESOLVED
from crmsim.research.executors import process_pool
from crmsim.research.experiments import (DEFAULT_SCENARIO, Overrides, band, firm_series, neutral_scenario, newcomers, panel,
                                         play, warmed_up)
from crmsim.sim.decisions import Decision
from crmsim.sim.engine import initial_state


# ---------------------------------------------------------------------------
# the measurements, one seed each (design section 9)


def top_fifth_revenue_share(seed: int, base: str | Path = DEFAULT_SCENARIO, extra: Overrides | None = None) -> float:
    """Revenue share of the top 20% of the customers who bought at least once in a 12-period neutral game."""
    results = play(neutral_scenario(10_000, 12, base, extra), seed, 12)
    revenue = panel(results, "spend").sum(axis=0)
    buyers = np.sort(revenue[revenue > 0])[::-1]
    return float(buyers[: round(0.2 * len(buyers))].sum() / buyers.sum())


def cohort_survival(seed: int, cohorts: int = 6, horizon: int = 12, base: str | Path = DEFAULT_SCENARIO,
                    extra: Overrides | None = None) -> np.ndarray:
    """Share of each period's newcomers still with the firm that won them, by age 1..horizon (pooled)."""
    results = play(neutral_scenario(10_000, cohorts + horizon, base, extra), seed, cohorts + horizon)
    supplier, tenure, defected = panel(results, "supplier"), panel(results, "tenure"), panel(results, "defected")
    alive = []
    for t in range(cohorts):
        joined = newcomers(supplier, tenure, t)
        alive.append(np.cumprod(~defected[t + 1 : t + 1 + horizon, joined], axis=0))
    return np.concatenate(alive, axis=1).mean(axis=1)


SPREAD_SERVICE = (0.5, 0.6, 0.6, 0.7, 0.8, 0.95)
MIN_TENURE = 6  # surveyed customers: long enough with the firm for satisfaction to reflect experience


def retention_by_satisfaction_band(seed: int, horizon: int, starts: tuple[int, ...] = (10, 11, 12),
                                   base: str | Path = DEFAULT_SCENARIO, extra: Overrides | None = None) -> tuple[float, float]:
    """Survival over `horizon` periods of customers totally satisfied (CS >= 9) and satisfied (7 <= CS < 9).

    Firms' service levels differ (SPREAD_SERVICE, set in period 1); customers are
    classed by their satisfaction at the end of each start period.
    """
    scenario = neutral_scenario(10_000, max(starts) + horizon, base, extra)
    price = scenario.market.reference_price
    spread = {i: Decision(price=price, service_level=q) for i, q in enumerate(SPREAD_SERVICE)}
    results = play(scenario, seed, max(starts) + horizon, lambda p: spread if p == 1 else {})
    supplier, cs, defected = panel(results, "supplier"), panel(results, "satisfaction"), panel(results, "defected")
    tenure = panel(results, "tenure")
    top, satisfied = [], []
    for t in starts:
        active = (supplier[t - 1] >= 0) & (tenure[t - 1] >= MIN_TENURE)
        kept = ~defected[t : t + horizon].any(axis=0)
        top.append(kept[active & (cs[t - 1] >= 9)])
        satisfied.append(kept[active & (cs[t - 1] >= 7) & (cs[t - 1] < 9)])
    return float(np.concatenate(top).mean()), float(np.concatenate(satisfied).mean())


WARM_UP = 10  # periods for expectations and reference prices to settle on neutral settings


def quality_change_response(seed: int, steps: tuple[float, ...], horizon: int = 3, base: str | Path = DEFAULT_SCENARIO,
                            extra: Overrides | None = None) -> np.ndarray:
    """Firm 0 changes its service level by each of `steps` after the warm-up and keeps it.

    Returns, per step, the change against the same seed without the change of firm
    0's mean satisfaction in the period of the change, and of the share of its
    customers lost over `horizon` periods.
    """
    scenario = neutral_scenario(10_000, WARM_UP + horizon, base, extra)
    q, price = scenario.market.expectation_mean, scenario.market.reference_price
    start = warmed_up(scenario, seed, WARM_UP)
    out = []
    for step in (0.0, *steps):
        change = {0: Decision(price=price, service_level=q + step)}
        results = play(scenario, seed, horizon, lambda p: change if p == WARM_UP + 1 else {}, state=start)
        satisfaction = firm_series(results, 0, "avg_satisfaction")[0]
        lost = firm_series(results, 0, "lost").sum() / firm_series(results, 0, "customers_start")[0]
        out.append((satisfaction, lost))
    out = np.array(out)
    return out[1:] - out[0]


def complaint_outcomes(seed: int, periods: int = 8, base: str | Path = DEFAULT_SCENARIO,
                       extra: Overrides | None = None) -> tuple[float, dict[int, float]]:
    """Firm 0 under-serves (service 0.35), buys care and has too few complaint handlers.

    Returns the complaint rate among firm 0's dissatisfied customers and, by
    complaint outcome, the share of firm 0's customers who stay through the
    period in which their complaint was handled (or in which they stayed silent).
    """
    scenario = neutral_scenario(10_000, periods, base, extra, **{"costs.complaints_per_service_staff": 0.35})
    poor = {0: Decision(price=scenario.market.reference_price, service_level=0.35, care_budget=7_000.0)}
    results = play(scenario, seed, periods, lambda p: poor if p == 1 else {})
    rows = [r.firm_rows[0] for r in results]
    complaints = sum(r["complaints"] for r in rows)
    dissatisfied = complaints + sum(r["silent_dissatisfied"] for r in rows)
    supplier, code, defected = panel(results, "supplier"), panel(results, "complaint"), panel(results, "defected")
    was_firm0 = supplier[:-1] == 0  # firm 0's customers at the start of each period from the second on
    code, defected = code[1:], defected[1:]
    kept = {}
    for c in (RESOLVED_QUICKLY, RESOLVED, UNRESOLVED, SILENT):
        who = was_firm0 & (code == c)
        kept[c] = float(1 - defected[who].mean()) if who.any() else math.nan
    return complaints / dissatisfied if dissatisfied else math.nan, kept


def price_change_response(seed: int, changes: tuple[float, ...], base: str | Path = DEFAULT_SCENARIO,
                          extra: Overrides | None = None) -> np.ndarray:
    """Relative change of each firm's units sold in the period it alone moves its price by each of `changes`.

    After the warm-up every firm in turn changes its price (one branch of the
    game per firm and change, all from the same state and generator), so one
    seed gives one measurement per firm. Returns an array (firms, changes).
    """
    scenario = neutral_scenario(40_000, WARM_UP + 1, base, extra, **{"market.track_customers": 0})
    price = scenario.market.reference_price
    start = warmed_up(scenario, seed, WARM_UP)
    units = np.array([r["units_sold"] for r in play(scenario, seed, 1, state=start)[0].firm_rows])
    out = np.empty((len(start.firms), len(changes)))
    for f in range(len(start.firms)):
        for k, change in enumerate(changes):
            d = {f: Decision(price=price * (1 + change), service_level=scenario.market.expectation_mean)}
            moved = play(scenario, seed, 1, lambda p: d, state=start)[0].firm_rows[f]["units_sold"]
            out[f, k] = moved / units[f] - 1
    return out


def bass_cumulative(t: np.ndarray, m: float, p: float, q: float) -> np.ndarray:
    """Bass (1969) cumulative adoption share m F(t)."""
    e = np.exp(-(p + q) * t)
    return m * (1 - e) / (1 + (q / p) * e)


def adoption_curve(seed: int, periods: int = 120, base: str | Path = DEFAULT_SCENARIO, extra: Overrides | None = None) -> np.ndarray:
    """Cumulative share of the customers unserved at the start who have adopted, by period."""
    scenario = neutral_scenario(5_000, periods, base, extra, **{"market.initial_served_share": 0.01})
    results = play(scenario, seed, periods)
    supplier = panel(results, "supplier")
    first = initial_state(scenario, seed).population.supplier >= 0
    return np.maximum.accumulate(supplier[:, ~first] >= 0, axis=0).mean(axis=1)


def bass_fit(curve: np.ndarray) -> tuple[float, float, float, float]:
    """Bass (m, p, q) fitted to a cumulative adoption curve (scipy curve_fit) and the fitted peak ln(q/p)/(p+q)."""
    t = np.arange(1, len(curve) + 1)
    (m, p, q), _ = curve_fit(bass_cumulative, t, curve, p0=(1.0, 0.01, 0.1), bounds=([0.05, 1e-6, 1e-6], [1.0, 1.0, 2.0]))
    return float(m), float(p), float(q), float(np.log(q / p) / (p + q))


def observed_adoption_peak(curve: np.ndarray) -> int:
    """Period of the peak of 9-period moving-average new adoptions (ends trimmed)."""
    new = np.convolve(np.diff(curve, prepend=0.0), np.ones(9) / 9, mode="same")
    return int(np.argmax(new[4:-4]) + 5)


def cohort_histories(seed: int, cohorts: int = 3, horizon: int = 9, base: str | Path = DEFAULT_SCENARIO,
                     extra: Overrides | None = None) -> pd.DataFrame:
    """Purchase histories of newcomers (periods 1..cohorts) from the firm that won them over the next `horizon` periods.

    One row per newcomer: frequency (periods with a purchase while still with
    that firm), recency (the last such period, 0 if none) and T = horizon, in periods.
    """
    results = play(neutral_scenario(10_000, cohorts + horizon, base, extra), seed, cohorts + horizon)
    supplier, tenure, bought = panel(results, "supplier"), panel(results, "tenure"), panel(results, "bought")
    x, t_x = [], []
    k = np.arange(1, horizon + 1)[:, None]
    for t in range(cohorts):
        joined = newcomers(supplier, tenure, t)
        stayed = np.cumprod(supplier[t + 1 : t + 1 + horizon, joined] == supplier[t, joined], axis=0).astype(bool)
        kept = bought[t + 1 : t + 1 + horizon, joined] & stayed
        x.append(kept.sum(axis=0))
        t_x.append((kept * k).max(axis=0))
    x, t_x = np.concatenate(x).astype(float), np.concatenate(t_x).astype(float)
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": float(horizon)})


def zero_repeat_share(seed: int, cohorts: int = 3, horizon: int = 9, base: str | Path = DEFAULT_SCENARIO,
                      extra: Overrides | None = None) -> float:
    """Share of newcomers with no purchase from the firm that won them in the next `horizon` periods."""
    return float((cohort_histories(seed, cohorts, horizon, base, extra)["frequency"] == 0).mean())


# ---------------------------------------------------------------------------
# the checks


@dataclass(frozen=True)
class Check:
    """One measured quantity of a stylised fact and its target band (low <= 95% band <= high)."""

    key: str
    fact: str  # the design's statement (section 9)
    measure: str  # what is measured
    low: float = -math.inf
    high: float = math.inf

    @property
    def target(self) -> str:
        if math.isfinite(self.low) and math.isfinite(self.high):
            return f"[{self.low:g}, {self.high:g}]"
        if math.isfinite(self.low):
            return f"> {self.low:g}" if self.low == 0 else f">= {self.low:g}"
        return f"<= {self.high:g}"

    def passes(self, lo: float, hi: float) -> bool:
        """Whether a 95% band [lo, hi] lies inside the target (strictly above 0 for a "> 0" target)."""
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return False
        if self.low == 0 and not math.isfinite(self.high):
            return bool(lo > 0)
        return bool(lo >= self.low and hi <= self.high)


#: 39 weeks in months (crmsim periods), for the BG/NBD zero-repeat share.
WEEKS_39 = 39 * 7 / (365.25 / 12)

CHECKS: tuple[Check, ...] = (
    Check("top_fifth_revenue_share", "Top 20% of customers bring 55-80% of revenue",
          "revenue share of the top 20% of buyers, 12 neutral periods", 0.55, 0.80),
    Check("year_one_retention", "Year-1 retention in 0.6-0.9 on neutral settings",
          "newcomers of periods 1-6 still with their firm after 12 periods", 0.6, 0.9),
    Check("retention_rise", "Cohort retention rises with tenure",
          "per-period retention in months 10-12 minus months 1-3", 0.0),
    Check("satisfaction_retention_ratio", "Retention of top-satisfaction customers >= 1.5x the next band",
          "24-period retention of CS >= 9 over 7 <= CS < 9 (firms' service levels differ)", 1.5),
    Check("quality_satisfaction_ratio", "Response to a 1-s.d. quality drop >= 1.3x an equal rise",
          "fall / rise of firm 0's mean satisfaction after a -/+ 1 s.d. service change", 1.3),
    Check("quality_churn_margin", "Response to a 1-s.d. quality drop >= 1.3x an equal rise (churn)",
          "extra share lost in 3 periods after the drop - 1.3 x share saved by the rise", 0.0),
    Check("complaint_rate", "Complaint rate among dissatisfied customers 4-30%",
          "complaints / dissatisfied customers of an under-serving firm", 0.04, 0.30),
    Check("tarp_quick_minus_resolved", "Retention: resolved quickly > resolved",
          "retention through the period, resolved quickly - resolved", 0.0),
    Check("tarp_resolved_minus_unresolved", "Retention: resolved > unresolved",
          "retention through the period, resolved - unresolved", 0.0),
    Check("tarp_unresolved_minus_silent", "Retention: unresolved > silent",
          "retention through the period, unresolved - silent", 0.0),
    Check("price_elasticity", "Own-price elasticity for a 5% cut in -3.5..-1.5",
          "elasticity of a firm's units sold for a 5% price cut (mean over firms)", -3.5, -1.5),
    Check("price_rise_margin", "A price rise hurts >= 1.5x as much as an equal cut helps",
          "share of units lost to a 5% rise - 1.5 x share won by a 5% cut", 0.0),
    Check("bass_q_minus_p", "With no marketing, adoption follows an S-curve (Bass q > p)",
          "Bass q - p fitted to 120 periods of adoption from 1% adopters", 0.0),
    Check("bass_fitted_peak", "Adoption S-curve peaks inside the run",
          "fitted Bass peak ln(q/p)/(p+q), periods", 12, 108),
    Check("bass_observed_peak", "Adoption S-curve peaks inside the run",
          "peak of 9-period moving-average new adoptions, periods", 12, 108),
    Check("zero_repeat_share", "Zero-repeat share over 39 weeks in 0.5-0.7 (CDNOW 0.60)",
          "newcomers of periods 1-3 with no repeat purchase from their firm in 9 periods", 0.5, 0.7),
    Check("bgnbd_zero_repeat_share", "BG/NBD fitted to neutral purchase histories: zero-repeat share 0.5-0.7",
          "P(X(39 weeks) = 0) of a BG/NBD fitted (in months) to those newcomers' histories", 0.5, 0.7),
)
CHECK_KEYS = tuple(c.key for c in CHECKS)


def seed_metrics(seed: int, base: str | Path = DEFAULT_SCENARIO, extra: Overrides | None = None) -> dict[str, float]:
    """Every check's measure for one seed (a dict keyed like CHECK_KEYS; NaN where a measurement failed)."""
    from crmsim.research.calibration import bgnbd_p_zero, fit_bgnbd

    out: dict[str, float] = {"seed": float(seed)}
    out["top_fifth_revenue_share"] = top_fifth_revenue_share(seed, base, extra)

    curve = cohort_survival(seed, base=base, extra=extra)
    out["year_one_retention"] = float(curve[-1])
    per_period = curve / np.concatenate([[1.0], curve[:-1]])
    out["retention_rise"] = float(per_period[9:].mean() - per_period[:3].mean())

    top, satisfied = retention_by_satisfaction_band(seed, 24, base=base, extra=extra)
    out["satisfaction_retention_ratio"] = top / satisfied if satisfied else math.nan

    sd = neutral_scenario(100, 1, base, extra).market.expectation_sd
    down, up = quality_change_response(seed, (-sd, +sd), base=base, extra=extra)
    out["quality_satisfaction_ratio"] = float(-down[0] / up[0]) if up[0] else math.nan
    out["quality_churn_margin"] = float(down[1] - 1.3 * -up[1])

    rate, kept = complaint_outcomes(seed, base=base, extra=extra)
    out["complaint_rate"] = rate
    out["tarp_quick_minus_resolved"] = kept[RESOLVED_QUICKLY] - kept[RESOLVED]
    out["tarp_resolved_minus_unresolved"] = kept[RESOLVED] - kept[UNRESOLVED]
    out["tarp_unresolved_minus_silent"] = kept[UNRESOLVED] - kept[SILENT]

    cut, rise = price_change_response(seed, (-0.05, +0.05), base=base, extra=extra).mean(axis=0)
    out["price_elasticity"] = float(cut / -0.05)
    out["price_rise_margin"] = float(-rise - 1.5 * cut)

    adoption = adoption_curve(seed, base=base, extra=extra)
    try:
        _, p, q, peak = bass_fit(adoption)
        out["bass_q_minus_p"], out["bass_fitted_peak"] = q - p, peak
    except (RuntimeError, ValueError):
        out["bass_q_minus_p"] = out["bass_fitted_peak"] = math.nan
    out["bass_observed_peak"] = float(observed_adoption_peak(adoption))

    histories = cohort_histories(seed, base=base, extra=extra)
    out["zero_repeat_share"] = float((histories["frequency"] == 0).mean())
    fit = fit_bgnbd(histories["frequency"], histories["recency"], histories["T"], unit="month")
    out["bgnbd_zero_repeat_share"] = float(bgnbd_p_zero(WEEKS_39, fit.params))
    for k, v in fit.params.items():
        out[f"bgnbd_{k}"] = v
    return out


def run_seed_metrics(tasks: Sequence[tuple[int, str | Path, Overrides | None]], workers: int = 1,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, float]]:
    """seed_metrics for every (seed, base, extra), in order; on a process pool when workers > 1."""
    out: list[dict[str, float] | None] = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        for i, (s, b, e) in enumerate(tasks):
            out[i] = seed_metrics(s, b, e)
            if progress:
                progress(i + 1, len(tasks))
    else:
        with process_pool(workers) as pool:  # spawned workers, as every research pool (research.executors)
            futures = [pool.submit(seed_metrics, s, b, dict(e) if e else None) for s, b, e in tasks]
            for i, fut in enumerate(futures):
                out[i] = fut.result()
                if progress:
                    progress(i + 1, len(tasks))
    return out  # type: ignore[return-value]


def measure_facts(scenario: str | Path = DEFAULT_SCENARIO, seeds: int | Sequence[int] = 12, extra: Overrides | None = None,
                  workers: int = 1, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per seed, one column per check (CHECK_KEYS) plus the BG/NBD fit to the cohort histories."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ValueError("seeds must be >= 1")
    rows = run_seed_metrics([(s, scenario, extra) for s in seed_list], workers, progress)
    return pd.DataFrame(rows).astype({"seed": int})


def fact_table(per_seed: pd.DataFrame, checks: Sequence[Check] = CHECKS) -> pd.DataFrame:
    """Each check: fact, measure, target, mean, 95% band across seeds, seeds and pass/fail."""
    rows = []
    for c in checks:
        m, lo, hi = band(per_seed[c.key])
        rows.append({"check": c.key, "fact": c.fact, "measure": c.measure, "target": c.target, "mean": m,
                     "ci_low": lo, "ci_high": hi, "seeds": int(per_seed[c.key].notna().sum()), "passed": c.passes(lo, hi)})
    return pd.DataFrame(rows)

