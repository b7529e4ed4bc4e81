"""What one firm sees at the start of a period: its own books, the public market report, open tenders.

Bots, the web app's team pages and the research environments all read this
view; none of them sees a rival's private books or bids before an award.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmsim.scenarios.schema import Event, Scenario
from crmsim.sim.state import FirmState, GameState, Tender

PUBLIC_FIRM_FIELDS = (
    "firm",
    "name",
    "bankrupt",
    "price",
    "service_level",
    "customers",
    "market_share_customers",
    "market_share_revenue",
    "avg_satisfaction",
    "revenue",
    "operating_profit",
    "tenders_won",
    "score",
    "rank",
)


@dataclass(frozen=True)
class Observation:
    """One firm's view of the game before it decides."""

    period: int
    periods: int
    firm: FirmState
    scenario: Scenario
    tenders: tuple[Tender, ...]
    relationship: dict[str, float]  # own relationship with each client
    client_satisfaction: dict[str, float]
    rivals_relationship_max: dict[str, float]  # strongest rival hold on each client (public: who won what)
    customers: float
    own_last: dict[str, Any] | None  # own full metrics row last period
    market: list[dict[str, Any]] = field(default_factory=list)  # public rows of every firm last period
    last_bids: list[dict[str, Any]] = field(default_factory=list)  # every bid of last period, published after the award
    history: list[dict[str, Any]] = field(default_factory=list)  # own rows, all past periods
    news: tuple[Event, ...] = ()  # scheduled events that start this period, announced before decisions

    @property
    def live_rivals(self) -> int:
        return sum(1 for r in self.market if not r["bankrupt"] and r["firm"] != self.firm.index) if self.market else self.scenario.firms.count - 1


@dataclass(frozen=True)
class PublicReport:
    """The part of an observation every firm shares: last period's public rows and published bids, the news."""

    market: list[dict[str, Any]]
    last_bids: list[dict[str, Any]]
    news: tuple[Event, ...]


def public_report(state: GameState, results: list | None = None) -> PublicReport:
    """What is published to every firm at the start of the period (build it once, pass it to each :func:`observe`)."""
    last = results[-1] if results else None
    return PublicReport(
        market=[{k: r[k] for k in PUBLIC_FIRM_FIELDS} for r in last.firm_rows] if last else [],
        last_bids=last.bid_rows() if last else [],
        news=news(state),
    )


def observe(state: GameState, firm: int, results: list | None = None, public: PublicReport | None = None) -> Observation:
    """Build firm `firm`'s observation from the state and past PeriodResults.

    `public` is the period's :func:`public_report`, when the caller already built it for another firm.
    """
    results = results or []
    last = results[-1] if results else None
    public = public or public_report(state, results)
    f = state.firms[firm]
    ids = state.scenario.client_ids
    rel = state.relationship
    rivals = [j for j in range(len(state.firms)) if j != firm]
    sup = state.population.supplier
    customers = float((sup == firm).sum())
    own = rel[firm].tolist()
    satisfaction = state.client_satisfaction[firm].tolist()
    rivals_max = rel[rivals].max(axis=0).tolist() if rivals else [0.0] * len(ids)
    return Observation(
        period=state.period,
        periods=state.scenario.periods,
        firm=f,
        scenario=state.scenario,
        tenders=state.tenders,
        relationship=dict(zip(ids, own)),
        client_satisfaction=dict(zip(ids, satisfaction)),
        rivals_relationship_max=dict(zip(ids, rivals_max)),
        customers=customers,
        own_last=last.firm_rows[firm] if last else None,
        market=public.market,
        last_bids=public.last_bids,
        history=[r.firm_rows[firm] for r in results],
        news=public.news,
    )


def news(state: GameState) -> tuple[Event, ...]:
    """Market news published when a period opens: the scheduled events starting in it."""
    return tuple(e for e in state.scenario.events if e.period == state.period)
