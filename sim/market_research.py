"""Market research (市场调研), the tender calendar (招标预告) and the tender forecast.

- The **tender calendar** is public: at the start of a period every firm sees next period's scheduled
  tenders (client, approximate volume, open or invited), one period ahead of their opening.
- **Research** is bought in a decision (:class:`crmsim.sim.decisions.ResearchOrder`) for the fees the scenario sets
  (``[research]``) and reported privately to the buyer with the period's results:

  - ``rivals``: for each named client, every rival's relationship band with it (weak, medium, strong),
    from the lifecycle stage (or, in spend mode, the relationship score);
  - ``survey``: a satisfaction and loyalty survey of the firm's own customers by ABC tier; the sample
    is drawn at random, so its means carry sampling noise that shrinks with the sample size (the report
    gives a 95% interval for each mean);
  - ``forecast``: the scheduled tenders of the next ``forecast_horizon`` periods with their terms.

Surveys draw on a stream of their own (``research_rng``), never on the engine's, so buying one changes
nothing else in the game.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crmsim.scenarios.schema import Client, Research, Scenario
from crmsim.sim.decisions import ResearchOrder
from crmsim.sim.tenders import scheduled_clients

TIER_NAMES = ("A", "B", "C")


def research_fee(order: ResearchOrder, settings: Research) -> float:
    """What an order costs: rivals_fee per client, survey_fee plus a fee per response, forecast_fee."""
    fee = settings.rivals_fee * len(order.rivals)
    if order.survey:
        fee += settings.survey_fee + settings.survey_fee_per_response * order.survey
    if order.forecast:
        fee += settings.forecast_fee
    return float(fee)


def _announcement(c: Client, period: int) -> dict[str, Any]:
    return {
        "period": period,
        "client": c.id,
        "name_en": c.name.en,
        "name_zh": c.name.zh,
        "volume_low": round(c.volume * (1 - c.volume_spread)),
        "volume_high": round(c.volume * (1 + c.volume_spread)),
        "closed": c.closed,
        "award": c.award,
    }


def tender_calendar(scenario: Scenario, period: int) -> list[dict[str, Any]]:
    """The public calendar seen at the start of `period`: the tenders scheduled to open next period.

    Tenders open in period p close when p resolves; a tender must be delivered the period after its award,
    so nothing is scheduled for the last period. Re-issues of tenders failing this period come on top.
    """
    nxt = period + 1
    if nxt >= scenario.periods:
        return []
    return [_announcement(c, nxt) for c in scheduled_clients(scenario, nxt)]


def tender_forecast(scenario: Scenario, period: int, horizon: int) -> list[dict[str, Any]]:
    """The research forecast: every tender scheduled in periods period+1 .. period+horizon, with its terms."""
    out = []
    for p in range(period + 1, min(period + horizon, scenario.periods - 1) + 1):
        for c in scheduled_clients(scenario, p):
            out.append({
                **_announcement(c, p),
                "price_cap": c.price_cap,
                "required_service": c.required_service,
                "min_valid_bids": c.min_valid_bids or scenario.tenders.min_valid_bids,
                "weights": {"price": c.weights.price, "service": c.weights.service, "relationship": c.weights.relationship},
            })
    return out


def rival_bands(strength: np.ndarray, firm: int, clients: Sequence[str], client_ids: Sequence[str], names: Sequence[str],
                live: Sequence[bool], band_of) -> dict[str, list[dict[str, Any]]]:
    """For each client asked about, each live rival's band (`band_of` maps a stage or score to a band)."""
    pos = {c: k for k, c in enumerate(client_ids)}
    out = {}
    for c in clients:
        k = pos[c]
        out[c] = [{"firm": j, "name": names[j], "band": band_of(strength[j, k])}
                  for j in range(strength.shape[0]) if j != firm and live[j]]
    return out


def score_band(settings: Research):
    """Spend mode: a relationship score's band by the scenario's thresholds."""
    def band(r: float) -> str:
        return "strong" if r >= settings.strong_from else "medium" if r >= settings.medium_from else "weak"
    return band


@dataclass(frozen=True)
class SurveyTier:
    """One tier's survey result: means with 95% intervals from the sample."""

    tier: str
    customers: int  # the firm's customers in the tier (known from its own books)
    sampled: int
    satisfaction: float
    satisfaction_ci: float  # half-width of the 95% interval
    loyalty: float
    loyalty_ci: float


@dataclass(frozen=True)
class SurveyResult:
    sample: int
    tiers: list[SurveyTier] = field(default_factory=list)


def survey(supplier: np.ndarray, satisfaction: np.ndarray, loyalty: np.ndarray, tier: np.ndarray, firm: int, n: int,
           rng: np.random.Generator) -> SurveyResult:
    """Survey n of the firm's customers drawn at random (without replacement), reported by ABC tier."""
    own = np.flatnonzero(np.asarray(supplier) == firm)
    k = min(int(n), own.size)
    picked = np.sort(rng.choice(own, size=k, replace=False)) if k else own[:0]
    sat = np.asarray(satisfaction)[picked].astype(float)
    loy = np.asarray(loyalty)[picked].astype(float)
    tiers_all = np.asarray(tier)
    tiers = tiers_all[picked]
    out = []
    for t, name in enumerate(TIER_NAMES):
        m = tiers == t
        c = int(m.sum())
        s, lo = sat[m], loy[m]
        out.append(SurveyTier(
            tier=name,
            customers=int((tiers_all[own] == t).sum()),
            sampled=c,
            satisfaction=float(s.mean()) if c else float("nan"),
            satisfaction_ci=float(1.96 * s.std(ddof=1) / np.sqrt(c)) if c > 1 else float("nan"),
            loyalty=float(lo.mean()) if c else float("nan"),
            loyalty_ci=float(1.96 * lo.std(ddof=1) / np.sqrt(c)) if c > 1 else float("nan"),
        ))
    return SurveyResult(sample=k, tiers=out)
