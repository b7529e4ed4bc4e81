"""Out of sample: calibrate on CDNOW's first 39 weeks, forecast the next 39 and compare with what happened.

:func:`cdnow_holdout` calibrates on CDNOW's first 39 weeks
(research.calibration), forecasts the next 39 weeks with no marketing change
(BG/NBD conditional expectations, and crmsim's own population drawn from the
calibrated parameters and stepped by ``step_population``, :func:`crmsim_cohort`),
and compares week-by-week cumulative repeat purchases with the real ones.
It needs lifetimes, which ships the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmsim.research.experiments import DEFAULT_SCENARIO
from crmsim.scenarios import load_scenario
from crmsim.sim.streams import COHORT_STREAM, PURCHASE_DAY_STREAM, stream_rng


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
    from crmsim.agents.population import MarketInputs, init_population, join_firm, step_population

    overrides = {f"market.{k}": v for k, v in market.items()}
    overrides.update({"market.customers": customers, "market.track_customers": customers, "market.initial_served_share": 1.0,
                      "market.bass_p": 0.0, "market.bass_q": 0.0, "market.advertising_adoption": 0.0})
    m = load_scenario(base, overrides=overrides).market
    rng = stream_rng(seed, COHORT_STREAM)
    pop = init_population(m, 1, rng)
    n = customers
    pop = replace(join_firm(pop, 0, m), expectation=np.full(n, m.expectation_mean, dtype=pop.expectation.dtype))
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
    rng = stream_rng(seed, PURCHASE_DAY_STREAM)
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

    tx = load_cdnow_transactions()
    cal = calibrate(tx, unit="week", calibration_end=CDNOW_CALIBRATION_END, pareto=False)
    mappings = tuple(m for m in MAPPINGS if m in cal.markets) if mappings is None else tuple(mappings)  # default: those the log gives
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

