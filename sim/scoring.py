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

import math
from collections.abc import Sequence

import numpy as np

from crmsim.scenarios.schema import Scenario, Scoring

COMPONENTS = {
    "financial": ("equity", "cum_operating_profit"),
    "customer": ("avg_satisfaction", "retention_rate", "market_share_customers"),
    "relationship": ("relationship_mean",),
    "growth": ("customer_equity",),
}


def min_max_points(values: list[float], live: list[bool]) -> list[float]:
    """Min-max points (0-100) over the live firms, as plain floats; dead firms get 0, all live firms 100 when equal."""
    v = [x for x, ok in zip(values, live) if ok]
    if not v:
        return [0.0] * len(values)
    if any(x != x or (x == 0.0 and math.copysign(1.0, x) < 0) for x in v):  # a NaN or -0.0: the extremes numpy picks
        lo, hi = float(np.min(v)), float(np.max(v))
    else:
        lo, hi = min(v), max(v)
    if hi - lo <= 1e-12:
        return [100.0 if ok else 0.0 for ok in live]
    return [100.0 * (x - lo) / (hi - lo) if ok else 0.0 for x, ok in zip(values, live)]


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
    market = [metric for metric, m in scenario.scoring.metrics.items() if m.reference == "market"]
    # the live firms' mean of each "market" metric: the rows of one C-ordered array, each mean as np.mean gives it
    means = np.array([[float(r[k]) for r in live] for k in market]).mean(axis=1).tolist() if live and market else [0.0] * len(market)
    market_mean = dict(zip(market, means))
    out = {}
    for metric, m in scenario.scoring.metrics.items():
        if m.reference == "start":
            ref = start_value(metric, scenario)
        elif m.reference == "market":
            ref = market_mean[metric]
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
    if weights.method == "reference" and references is None:
        raise ValueError("scorecard: method 'reference' needs the metrics' references")
    live = [not r["bankrupt"] for r in rows]
    comps = {comp: component_scores([metric_points(rows, m, live, weights, references) for m in metrics])
             for comp, metrics in COMPONENTS.items()}
    weighted = [(getattr(weights, c), comps[c]) for c in COMPONENTS]
    out = []
    for i, scores in enumerate(zip(*comps.values())):
        total = 0  # the weighted sum, added in COMPONENTS order from 0 as sum() adds
        for w, comp in weighted:
            total = total + w * comp[i]
        out.append({**dict(zip(SCORE_COLUMNS, scores)), "score": float(total)})
    return out


#: each component's score column
SCORE_COLUMNS = tuple(f"score_{c}" for c in COMPONENTS)


def metric_points(rows: Sequence[dict], metric: str, live: list[bool], weights: Scoring,
                  references: dict[str, tuple[float, float]] | None) -> list[float]:
    """Each firm's points (0-100) on one metric, by the scenario's scoring method; 0 for a bankrupt firm."""
    if weights.method == "reference":
        reference, span = references[metric]
        return [reference_points(float(r[metric]), reference, span) if ok else 0.0 for r, ok in zip(rows, live)]
    return min_max_points([float(r[metric]) for r in rows], live)


def component_scores(points: list[list[float]]) -> list[float]:
    """Each firm's component score: the mean of its metrics' points (added in order, as ``np.mean(axis=0)`` does)."""
    out = []
    for i in range(len(points[0])):
        total = points[0][i]
        for p in points[1:]:
            total = total + p[i]
        out.append(total / len(points))
    return out


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
