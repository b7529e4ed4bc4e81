"""The balanced scorecard: financial, customer, relationship and growth, weighted by the scenario.

Each component is the mean of its metrics' points (0-100). How a metric becomes points is the
scenario's ``scoring.method``:

- ``"reference"`` (classroom-v2): points = clip(50 + 50 x (value - reference) / span, 0, 100), the
  reference being the firm's starting position, the live firms' mean, or a fixed number
  (:class:`~crmsim.scenarios.schema.MetricScale`); the worst live firm does not score 0 by construction,
  and :func:`metric_references` publishes every reference and span so a student can recompute a score.
- ``"minmax"`` (v1): scaled across the live firms (worst 0, best 100; all equal gives 100).

Bankrupt firms score 0 and rank below every live firm (later bankruptcies above earlier ones).
Operating results and customer equity are scored, not cash alone, so firing
everyone in the last period does not pay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crmsim.scenarios.schema import Scenario, Scoring

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


def start_value(metric: str, scenario: Scenario) -> float:
    """A metric's value for every firm at the start of the game (the reference "start")."""
    fs = scenario.firms
    if metric == "equity":
        return float(fs.cash - fs.debt)
    if metric == "cum_operating_profit":
        return 0.0
    if metric == "avg_satisfaction":
        return float(scenario.market.satisfaction_start)
    if metric == "market_share_customers":
        return 1.0 / fs.count
    if metric == "relationship_mean":
        return float(scenario.cultivation.stage_relationship[0] if scenario.cultivation.mode == "lifecycle" else fs.relationship)
    raise ValueError(f"{metric} has no starting value")


def metric_references(rows: Sequence[dict], scenario: Scenario) -> dict[str, tuple[float, float]]:
    """The (reference, span) of every scorecard metric this period, as published with the scores."""
    live = [r for r in rows if not r["bankrupt"]]
    out = {}
    for metric, m in scenario.scoring.metrics.items():
        if m.reference == "start":
            ref = start_value(metric, scenario)
        elif m.reference == "market":
            ref = float(np.mean([float(r[metric]) for r in live])) if live else 0.0
        else:
            ref = m.value
        span = max(m.span * abs(ref), m.span * 1e-9) if m.relative else m.span
        out[metric] = (ref, span)
    return out


def reference_points(value: float, reference: float, span: float) -> float:
    """A metric's points: 50 at the reference, 0 and 100 one span below and above it."""
    return min(max(50.0 + 50.0 * (value - reference) / span, 0.0), 100.0)  # np.clip's result, without its overhead


def scorecard(rows: Sequence[dict], weights: Scoring, references: dict[str, tuple[float, float]] | None = None) -> list[dict[str, float]]:
    """Component scores and weighted total for each firm row (same order).

    `references` (from :func:`metric_references`) are required when ``weights.method == "reference"``.
    """
    live = np.array([not r["bankrupt"] for r in rows])
    comps = {}
    for comp, metrics in COMPONENTS.items():
        if weights.method == "reference":
            if references is None:
                raise ValueError("scorecard: method 'reference' needs the metrics' references")
            scaled = [np.array([reference_points(float(r[m]), *references[m]) if ok else 0.0 for r, ok in zip(rows, live)])
                      for m in metrics]
        else:
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
