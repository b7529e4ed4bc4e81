"""Model validity: the customer stylised facts over many seeds, a sensitivity sweep and an out-of-sample check.

Three checks of the customer model (design sections 5 and 9), each returning
pandas frames:

- :func:`measure_facts` / :func:`fact_table`: every stylised fact of design
  section 9 that concerns customers, measured on neutral settings over many
  seeds, with its target band, the mean and its 95% t band across seeds,
  and pass/fail (the band must lie inside the target, as in
  tests/agents/test_stylised_facts.py, which imports its measurements from here);
- :func:`sensitivity`: each main customer parameter moved -50% and +50%
  (same seeds: common random numbers), and the normalised change of every
  fact's measure, (y+ - y-) / |y0| per 100% change of the parameter;
- :func:`cdnow_holdout`: calibrate on CDNOW's first 39 weeks
  (research.calibration), forecast the next 39 weeks with no marketing
  change (BG/NBD conditional expectations, and crmsim's own population drawn
  from the calibrated parameters and stepped by ``step_population``), and
  compare week-by-week cumulative repeat purchases with the real ones.

:func:`validation_report` runs all three and writes report.md, CSV tables and
PNG plots. ``crmsim validate`` is its command line.

"Neutral settings": every firm's service level equals the customers' mean
expectation, its price equals the reference price, care and advertising are
zero and service staff are ample (utilisation far below the knee), so the
defection hazard reduces to each customer's own base dropout rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import curve_fit

from crmsim import InputError
from crmsim.agents.population import RESOLVED, RESOLVED_QUICKLY, SILENT, UNRESOLVED
from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Scenario
from crmsim.sim.decisions import Decision
from crmsim.sim.engine import PeriodResult, initial_state, period_rng, resolve_period
from crmsim.sim.state import GameState
from crmsim.research.markdown import md_table as _md_table

Decide = Callable[[int], Mapping[int, Decision]]
Overrides = Mapping[str, Any]

DEFAULT_SCENARIO = "classroom-v1"
NEUTRAL = {
    "clients": [],
    "events": [],
    "firms.cash": 1e10,  # no firm goes bankrupt: the facts are about customers
    "firms.service_staff": 200,  # 20,000 customer-slots per firm: utilisation stays far below the knee
    "firms.care_budget": 0,
    "firms.advertising_budget": 0,
}


# ---------------------------------------------------------------------------
# playing neutral games


def neutral_scenario(customers: int, periods: int, base: str | Path = DEFAULT_SCENARIO, extra: Overrides | None = None,
                     **overrides: Any) -> Scenario:
    """`base` (with `extra` overrides) on neutral settings, every customer's history tracked; `overrides` last."""
    start = load_scenario(base, overrides=dict(extra or {}))
    o = {
        **dict(extra or {}),
        **NEUTRAL,
        "periods": periods,
        "market.customers": customers,
        "market.track_customers": customers,
        "firms.price": start.market.reference_price,
        "firms.service_level": start.market.expectation_mean,
    }
    o.update(overrides)
    return load_scenario(base, overrides=o)


def play(scenario: Scenario, seed: int, periods: int, decide: Decide | None = None, state: GameState | None = None) -> list[PeriodResult]:
    """Resolve `periods` periods from `state` (default: the start); `decide(period)` gives that period's decisions."""
    state = initial_state(scenario, seed) if state is None else state
    results = []
    for _ in range(periods):
        decisions = decide(state.period) if decide else {}
        state, result = resolve_period(state, decisions, period_rng(seed, state.period))
        results.append(result)
    return results


def warmed_up(scenario: Scenario, seed: int, periods: int) -> GameState:
    """The state after `periods` periods of standing decisions."""
    state = initial_state(scenario, seed)
    for _ in range(periods):
        state, _ = resolve_period(state, {}, period_rng(seed, state.period))
    return state


def panel(results: list[PeriodResult], key: str) -> np.ndarray:
    """(periods, customers) array of one panel column."""
    return np.stack([r.panel[key] for r in results])


def firm_series(results: list[PeriodResult], firm: int, key: str) -> np.ndarray:
    return np.array([r.firm_rows[firm][key] for r in results], dtype=float)


def band(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """Mean across seeds and its t confidence band (NaN band with fewer than two finite values)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if len(x) < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def show(name: str, values: Any, seeds: int) -> str:
    m, lo, hi = band(values)
    return f"{name} = {m:.3f}, 95% band [{lo:.3f}, {hi:.3f}] over {seeds} seeds"


def newcomers(supplier: np.ndarray, tenure: np.ndarray, t: int) -> np.ndarray:
    """Customers who joined a firm in period index t (adopters and switchers alike)."""
    return (supplier[t] >= 0) & (tenure[t] == 0)


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


def _run_all(tasks: Sequence[tuple[int, str | Path, Overrides | None]], workers: int = 1,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, float]]:
    """seed_metrics for every (seed, base, extra), in order; on a process pool when workers > 1."""
    out: list[dict[str, float] | None] = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        for i, (s, b, e) in enumerate(tasks):
            out[i] = seed_metrics(s, b, e)
            if progress:
                progress(i + 1, len(tasks))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
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
    rows = _run_all([(s, scenario, extra) for s in seed_list], workers, progress)
    return pd.DataFrame(rows).astype({"seed": int})


def fact_table(per_seed: pd.DataFrame, checks: Sequence[Check] = CHECKS) -> pd.DataFrame:
    """Each check: fact, measure, target, mean, 95% band across seeds, seeds and pass/fail."""
    rows = []
    for c in checks:
        m, lo, hi = band(per_seed[c.key])
        rows.append({"check": c.key, "fact": c.fact, "measure": c.measure, "target": c.target, "mean": m,
                     "ci_low": lo, "ci_high": hi, "seeds": int(per_seed[c.key].notna().sum()), "passed": c.passes(lo, hi)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# sensitivity


@dataclass(frozen=True)
class Parameter:
    """A customer parameter moved in the sensitivity sweep; `scale(factor, market)` gives the overrides."""

    name: str
    description: str
    keys: tuple[str, ...]  # market fields it sets

    def overrides(self, factor: float, scenario: Scenario) -> dict[str, float]:
        m = scenario.market
        if self.name in ("dropout_mean", "purchase_mean"):
            a_key, b_key = self.keys
            a, b = getattr(m, a_key.split(".")[1]), getattr(m, b_key.split(".")[1])
            k = a + b
            mean = a / k * factor
            return {a_key: mean * k, b_key: (1 - mean) * k}
        (key,) = self.keys
        return {key: getattr(m, key.split(".")[1]) * factor}


SENSITIVITY: tuple[Parameter, ...] = (
    Parameter("loss_aversion", "weight of shortfalls over surpluses", ("market.loss_aversion",)),
    Parameter("affection_hazard", "hazard drop in the zone of affection", ("market.affection_hazard",)),
    Parameter("defection_zone_hazard", "hazard rise in the zone of defection", ("market.defection_zone_hazard",)),
    Parameter("choice_price", "log-price coefficient of choice", ("market.choice_price",)),
    Parameter("price_gain_elasticity", "purchase response below the reference price", ("market.price_gain_elasticity",)),
    Parameter("price_loss_elasticity", "purchase response above the reference price", ("market.price_loss_elasticity",)),
    Parameter("quality_weight", "direct effect of quality on satisfaction", ("market.quality_weight",)),
    Parameter("disconfirmation_gain", "satisfaction per unit of disconfirmation", ("market.disconfirmation_gain",)),
    Parameter("dropout_mean", "mean base dropout (Beta, concentration kept)", ("market.dropout_alpha", "market.dropout_beta")),
    Parameter("purchase_mean", "mean purchase propensity (Beta, concentration kept)", ("market.purchase_alpha", "market.purchase_beta")),
    Parameter("units_sigma", "spread of units per purchase", ("market.units_sigma",)),
    Parameter("complaint_slope", "rise of complaint chance with dissatisfaction", ("market.complaint_slope",)),
    Parameter("bass_q", "Bass imitation", ("market.bass_q",)),
)
SENSITIVITY_OUTPUTS = CHECK_KEYS


def sensitivity(scenario: str | Path = DEFAULT_SCENARIO, params: Sequence[str | Parameter] | None = None,
                seeds: int | Sequence[int] = 3, factor: float = 0.5, baseline: pd.DataFrame | None = None,
                workers: int = 1, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Move each parameter by -factor and +factor (default +-50%) on the same seeds; the change of every output.

    Returns one row per (parameter, output): baseline mean y0, means at the
    low and high setting, swing = y+ - y-, its 95% band over seeds (paired),
    normalised sensitivity (y+ - y-) / (|y0| x 2 factor) (the relative change of
    the output per relative change of the parameter) and `drives` (the swing's
    band excludes 0). `baseline` (per-seed rows from :func:`measure_facts`) is
    reused for its seeds if it has them all.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    chosen = [p if isinstance(p, Parameter) else _parameter(p) for p in (params if params is not None else SENSITIVITY)]
    start = load_scenario(scenario)
    tasks: list[tuple[int, str | Path, Overrides | None]] = []
    labels: list[tuple[str, str]] = []
    for p in chosen:
        for side, f in (("low", 1 - factor), ("high", 1 + factor)):
            for s in seed_list:
                tasks.append((s, scenario, p.overrides(f, start)))
                labels.append((p.name, side))
    have_base = baseline is not None and set(seed_list) <= set(baseline["seed"])
    if not have_base:
        for s in seed_list:
            tasks.append((s, scenario, None))
            labels.append(("baseline", "base"))
    rows = _run_all(tasks, workers, progress)
    df = pd.DataFrame(rows).astype({"seed": int})
    df["parameter"], df["side"] = zip(*labels)
    base = baseline[baseline["seed"].isin(seed_list)] if have_base else df[df["parameter"] == "baseline"]
    base = base.set_index("seed").loc[seed_list]
    out = []
    for p in chosen:
        lo = df[(df["parameter"] == p.name) & (df["side"] == "low")].set_index("seed").loc[seed_list]
        hi = df[(df["parameter"] == p.name) & (df["side"] == "high")].set_index("seed").loc[seed_list]
        for key in SENSITIVITY_OUTPUTS:
            y0 = float(base[key].mean())
            swing = (hi[key] - lo[key]).to_numpy(dtype=float)
            m, b_lo, b_hi = band(swing)
            norm = m / (abs(y0) * 2 * factor) if y0 else math.nan
            out.append({"parameter": p.name, "output": key, "baseline": y0, "low": float(lo[key].mean()),
                        "high": float(hi[key].mean()), "swing": m, "swing_low": b_lo, "swing_high": b_hi,
                        "sensitivity": norm, "drives": bool(np.isfinite(b_lo) and (b_lo > 0 or b_hi < 0)),
                        "values": ", ".join(f"{k.split('.')[-1]}={v:.4g}" for k, v in p.overrides(1 - factor, start).items())
                                  + " .. " + ", ".join(f"{v:.4g}" for v in p.overrides(1 + factor, start).values())})
    return pd.DataFrame(out)


def _parameter(name: str) -> Parameter:
    for p in SENSITIVITY:
        if p.name == name or p.keys == (name,) or p.keys == (f"market.{name}",):
            return p
    from crmsim.scenarios.schema import Market

    key = name if name.startswith("market.") else f"market.{name}"
    field_name = key.split(".", 1)[1]
    if field_name not in Market.model_fields or not isinstance(getattr(Market(), field_name), float):
        known = ", ".join(p.name for p in SENSITIVITY)
        raise InputError(f"--params: {name!r} is not a real-valued market parameter; known: {known}, or any market.<field>")
    return Parameter(field_name, key, (key,))


def drivers(sens: pd.DataFrame, top: int = 4) -> pd.DataFrame:
    """Per parameter, the outputs it drives (swing band excludes 0), strongest normalised sensitivity first."""
    rows = []
    for p, g in sens.groupby("parameter", sort=False):
        g = g[g["drives"]].assign(mag=lambda d: d["sensitivity"].abs()).sort_values("mag", ascending=False)
        rows.append({"parameter": p, "drives": ", ".join(f"{o} ({s:+.2f})" for o, s in zip(g["output"][:top], g["sensitivity"][:top]))
                     or "nothing beyond noise"})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# out of sample: CDNOW


@dataclass
class Holdout:
    """CDNOW out-of-sample check: calibrate on weeks 1-39, forecast weeks 40-78, compare."""

    weekly: pd.DataFrame  # week 1..78: actual and forecast cumulative repeat purchases (from week 1)
    holdout: pd.DataFrame  # holdout week 1..39: cumulative repeat purchases since week 39, actual and forecasts
    errors: pd.DataFrame  # per forecast: MAPE over the holdout weeks, error of the week-78 total
    calibration: Any  # research.calibration.Calibration
    replicates: int = 0
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # crmsim forecasts: 95% range over replicates


def crmsim_histories(market: Mapping[str, float], customers: int, periods: int, seed: int,
                     base: str | Path = DEFAULT_SCENARIO) -> np.ndarray:
    """Which of `periods` periods after joining each customer of a fresh crmsim cohort buys in: (customers, periods) bools.

    The customers are drawn by ``init_population`` from `base`'s market with the
    `market` values set, all join one firm together (newcomer state: tenure 0,
    satisfaction_start, a newcomer's loyalty, expectation at the market mean)
    and are stepped by ``step_population`` on neutral settings (price =
    reference, service = mean expectation, no care, advertising or adoption: a
    closed cohort, so a defector is gone for good).
    """
    from crmsim.agents.population import NEW_CUSTOMER_LOYALTY, MarketInputs, init_population, step_population

    overrides = {f"market.{k}": v for k, v in market.items()}
    overrides.update({"market.customers": customers, "market.track_customers": customers, "market.initial_served_share": 1.0,
                      "market.bass_p": 0.0, "market.bass_q": 0.0, "market.advertising_adoption": 0.0})
    m = load_scenario(base, overrides=overrides).market
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    pop = init_population(m, 1, rng)
    n = customers
    pop = replace(pop, supplier=np.zeros(n, dtype=pop.supplier.dtype), tenure=np.zeros(n, dtype=pop.tenure.dtype),
                  satisfaction=np.full(n, m.satisfaction_start, dtype=pop.satisfaction.dtype),
                  loyalty=np.full(n, NEW_CUSTOMER_LOYALTY, dtype=pop.loyalty.dtype),
                  expectation=np.full(n, m.expectation_mean, dtype=pop.expectation.dtype))
    one = np.ones(1)
    inputs = MarketInputs(
        price=one * m.reference_price, quality=one * m.expectation_mean, reputation=one * m.expectation_mean,
        awareness=one * 0.0, wom=one * 0.0, care=one * 0.0, complaint_capacity=one * 1e12, alive=np.ones(1, dtype=bool),
        margin_per_unit=one * 0.0, service_cost=one * 0.0, scandal=one * 0.0, market_price=m.reference_price,
    )
    bought = np.zeros((n, periods), dtype=bool)
    for k in range(periods):
        pop, out = step_population(pop, inputs, m, rng, track=n)
        bought[:, k] = out.panel["bought"]
    return bought


def crmsim_cohort(market: Mapping[str, float], first_day: np.ndarray, horizon_days: float, seed: int,
                  base: str | Path = DEFAULT_SCENARIO) -> np.ndarray:
    """Days (since day 0) of the repeat purchase occasions of a crmsim cohort, one customer per first-purchase day.

    :func:`crmsim_histories` on each customer's own clock: period k covers days
    ((k-1) P, k P] after his first purchase (P = a month); a purchase is placed
    uniformly in its period.
    """
    from crmsim.research.calibration import PERIOD_DAYS

    first_day = np.asarray(first_day, dtype=float)
    periods = int(math.ceil((horizon_days - float(np.min(first_day))) / PERIOD_DAYS))
    bought = crmsim_histories(market, len(first_day), periods, seed, base)
    who, k = np.nonzero(bought)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8,)))
    return first_day[who] + (k + rng.random(who.shape[0])) * PERIOD_DAYS


def _cumulative_by_week(days: np.ndarray, weeks: int, weight: float = 1.0) -> np.ndarray:
    """Cumulative count by the end of each week 1..weeks (week w holds days 7(w-1) <= d < 7w)."""
    counts = np.bincount(np.floor(np.asarray(days) / 7).astype(int).clip(0, weeks), minlength=weeks + 1)[:weeks]
    return np.cumsum(counts) * weight


def cdnow_holdout(replicates: int = 30, base: str | Path = DEFAULT_SCENARIO, weeks: int = 39,
                  mappings: Sequence[str] | None = None) -> Holdout:
    """Calibrate on CDNOW's first 39 weeks, forecast the next 39, compare cumulative repeat purchases week by week.

    Forecasts: the BG/NBD's conditional expectations E[Y(t) | x, t_x, T] (per
    customer, summed); the BG/NBD's unconditional expectation (a tracking
    curve from each customer's first purchase); crmsim's population
    (:func:`crmsim_cohort`) with the [market] parameters of each mapping of
    research.calibration.MAPPINGS, `replicates` draws, each purchase occasion
    counted as the mapping's mean purchases per buying month. Needs lifetimes (the data).
    """
    from crmsim.research.calibration import (CDNOW_CALIBRATION_END, MAPPINGS, bgnbd_conditional_expected, bgnbd_expected, calibrate,
                                      daily, load_cdnow_transactions)

    mappings = MAPPINGS if mappings is None else tuple(mappings)

    tx = load_cdnow_transactions()
    cal = calibrate(tx, unit="week", calibration_end=CDNOW_CALIBRATION_END, pareto=False)
    d = daily(tx)
    day0 = d["date"].min()
    day = (d["date"] - day0).dt.days.to_numpy()
    first_of = d.groupby("customer")["date"].transform("min")
    repeat = (d["date"] > first_of).to_numpy()
    total_weeks = 2 * weeks
    actual = _cumulative_by_week(day[repeat], total_weeks)
    first = (cal.summary["first"] - day0).dt.days.to_numpy().astype(float)
    s = cal.summary
    bg = cal.fits["bgnbd"].params

    w = np.arange(1, total_weeks + 1)
    elapsed = np.maximum((7 * w[:, None] - 1 - first[None, :]) / 7, 0.0)  # weeks since first purchase at the end of week w
    uncond = bgnbd_expected(elapsed, bg).sum(axis=1)
    weekly = pd.DataFrame({"week": w, "actual": actual, "bgnbd": uncond})
    h = np.arange(1, weeks + 1)
    cond = np.array([bgnbd_conditional_expected(t, bg, s["frequency"], s["recency"], s["T"]).sum() for t in h])
    holdout = pd.DataFrame({"week": weeks + h, "actual": actual[weeks:] - actual[weeks - 1],
                            "bgnbd_conditional": cond, "bgnbd": uncond[weeks:] - uncond[weeks - 1]})
    bands = {}
    for mapping in mappings:
        market = cal.markets[mapping]
        name = f"crmsim_{mapping}"
        curves = np.array([_cumulative_by_week(crmsim_cohort(market, first, 7 * total_weeks, r, base), total_weeks,
                                               cal.occasions[mapping]) for r in range(replicates)])
        weekly[name] = curves.mean(axis=0)
        hold = curves[:, weeks:] - curves[:, [weeks - 1]]
        holdout[name] = hold.mean(axis=0)
        bands[name] = (np.percentile(hold, 2.5, axis=0), np.percentile(hold, 97.5, axis=0))
        bands[name + "_weekly"] = (np.percentile(curves, 2.5, axis=0), np.percentile(curves, 97.5, axis=0))
    errors = []
    a = holdout["actual"].to_numpy(dtype=float)
    for col in holdout.columns.drop(["week", "actual"]):
        f = holdout[col].to_numpy(dtype=float)
        ok = a > 0
        tracking = weekly[col].to_numpy(dtype=float) if col in weekly else None
        errors.append({
            "forecast": col,
            "holdout_mape": float(np.mean(np.abs(f[ok] - a[ok]) / a[ok])),
            "holdout_total": float(f[-1]),
            "actual_total": float(a[-1]),
            "total_error": float(f[-1] / a[-1] - 1),
            "tracking_mape_78w": float(np.mean(np.abs(tracking - actual)[actual > 0] / actual[actual > 0])) if tracking is not None else math.nan,
        })
    return Holdout(weekly=weekly, holdout=holdout, errors=pd.DataFrame(errors), calibration=cal, replicates=replicates,
                   bands=bands)


# ---------------------------------------------------------------------------
# the report


PLOT_FILES = {"facts": "validation-facts.png", "sensitivity": "validation-sensitivity.png",
              "holdout": "validation-cdnow-holdout.png"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_facts(table: pd.DataFrame, per_seed: pd.DataFrame, path: str | Path, checks: Sequence[Check] = CHECKS) -> Path:
    """One panel per check: each seed's value, the mean with its 95% band, the target band shaded."""
    n = len(checks)
    cols = 4
    rows = math.ceil(n / cols)
    fig = _figure(3.2 * cols, 1.55 * rows + 0.4)
    by_key = table.set_index("check")
    for i, c in enumerate(checks):
        ax = fig.add_subplot(rows, cols, i + 1)
        r = by_key.loc[c.key]
        vals = per_seed[c.key].to_numpy(dtype=float)
        finite = vals[np.isfinite(vals)]
        pts = [*finite, r["ci_low"], r["ci_high"]]
        lo_t = c.low if math.isfinite(c.low) else np.nanmin(pts)
        hi_t = c.high if math.isfinite(c.high) else np.nanmax(pts)
        span = [np.nanmin([*pts, lo_t]), np.nanmax([*pts, hi_t])]
        pad = 0.15 * (span[1] - span[0] or 1.0)
        ax.axvspan(lo_t if math.isfinite(c.low) else span[0] - pad, hi_t if math.isfinite(c.high) else span[1] + pad,
                   color="tab:green", alpha=0.15)
        ax.scatter(finite, np.zeros_like(finite) + 0.3, s=8, color="grey", alpha=0.7)
        colour = "tab:green" if r["passed"] else "tab:red"
        if np.isfinite(r["ci_low"]):
            ax.errorbar([r["mean"]], [0], xerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]], fmt="o",
                        color=colour, capsize=3)
        else:
            ax.plot([r["mean"]], [0], "o", color=colour)
        ax.set_xlim(span[0] - pad, span[1] + pad)
        ax.set_ylim(-0.6, 0.8)
        ax.set_yticks([])
        ax.set_title(f"{c.key}\n{'pass' if r['passed'] else 'FAIL'}, target {c.target}", fontsize=7.5)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Customer stylised facts: mean and 95% band over {int(table['seeds'].max())} seeds (green: target)", fontsize=10)
    fig.savefig(path)
    return Path(path)


def plot_sensitivity(sens: pd.DataFrame, path: str | Path, factor: float = 0.5) -> Path:
    """Heatmap of normalised sensitivities (parameter x output); weak (within noise) cells hatched out."""
    params = list(dict.fromkeys(sens["parameter"]))
    outputs = list(dict.fromkeys(sens["output"]))
    grid = sens.pivot(index="parameter", columns="output", values="sensitivity").loc[params, outputs].to_numpy(dtype=float)
    drives = sens.pivot(index="parameter", columns="output", values="drives").loc[params, outputs].to_numpy(dtype=bool)
    fig = _figure(1.0 + 0.62 * len(outputs), 1.6 + 0.42 * len(params))
    ax = fig.add_subplot()
    lim = 2.0
    im = ax.imshow(np.clip(np.nan_to_num(grid), -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(params)):
        for j in range(len(outputs)):
            v = grid[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}", ha="center", va="center", fontsize=6.5,
                        color="black" if drives[i, j] else "0.6", fontweight="bold" if drives[i, j] else "normal")
    ax.set_xticks(range(len(outputs)), outputs, rotation=55, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(params)), params, fontsize=8)
    seeds = int(sens.attrs.get("seeds", 0)) or "?"
    ax.set_title(f"Normalised sensitivity (y+ - y-)/|y0| for -/+{factor:.0%} of each parameter "
                 f"({seeds} seeds, bold: band excludes 0; colour clipped at +-{lim:g})", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(path)
    return Path(path)


def plot_holdout(h: Holdout, path: str | Path, weeks: int = 39) -> Path:
    """Left: cumulative repeat purchases over 78 weeks (tracking); right: the holdout, cumulative since week 39."""
    fig = _figure(11, 4.2)
    styles = {"bgnbd": ("BG/NBD (unconditional)", "tab:blue", "--"), "bgnbd_conditional": ("BG/NBD conditional E[Y(t)|x,t_x,T]", "tab:blue", "-"),
              "crmsim_bgnbd": ("crmsim, BG/NBD projected (default)", "tab:orange", "-"),
              "crmsim_bgbb": ("crmsim, BG/BB fitted directly", "tab:green", "-"),
              "crmsim_moments": ("crmsim, BG/NBD moment-matched", "tab:red", ":")}
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(h.weekly["week"], h.weekly["actual"], color="black", lw=2, label="actual")
    for col in h.weekly.columns.drop(["week", "actual"]):
        label, c, ls = styles.get(col, (col, None, "-"))
        ax.plot(h.weekly["week"], h.weekly[col], color=c, ls=ls, label=label)
        if col + "_weekly" in h.bands:
            lo, hi = h.bands[col + "_weekly"]
            ax.fill_between(h.weekly["week"], lo, hi, color=c, alpha=0.15)
    ax.axvline(weeks, color="grey", ls=":", lw=1)
    ax.set_xlabel("week (1997-01-01 = week 1)")
    ax.set_ylabel("cumulative repeat transactions")
    ax.set_title("CDNOW: tracking, calibration weeks 1-39", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    err = h.errors.set_index("forecast")
    ax.plot(h.holdout["week"], h.holdout["actual"], color="black", lw=2, label="actual")
    for col in h.holdout.columns.drop(["week", "actual"]):
        label, c, ls = styles.get(col, (col, None, "-"))
        ax.plot(h.holdout["week"], h.holdout[col], color=c, ls=ls, label=f"{label}: MAPE {err.loc[col, 'holdout_mape']:.1%}")
        if col in h.bands:
            lo, hi = h.bands[col]
            ax.fill_between(h.holdout["week"], lo, hi, color=c, alpha=0.15)
    ax.set_xlabel("week")
    ax.set_ylabel("repeat transactions since week 39")
    ax.set_title("Holdout weeks 40-78: forecast from the 39-week calibration", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return Path(path)


@dataclass
class ValidationReport:
    """What :func:`validation_report` measured, and the files it wrote."""

    scenario: str
    per_seed: pd.DataFrame
    facts: pd.DataFrame
    sensitivity: pd.DataFrame | None
    holdout: Holdout | None
    holdout_note: str = ""
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def markdown(self, images: str = "") -> str:
        """The report as Markdown; `images` is prefixed to the PNG file names."""
        lines = [f"# Validation report: {self.scenario}", "",
                 f"{len(self.per_seed)} seeds on neutral settings; a check passes when the 95% t band of the mean "
                 "across seeds lies inside the target. Generated by `crmsim validate` "
                 f"in {self.seconds:.0f} s.", "", "## Stylised facts (design section 9, customers)", ""]
        lines.append(_md_table(
            ["check", "fact", "target", "mean", "95% CI", "result"],
            [[f"`{r.check}`", r.fact, r.target, _num(r.mean), f"[{_num(r.ci_low)}, {_num(r.ci_high)}]",
              "pass" if r.passed else "**FAIL**"] for r in self.facts.itertuples()]))
        passed = int(self.facts["passed"].sum())
        lines += ["", f"{passed} of {len(self.facts)} checks pass.", "", "What each check measures:", ""]
        lines += [f"- `{r.check}`: {r.measure}" for r in self.facts.itertuples()]
        bg = [c for c in self.per_seed.columns if c.startswith("bgnbd_") and c != "bgnbd_zero_repeat_share"]
        if bg:
            lines += ["", "BG/NBD fitted (in months) to the neutral newcomers' purchase histories, mean over seeds: "
                      + ", ".join(f"{c.removeprefix('bgnbd_')} = {self.per_seed[c].mean():.3g}" for c in bg)
                      + " (per month; CDNOW in months: r = 0.243, alpha = 1.02, a = 0.793, b = 2.43)."]
        lines += ["", f"![facts]({images}{PLOT_FILES['facts']})", ""]
        if self.sensitivity is not None and len(self.sensitivity):
            s = self.sensitivity
            seeds = s.attrs.get("seeds", "?")
            lines += ["## Sensitivity (+-50% of each parameter)", "",
                      f"Each parameter set to 0.5x and 1.5x its value on the same {seeds} seeds. Normalised sensitivity "
                      "(y+ - y-) / |y0| is the relative change of an output per 100% change of the parameter; an output is "
                      "*driven* when the paired 95% band of y+ - y- excludes 0. Outputs near 0 (margins, gaps) inflate it.", ""]
            lines.append(_md_table(["parameter", "values (-50% .. +50%)", "drives (normalised sensitivity)"],
                                   [[f"`{p}`", s[s['parameter'] == p]['values'].iloc[0], d]
                                    for p, d in drivers(s).itertuples(index=False)]))
            lines += ["", f"![sensitivity]({images}{PLOT_FILES['sensitivity']})", ""]
        lines += ["## Out of sample: CDNOW", ""]
        if self.holdout is None:
            lines += [self.holdout_note or "not run", ""]
        else:
            lines += _holdout_markdown(self.holdout, images)
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = [plot_facts(self.facts, self.per_seed, out / PLOT_FILES["facts"])]
        self.facts.to_csv(out / "facts.csv", index=False)
        self.per_seed.to_csv(out / "facts_per_seed.csv", index=False)
        files += [out / "facts.csv", out / "facts_per_seed.csv"]
        if self.sensitivity is not None and len(self.sensitivity):
            files.append(plot_sensitivity(self.sensitivity, out / PLOT_FILES["sensitivity"]))
            self.sensitivity.to_csv(out / "sensitivity.csv", index=False)
            files.append(out / "sensitivity.csv")
        if self.holdout is not None:
            files.append(plot_holdout(self.holdout, out / PLOT_FILES["holdout"]))
            self.holdout.holdout.to_csv(out / "holdout.csv", index=False)
            self.holdout.errors.to_csv(out / "holdout_errors.csv", index=False)
            files += [out / "holdout.csv", out / "holdout_errors.csv"]
        (out / "report.md").write_text(self.markdown(), encoding="utf-8")
        files.append(out / "report.md")
        self.files = files
        return files


def _holdout_markdown(h: Holdout, images: str = "") -> list[str]:
    from crmsim.research.calibration import PUBLISHED

    cal = h.calibration
    rows = []
    for name in ("bgnbd", "gamma_gamma", "bgbb"):
        fit = cal.fits[name]
        pub = PUBLISHED.get(name)
        for r in fit.table(pub).itertuples():
            rows.append([name, r.parameter, f"{r.estimate:.4g}", f"{r.se:.3g}",
                         f"{pub[r.parameter]:g} ({r.rel_diff:+.1%})" if pub and r.parameter in pub else "-"])
    keys = list(cal.markets["bgnbd"].keys())
    lines = [f"Calibration: CDNOW_sample.txt, the {len(cal.summary):,} customers of the 1997-Q1 cohort, weeks 1-39 "
             f"(to {cal.calibration_end.date()}); BG/NBD in weeks, BG/BB in months.", "",
             _md_table(["model", "parameter", "estimate", "s.e.", "published"], rows), "",
             "crmsim [market] parameters from the calibration, by mapping (m: purchases per crmsim purchase occasion):", "",
             _md_table(["mapping", *keys, "m"],
                       [[f"`{k}`", *(f"{mk[c]:.4g}" for c in keys), f"{cal.occasions[k]:.3f}"] for k, mk in cal.markets.items()]), "",
             "Forecast of the holdout (weeks 40-78, no marketing change), cumulative repeat transactions "
             f"(crmsim: mean of {h.replicates} replicates, 95% range shaded in the plot):", "",
             _md_table(["forecast", "holdout MAPE (weekly cumulative)", "week-78 total", "actual", "total error", "tracking MAPE (weeks 1-78)"],
                       [[f"`{r.forecast}`", f"{r.holdout_mape:.1%}", f"{r.holdout_total:,.0f}", f"{r.actual_total:,.0f}",
                         f"{r.total_error:+.1%}", "-" if not np.isfinite(r.tracking_mape_78w) else f"{r.tracking_mape_78w:.1%}"]
                        for r in h.errors.itertuples()]), "",
             f"![holdout]({images}{PLOT_FILES['holdout']})", ""]
    return lines


def _num(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


def validation_report(scenario: str | Path = DEFAULT_SCENARIO, seeds: int = 12, out_dir: str | Path | None = None,
                      sensitivity_seeds: int = 3, params: Sequence[str] | None = None, holdout: bool = True,
                      replicates: int = 30, workers: int = 1, progress: Callable[[str, int, int], None] | None = None) -> ValidationReport:
    """Measure the customer facts over `seeds` seeds, the +-50% sensitivity sweep and the CDNOW out-of-sample check.

    Args:
        scenario: shipped scenario name or TOML path (its market parameters are validated).
        seeds: seeds 0..seeds-1 for the facts.
        out_dir: if given, report.md, CSV tables and PNG plots are written there.
        sensitivity_seeds: seeds per setting of the sweep (0 skips the sweep).
        params: parameters to sweep (default: every one in SENSITIVITY).
        holdout: run the CDNOW check (skipped with a note when lifetimes, which ships the data, is missing).
        replicates: crmsim replicates of the CDNOW cohort.
        workers: processes for the seeds (1: in this process).
        progress: called as progress(stage, done, total).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1; got {seeds}")
    t0 = time.perf_counter()
    load_scenario(scenario)  # a bad scenario fails here, with the loader's message
    stage = (lambda name: (lambda d, n: progress(name, d, n))) if progress else (lambda name: None)
    per_seed = measure_facts(scenario, seeds, workers=workers, progress=stage("facts"))
    facts = fact_table(per_seed)
    sens = None
    if sensitivity_seeds > 0:
        sens = sensitivity(scenario, params, seeds=sensitivity_seeds, baseline=per_seed, workers=workers, progress=stage("sensitivity"))
        sens.attrs["seeds"] = sensitivity_seeds
    hold, note = None, ""
    if holdout:
        try:
            hold = cdnow_holdout(replicates=replicates, base=scenario)
        except ImportError as exc:
            note = f"Skipped: {exc}."
    report = ValidationReport(scenario=str(scenario), per_seed=per_seed, facts=facts, sensitivity=sens, holdout=hold,
                              holdout_note=note, seconds=time.perf_counter() - t0)
    if out_dir is not None:
        report.write(out_dir)
    return report
