"""The balanced scorecard: financial, customer, relationship and growth, weighted by the scenario.

Each component is the mean of its metrics, each scaled 0-100 across the live
firms (worst 0, best 100; all equal gives 100). Bankrupt firms score 0 and
rank below every live firm (later bankruptcies above earlier ones).
Operating results and customer equity are scored, not cash alone, so firing
everyone in the last period does not pay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crmsim.scenarios.schema import Scoring

COMPONENTS = {
    "financial": ("equity", "cum_operating_profit"),
    "customer": ("avg_satisfaction", "retention_rate", "market_share_customers"),
    "relationship": ("relationship_mean",),
    "growth": ("customer_equity",),
}


def scale_0_100(values: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Min-max scale over live firms; dead firms get 0."""
    out = np.zeros(len(values))
    if not live.any():
        return out
    v = values[live]
    lo, hi = v.min(), v.max()
    out[live] = 100.0 if hi - lo <= 1e-12 else 100.0 * (v - lo) / (hi - lo)
    return out


def scorecard(rows: Sequence[dict], weights: Scoring) -> list[dict[str, float]]:
    """Component scores and weighted total for each firm row (same order)."""
    live = np.array([not r["bankrupt"] for r in rows])
    comps = {}
    for comp, metrics in COMPONENTS.items():
        scaled = [scale_0_100(np.array([float(r[m]) for r in rows]), live) for m in metrics]
        comps[comp] = np.mean(scaled, axis=0)
    total = sum(getattr(weights, c) * comps[c] for c in COMPONENTS)
    return [
        {**{f"score_{c}": float(comps[c][i]) for c in COMPONENTS}, "score": float(total[i])}
        for i in range(len(rows))
    ]


def rank_firms(rows: Sequence[dict]) -> list[int]:
    """1-based ranks: live firms by score (ties by index), then bankrupt firms by later bankruptcy."""
    def key(i: int) -> tuple:
        r = rows[i]
        if r["bankrupt"]:
            return (1, -(r.get("bankrupt_period") or 0), -r["score"], i)
        return (0, -round(r["score"], 9), 0, i)

    order = sorted(range(len(rows)), key=key)
    ranks = [0] * len(rows)
    for pos, i in enumerate(order):
        ranks[i] = pos + 1
    return ranks
