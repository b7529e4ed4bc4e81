"""What one firm sees at the start of a period: its own books and limits, the public market report, open tenders.

Bots, the web app's team pages and the research environments all read this
view; none of them sees a rival's private books or bids before an award.
What is public is declared once here (docs/rules.md section 10.1):
``PUBLIC_FIRM_FIELDS`` of every firm's row are published after each period;
``BOOKS_FIELDS`` (cash, debt, equity) are private to the firm until the game
is over, when the debrief may show everything (:func:`public_fields`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from crmsim.scenarios import per_scenario
from crmsim.scenarios.schema import STAGES, Event, Scenario
from crmsim.sim.decisions import ClientId, DecisionContext, frozen_record
from crmsim.sim.events import announced_events
from crmsim.sim.market_research import tender_calendar
from crmsim.sim.state import FirmState, GameState, Tender
from crmsim.sim.tenders import relationship_shown

ShownAwards = dict[ClientId, list[list[tuple[int, float]]]]  # per client, newest award first: (firm, R) of each valid bid

# A firm row's columns that every firm (and the public scoreboard) sees after each period.
PUBLIC_FIRM_FIELDS = (
    "period",
    "firm",
    "name",
    "bankrupt",
    "bankrupt_period",
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
    "score_financial",
    "score_customer",
    "score_relationship",
    "score_growth",
    "rank",
)
# A firm's books: private to the firm during the game, published when the game is over.
BOOKS_FIELDS = ("cash", "debt", "emergency_debt", "equity")
CONTEXT_FIELDS = tuple(f.name for f in fields(DecisionContext))


def public_fields(game_over: bool = False) -> tuple[str, ...]:
    """The columns of a firm row anyone may see: the public fields, and the books once the game is over."""
    return PUBLIC_FIRM_FIELDS + BOOKS_FIELDS if game_over else PUBLIC_FIRM_FIELDS


def public_row(row: Mapping[str, Any], game_over: bool = False) -> dict[str, Any]:
    """A firm row cut to what anyone may see (:func:`public_fields`); a column the row lacks reads None."""
    keys = public_fields(game_over)
    return dict(zip(keys, map(row.get, keys)))


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
    rivals_relationship_max: dict[str, float]  # strongest rival hold on each client: exact when cultivating by spend;
    # with lifecycle cultivation only what rivals' published bid scores showed (buy research for the rest)
    customers: float
    own_last: dict[str, Any] | None  # own full metrics row last period
    limits: DecisionContext  # what validation allows the firm now (bid limit, borrowing room, ...)
    market: list[dict[str, Any]] = field(default_factory=list)  # public rows of every firm last period
    last_bids: list[dict[str, Any]] = field(default_factory=list)  # every bid of last period, published after the award
    history: list[dict[str, Any]] = field(default_factory=list)  # own rows, all past periods
    news: tuple[Event, ...] = ()  # scheduled events announced now (ahead of their start, or as they start)
    calendar: list[dict[str, Any]] = field(default_factory=list)  # next period's scheduled tenders (招标预告), public
    stage: dict[str, str] = field(default_factory=dict)  # lifecycle cultivation: own stage with each client
    progress: dict[str, float] = field(default_factory=dict)  # lifecycle: own progress toward each client's next stage
    idle: dict[str, int] = field(default_factory=dict)  # lifecycle: periods since own last contact with each client
    research: dict[str, Any] | None = None  # own market research bought last period (private)

    @property
    def live_rivals(self) -> int:
        return sum(1 for r in self.market if not r["bankrupt"] and r["firm"] != self.firm.index) if self.market else self.scenario.firms.count - 1


@dataclass(frozen=True)
class PublicReport:
    """The part of an observation every firm shares: last period's public rows and published bids, the news,
    the tender calendar."""

    market: list[dict[str, Any]]
    last_bids: list[dict[str, Any]]
    news: tuple[Event, ...]
    calendar: list[dict[str, Any]]
    shown: ShownAwards | None = None  # lifecycle cultivation: what published bid scores showed (:func:`shown_awards`)


@dataclass(frozen=True)
class _ScenarioLimits:
    """The scenario's part of every :class:`DecisionContext` (worked out once per scenario: a Scenario is frozen)."""

    template: dict[str, Any]  # every DecisionContext field in field order: the scenario's set, the firm's None
    activity_hours: dict[str, float]  # copied into each context: a bot cannot change the scenario's
    activity_stages: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, sc: Scenario) -> _ScenarioLimits:
        return cls(
            template={
                **dict.fromkeys(CONTEXT_FIELDS),
                "price_cap": sc.market.price_cap,
                "max_hire": sc.costs.max_hire_per_period,
                "clients_per_sales_staff": sc.costs.clients_per_sales_staff,
                "bids_per_sales_staff": sc.costs.bids_per_sales_staff,
                "client_ids": frozenset(sc.client_ids),
                "credit_line": sc.costs.credit_line,
                "cultivation_mode": sc.cultivation.mode,
                "hours_per_sales_staff": sc.cultivation.hours_per_sales_staff,
                "research_offered": sc.research.offered,
                "survey_max": sc.research.survey_max,
                "retention_offered": sc.crm.retention_offered,
                "tier_care": sc.crm.tier_care,
            },
            activity_hours=dict(sc.cultivation.activity_hours),
            activity_stages=dict(sc.cultivation.activity_stages),
        )


@per_scenario
def scenario_limits(sc: Scenario) -> _ScenarioLimits:
    """The scenario's part of a firm's :class:`DecisionContext`, worked out on the first call for `sc`."""
    return _ScenarioLimits.of(sc)


def decision_context(state: GameState, firm: int) -> DecisionContext:
    """What validation needs to know about `firm` now: its staff, books and standing decision, and the game's tenders."""
    f = state.firms[firm]
    sc = state.scenario
    limits = scenario_limits(sc)
    return frozen_record(DecisionContext, {
        **limits.template,
        "sales_staff": f.sales_staff,
        "service_staff": f.service_staff,
        "tender_ids": state.tender_ids,
        "open_tender_ids": frozenset(t.id for t in state.tenders),
        "cash": f.cash,
        "debt": f.debt,
        "previous": f.standing,
        "emergency_debt": f.emergency_debt,
        "activity_hours": dict(limits.activity_hours),  # the firm's own copies: a bot cannot change the scenario's
        "activity_stages": dict(limits.activity_stages),
        "stages": dict(zip(sc.client_ids, stage_names(state, firm))) if state.lifecycle is not None else {},
    })


def stage_names(state: GameState, firm: int) -> list[str]:
    """Lifecycle cultivation: `firm`'s stage with each client, in client order."""
    return [STAGES[s] for s in state.lifecycle.stage[firm].tolist()]


def public_report(state: GameState, results: list | None = None) -> PublicReport:
    """What is published to every firm at the start of the period (build it once, pass it to each :func:`observe`)."""
    last = results[-1] if results else None
    return PublicReport(
        market=[public_row(r) for r in last.firm_rows] if last else [],
        last_bids=last.bid_rows() if last else [],
        news=news(state),
        calendar=tender_calendar(state.scenario, state.period),
        shown=shown_awards(results or []) if state.lifecycle is not None else None,
    )


def observe(state: GameState, firm: int, results: list | None = None, public: PublicReport | None = None,
            limits: DecisionContext | None = None) -> Observation:
    """Build firm `firm`'s observation from the state and past PeriodResults.

    `public` is the period's :func:`public_report`, when the caller already built it for another firm;
    `limits` the firm's :func:`decision_context`, when the caller built it to validate the decision too.
    """
    results = results or []
    last = results[-1] if results else None
    public = public or public_report(state, results)
    f = state.firms[firm]
    limits = decision_context(state, firm) if limits is None else limits
    ids = state.scenario.client_ids
    rel = state.relationship
    n_firms = len(state.firms)
    customers = float(np.count_nonzero(state.population.supplier == firm))
    own = rel[firm].tolist()
    satisfaction = state.client_satisfaction[firm].tolist()
    lc = state.lifecycle
    if lc is None:
        rivals_max = rel[rival_rows(n_firms, firm)].max(axis=0).tolist() if n_firms > 1 else [0.0] * len(ids)
    else:  # rivals' standing is private with lifecycle cultivation: what their published bid scores showed
        shown = shown_relationships(results, firm, public.shown)
        rivals_max = [shown.get(c, 0.0) for c in ids]
    stage: dict[str, str] = {}
    progress: dict[str, float] = {}
    idle: dict[str, int] = {}
    if lc is not None:
        stage = dict(limits.stages)  # the firm's own copy of what validation reads
        progress = dict(zip(ids, lc.progress[firm].tolist()))
        idle = dict(zip(ids, lc.idle[firm].tolist()))
    return frozen_record(Observation, {
        "period": state.period,
        "periods": state.scenario.periods,
        "firm": f,
        "scenario": state.scenario,
        "tenders": state.tenders,
        "relationship": dict(zip(ids, own)),
        "client_satisfaction": dict(zip(ids, satisfaction)),
        "rivals_relationship_max": dict(zip(ids, rivals_max)),
        "customers": customers,
        "own_last": last.firm_rows[firm] if last else None,
        "limits": limits,
        "market": public.market,
        "last_bids": public.last_bids,
        "history": [r.firm_rows[firm] for r in results],
        "news": public.news,
        "calendar": public.calendar,
        "stage": stage,
        "progress": progress,
        "idle": idle,
        "research": last.research.get(firm) if last else None,
    })


@functools.lru_cache(maxsize=256)
def rival_rows(n_firms: int, firm: int) -> np.ndarray:
    """The indices of `firm`'s rivals among `n_firms` firms, in firm order (an index array, made once, read-only)."""
    rows = np.array([j for j in range(n_firms) if j != firm], dtype=np.intp)
    rows.flags.writeable = False
    return rows


def shown_relationships(results: list, firm: int, awards: ShownAwards | None = None) -> dict[str, float]:
    """Per client, the strongest relationship a rival showed in the client's latest scored award: every valid
    bid's relationship score (w_relationship x 100 x R) is published, so R can be read back from it.

    `awards` is :func:`shown_awards` of `results`, when the caller already worked it out (once a period).
    """
    out: dict[str, float] = {}
    for client, scored in (shown_awards(results) if awards is None else awards).items():
        for award in scored:
            shown = [r for f, r in award if f != firm]
            if shown:
                out[client] = max(shown)
                break
    return out


def shown_awards(results: list) -> ShownAwards:
    """Per client, newest first, (firm, R) of each valid bid of the scored awards :func:`shown_relationships`
    reads, R read back from the published relationship score: the latest award with a valid bid, and when
    that one showed a single firm, the latest before it that showed another (that firm's latest rival)."""
    out: ShownAwards = {}
    complete: set[ClientId] = set()
    for r in reversed(results):
        for o in r.tenders:
            client = o.tender.client
            if client in complete:
                continue
            w = o.tender.weights[2]
            if w <= 0:
                continue
            shown = [(b.firm, relationship_shown(b.relationship_score, w)) for b in o.bids if b.valid]
            if not shown:
                continue
            awards = out.setdefault(client, [])
            if awards and all(f == awards[0][0][0] for f, _ in shown):
                continue  # the newer award's one firm again: still no rival for it
            awards.append(shown)
            if len(awards) > 1 or any(f != shown[0][0] for f, _ in shown):
                complete.add(client)
    return out


def news(state: GameState) -> tuple[Event, ...]:
    """Market news published when a period opens: scheduled events announced ahead, and those starting now."""
    return announced_events(state.scenario, state.period)
