"""Shared helpers of the model-validity experiments: neutral games, their customer panels and the band across seeds.

research.facts measures the customer stylised facts on these games and
research.sensitivity re-measures them with a parameter moved; both summarise
seeds with :func:`band` (the mean and its 95% t band).

"Neutral settings": every firm's service level equals the customers' mean
expectation, its price equals the reference price, care and advertising are
zero and service staff are ample (utilisation far below the knee), so the
defection hazard reduces to each customer's own base dropout rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Scenario
from crmsim.sim.decisions import Decision
from crmsim.sim.engine import PeriodResult, initial_state, period_rng, resolve_period
from crmsim.sim.state import GameState

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
