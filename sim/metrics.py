"""The firm table: one metrics row per firm per period, with its scorecard and rank (docs/rules.md section 10).

The period pipeline (crmsim.sim.engine) gathers what the period did to each
firm into a :class:`FirmOutcomes` record; :func:`metrics` turns it into rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
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


@dataclass(frozen=True)
class ByFirm:
    """The period's outcomes read for the firm table: every per-firm array as a list of Python floats (the values
    exactly, as ``float(a[i])`` reads them), so that one firm's figure costs a list lookup rather than a numpy
    scalar; each firm's bids and its mean relationship gathered in one pass."""

    outcomes: FirmOutcomes
    customers: SimpleNamespace  # the PopulationOutcome's fields, arrays as lists
    firm: SimpleNamespace  # FirmOutcomes' per-firm arrays as lists (None where not given)
    relationship_mean: list[float]
    bids: dict[int, list[BidRecord]]


def read_by_firm(o: FirmOutcomes) -> ByFirm:
    """The outcomes as :class:`ByFirm` reads them."""
    po = o.customers
    rel = o.relationship
    return ByFirm(
        outcomes=o,
        customers=SimpleNamespace(**{k: _floats(v) for k, v in po.__dict__.items()}),
        firm=SimpleNamespace(**{k: _floats(getattr(o, k)) for k in PER_FIRM}),
        # a C-ordered array's row means, as each row's own .mean() gives them
        relationship_mean=np.ascontiguousarray(rel).mean(axis=1).tolist() if rel.shape[1] else [0.0] * rel.shape[0],
        bids=bids_by_firm(o.bids),
    )


#: FirmOutcomes' arrays over firms
PER_FIRM = ("price", "service_level", "quality", "utilisation", "care", "released", "unit_cost", "care_by_tier", "service_cost")


def _floats(v: Any) -> Any:
    """An array as (nested) lists of Python floats; anything else as it is."""
    if not isinstance(v, np.ndarray):
        return v
    return (v if v.dtype == np.float64 else v.astype(float)).tolist()


def bids_by_firm(bids: list[BidRecord]) -> dict[int, list[BidRecord]]:
    """Each firm's bids, in their order."""
    out: dict[int, list[BidRecord]] = {}
    for b in bids:
        out.setdefault(b.firm, []).append(b)
    return out


def tier_report(o: ByFirm, i: int) -> dict[str, float]:
    """The ABC report of firm i (ABC 分类, the 80/20 lesson): revenue, margin and customers the churn warning
    flags, by tier. Margin = revenue - cost of goods - service cost of the tier's customers - care spent on it."""
    po, fo = o.customers, o.firm
    unit_cost = fo.unit_cost[i] if fo.unit_cost is not None else 0.0
    service_cost = fo.service_cost[i] if fo.service_cost is not None else 0.0
    care = fo.care_by_tier[i] if fo.care_by_tier is not None else (0.0, 0.0, 0.0)
    revenue, units, counts, at_risk = po.revenue_tiers[i], po.units_tiers[i], po.tier_counts[i], po.at_risk_tiers[i]
    out: dict[str, float] = {}
    for k, (revenue_t, margin_t, at_risk_t) in enumerate(TIER_COLUMNS):
        out[revenue_t] = revenue[k]
        out[margin_t] = revenue[k] - units[k] * unit_cost - counts[k] * service_cost - care[k]
        out[at_risk_t] = at_risk[k]
    return out


#: the ABC report's columns, tier by tier
TIER_COLUMNS = tuple((f"revenue_{t}", f"margin_{t}", f"at_risk_{t}") for t in ("a", "b", "c"))


#: the firm table's column counting each void reason's bids
VOID_COLUMNS = {r: f"void_{r.lower()}" for r in VOID_REASONS}


def bid_counts(bids: list[BidRecord]) -> dict[str, int]:
    """A firm's tenders bid, won and voided, and its void bids by reason (each count summed from 0, in bid order)."""
    out = {"tenders_bid": len(bids), "tenders_won": 0, "tenders_voided": 0, **dict.fromkeys(VOID_COLUMNS.values(), 0)}
    for b in bids:
        out["tenders_won"] += b.won
        out["tenders_voided"] += not b.valid
        column = VOID_COLUMNS.get(b.void_reason)
        if column is not None:
            out[column] += 1
    return out


def firm_row(o: ByFirm, f: FirmState, totals: Mapping[str, float]) -> dict[str, Any]:
    """Firm `f`'s row of the firm table."""
    i, t, po, fo = f.index, o.outcomes.period, o.customers, o.firm
    lg = o.outcomes.ledgers[i]
    start = po.customers_start[i]
    end = po.customers_end[i] if f.live else 0.0
    complaints = po.complaints[i]
    lost = po.lost[i]
    row = {
        "period": t,
        "firm": i,
        "name": f.name,
        "bankrupt": f.bankrupt,
        "bankrupt_period": f.bankrupt_period,
        "submitted": o.outcomes.submitted.get(i, False),
        "price": fo.price[i] if f.live or f.bankrupt_period == t else math.nan,
        "service_level": fo.service_level[i],
        "delivered_quality": fo.quality[i],
        "utilisation": fo.utilisation[i] if math.isfinite(fo.utilisation[i]) else math.inf,
        "sales_staff": f.sales_staff,
        "service_staff": f.service_staff,
        "cash": f.cash,
        "debt": f.debt,
        "emergency_debt": f.emergency_debt,
        "equity": f.equity,
        **lg.flows(),
        "cash_start": lg.cash_start,
        "cum_operating_profit": f.cum_operating_profit,
        "customers_start": start,
        "customers": end,
        "customers_released": fo.released[i],
        "acquired": po.acquired[i],
        "lost": lost,
        "acquisition_rate": po.acquired[i] / totals["acquired"],
        "retention_rate": 1.0 - lost / start if start > 0 else math.nan,
        "churn_rate": lost / start if start > 0 else math.nan,
        "avg_satisfaction": po.satisfaction_sum[i] / end if end > 0 else math.nan,
        "avg_loyalty": po.loyalty_sum[i] / end if end > 0 else math.nan,
        "care_intensity": fo.care[i],
        "complaints": complaints,
        "resolved_quickly": po.resolved_quickly[i],
        "resolved": po.resolved[i],
        "unresolved": po.unresolved[i],
        "silent_dissatisfied": po.silent[i],
        "resolution_rate": (po.resolved_quickly[i] + po.resolved[i]) / complaints if complaints else math.nan,
        "units_sold": po.units_sold[i],
        "buyers": po.buyers[i],
        "share_of_wallet": min(1.0, po.units_sold[i] / po.wallet[i]) if po.wallet[i] > 0 else math.nan,
        "market_share_customers": end / totals["customers"],
        "market_share_revenue": lg.revenue / totals["revenue"],
        "customer_equity": po.customer_equity[i] if f.live else 0.0,
        "tier_a": po.tier_counts[i][0],
        "tier_b": po.tier_counts[i][1],
        "tier_c": po.tier_counts[i][2],
        **tier_report(o, i),
        "promoters": po.promoters[i],
        "detractors": po.detractors[i],
        "reputation": f.reputation,
        "awareness": f.awareness,
        "relationship_mean": o.relationship_mean[i],
        **bid_counts(o.bids.get(i, [])),
    }
    if f.bankrupt:  # a bankrupt firm's customer rates are 0, not undefined
        for key in ("retention_rate", "churn_rate", "avg_satisfaction", "avg_loyalty"):
            if math.isnan(row[key]):
                row[key] = 0.0
    return row
