"""The firm table: one metrics row per firm per period, with its scorecard and rank (docs/rules.md section 10).

The period pipeline (crmsim.sim.engine) gathers what the period did to each
firm into a :class:`FirmOutcomes` record; :func:`metrics` turns it into rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from crmsim.agents.population import PopulationOutcome
from crmsim.scenarios.schema import Scenario
from crmsim.sim.accounts import Ledger
from crmsim.sim.scoring import metric_references, rank_firms, scorecard
from crmsim.sim.state import FirmState
from crmsim.sim.tenders import VOID_REASONS, BidRecord


@dataclass(frozen=True)
class FirmOutcomes:
    """What the period did to each firm: the inputs of the firm table (docs/rules.md section 10)."""

    period: int
    firms: tuple[FirmState, ...]  # after the period
    submitted: Mapping[int, bool]
    ledgers: Mapping[int, Ledger]
    customers: PopulationOutcome  # numpy arrays
    relationship: np.ndarray  # firms x clients, after the period
    bids: list[BidRecord]  # every bid of the period, void ones on tenders not open included
    price: np.ndarray
    service_level: np.ndarray
    quality: np.ndarray
    utilisation: np.ndarray
    care: np.ndarray
    released: np.ndarray
    # for the ABC report (revenue, cost and margin by tier); zeros when not given
    unit_cost: np.ndarray | None = None
    care_by_tier: np.ndarray | None = None  # firms x 3: the care budget spent on each tier
    service_cost: np.ndarray | None = field(default=None)  # per customer served this period


def metrics(o: FirmOutcomes, scenario: Scenario) -> tuple[list[dict[str, Any]], dict[str, tuple[float, float]]]:
    """The firm table: one row per firm with its scorecard and rank (docs/rules.md sections 10 and 11),
    and the (reference, span) of each scorecard metric when the scenario scores against references."""
    rows = firm_rows(o)
    references = metric_references(rows, scenario) if scenario.scoring.method == "reference" else {}
    for row, s in zip(rows, scorecard(rows, scenario.scoring, references)):
        row.update(s)
    for row, rank in zip(rows, rank_firms(rows)):
        row["rank"] = rank
    return rows, references


def firm_rows(o: FirmOutcomes) -> list[dict[str, Any]]:
    """One metrics row per firm, before the scorecard; scorecard inputs are finite for live firms."""
    po = o.customers
    totals = {
        "customers": max(float(po.customers_end.sum() - o.released.sum()), 1.0),
        "revenue": max(sum(o.ledgers[i].revenue for i in o.ledgers), 1e-9),
        "acquired": max(float(po.acquired.sum()), 1.0),
    }
    listed = read_by_firm(o)
    rows = [firm_row(listed, f, totals) for f in o.firms]
    for r in rows:
        for key in ("avg_satisfaction", "retention_rate"):
            if math.isnan(r[key]):
                r[key] = 0.0
    return rows


def read_by_firm(o: FirmOutcomes) -> FirmOutcomes:
    """The outcomes with each per-firm array as a Python list (its values exactly), so that reading one
    firm's figures (:func:`firm_row`) costs a list lookup rather than a numpy scalar each."""
    po = o.customers
    lists = {f.name: v.tolist() if isinstance(v, np.ndarray) else v for f in fields(po) for v in [getattr(po, f.name)]}
    return replace(
        o,
        customers=replace(po, **lists),
        **{k: getattr(o, k).tolist() for k in ("price", "service_level", "quality", "utilisation", "care", "released",
                                               "unit_cost", "care_by_tier", "service_cost") if getattr(o, k) is not None},
    )


def tier_report(o: FirmOutcomes, i: int) -> dict[str, float]:
    """The ABC report of firm i (ABC 分类, the 80/20 lesson): revenue, margin and customers the churn warning
    flags, by tier. Margin = revenue - cost of goods - service cost of the tier's customers - care spent on it."""
    po = o.customers
    out: dict[str, float] = {}
    for k, t in enumerate(("a", "b", "c")):
        revenue = float(po.revenue_tiers[i][k])
        cogs = float(po.units_tiers[i][k]) * (float(o.unit_cost[i]) if o.unit_cost is not None else 0.0)
        service = float(po.tier_counts[i][k]) * (float(o.service_cost[i]) if o.service_cost is not None else 0.0)
        care = float(o.care_by_tier[i][k]) if o.care_by_tier is not None else 0.0
        out[f"revenue_{t}"] = revenue
        out[f"margin_{t}"] = revenue - cogs - service - care
        out[f"at_risk_{t}"] = float(po.at_risk_tiers[i][k])
    return out


def firm_row(o: FirmOutcomes, f: FirmState, totals: Mapping[str, float]) -> dict[str, Any]:
    """Firm `f`'s row of the firm table."""
    i, t, po = f.index, o.period, o.customers
    lg = o.ledgers[i]
    start = float(po.customers_start[i])
    end = float(po.customers_end[i]) if f.live else 0.0
    complaints = float(po.complaints[i])
    bids = [b for b in o.bids if b.firm == i]
    voids = Counter(b.void_reason for b in bids)
    row = {
        "period": t,
        "firm": i,
        "name": f.name,
        "bankrupt": f.bankrupt,
        "bankrupt_period": f.bankrupt_period,
        "submitted": o.submitted.get(i, False),
        "price": float(o.price[i]) if f.live or f.bankrupt_period == t else math.nan,
        "service_level": float(o.service_level[i]),
        "delivered_quality": float(o.quality[i]),
        "utilisation": float(o.utilisation[i]) if math.isfinite(o.utilisation[i]) else math.inf,
        "sales_staff": f.sales_staff,
        "service_staff": f.service_staff,
        "cash": f.cash,
        "debt": f.debt,
        "emergency_debt": f.emergency_debt,
        "equity": f.equity,
        **{k: v for k, v in lg.to_dict().items() if k not in ("cash_start", "cash_end")},
        "cash_start": lg.cash_start,
        "cum_operating_profit": f.cum_operating_profit,
        "customers_start": start,
        "customers": end,
        "customers_released": float(o.released[i]),
        "acquired": float(po.acquired[i]),
        "lost": float(po.lost[i]),
        "acquisition_rate": float(po.acquired[i]) / totals["acquired"],
        "retention_rate": 1.0 - float(po.lost[i]) / start if start > 0 else math.nan,
        "churn_rate": float(po.lost[i]) / start if start > 0 else math.nan,
        "avg_satisfaction": float(po.satisfaction_sum[i]) / end if end > 0 else math.nan,
        "avg_loyalty": float(po.loyalty_sum[i]) / end if end > 0 else math.nan,
        "care_intensity": float(o.care[i]),
        "complaints": complaints,
        "resolved_quickly": float(po.resolved_quickly[i]),
        "resolved": float(po.resolved[i]),
        "unresolved": float(po.unresolved[i]),
        "silent_dissatisfied": float(po.silent[i]),
        "resolution_rate": (float(po.resolved_quickly[i]) + float(po.resolved[i])) / complaints if complaints else math.nan,
        "units_sold": float(po.units_sold[i]),
        "buyers": float(po.buyers[i]),
        "share_of_wallet": min(1.0, float(po.units_sold[i]) / float(po.wallet[i])) if po.wallet[i] > 0 else math.nan,
        "market_share_customers": end / totals["customers"],
        "market_share_revenue": lg.revenue / totals["revenue"],
        "customer_equity": float(po.customer_equity[i]) if f.live else 0.0,
        "tier_a": float(po.tier_counts[i][0]),
        "tier_b": float(po.tier_counts[i][1]),
        "tier_c": float(po.tier_counts[i][2]),
        **tier_report(o, i),
        "promoters": float(po.promoters[i]),
        "detractors": float(po.detractors[i]),
        "reputation": f.reputation,
        "awareness": f.awareness,
        "relationship_mean": float(o.relationship[i].mean()) if o.relationship.shape[1] else 0.0,
        "tenders_bid": len(bids),
        "tenders_won": sum(b.won for b in bids),
        "tenders_voided": sum(not b.valid for b in bids),
        **{f"void_{r.lower()}": voids.get(r, 0) for r in VOID_REASONS},
    }
    if f.bankrupt:  # a bankrupt firm's customer rates are 0, not undefined
        for key in ("retention_rate", "churn_rate", "avg_satisfaction", "avg_loyalty"):
            if math.isnan(row[key]):
                row[key] = 0.0
    return row
