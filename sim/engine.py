"""The period pipeline: ``resolve_period(state, decisions, rng) -> (state, result)``.

A pure function that reads as its table of contents (docs/rules.md section 2):
the decisions in force, then staffing and finance -> event effects -> this
period's tenders -> deliveries of last period's contracts -> market inputs and
the customer population -> relationships -> accounts -> bankruptcies ->
metrics and scorecard -> publishing next period's tenders. Each step is a
function below, in that order. The same state, decisions and rng always give
identical results.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from crmsim.agents.population import (
    TIERS,
    MarketInputs,
    Population,
    PopulationOutcome,
    customer_counts,
    firm_bins,
    init_population,
    per_firm,
    per_firm_and_kind,
    release_customers,
    step_population,
)
from crmsim.scenarios.schema import STAGES, Market, Scenario
from crmsim.sim.accounts import MAX_ADJUSTMENT, Ledger, decision_ledger, decision_lines, emergency_loan, is_insolvent, service_intensity
from crmsim.sim.decisions import Bid, Decision, DecisionContext, DecisionError, Problem, bid_limit, decision_from_dict, validate_decision
from crmsim.sim.events import event_effects, starting_events
from crmsim.sim.metrics import FirmOutcomes, metrics
from crmsim.sim.observation import Observation, decision_context, observe, public_report
from crmsim.sim.state import Contract, FirmState, GameState, Tender
from crmsim.sim.lifecycle import (
    Relationships,
    band,
    effort,
    end_relationships,
    plan_cost,
    relationship_score,
    rival_hold,
    step_relationships,
)
from crmsim.sim.market_research import research_fee, rival_bands, score_band, survey, tender_forecast
from crmsim.sim.streams import BOT_STREAM, ENGINE_STREAM, RESEARCH_STREAM, stream_rng
from crmsim.sim.tenders import (
    BANKRUPT,
    LATE,
    MALFORMED,
    Bidder,
    BidRecord,
    Delivery,
    TenderOutcome,
    award_contract,
    bid_bond,
    deliver,
    make_tender,
    resolve_tender,
    scheduled_clients,
    update_client_satisfaction,
    update_relationships,
)

Decisions = Mapping[int, Decision]
LogEntry = dict[str, Any]  # one entry of the period's event log


def period_rng(seed: int, period: int) -> np.random.Generator:
    """The engine's generator for one period (period 0 builds the initial state).

    Derived from the game seed alone, so a period can be resolved again after a
    restart with nothing but the stored state and seed.
    """
    return stream_rng(seed, ENGINE_STREAM, period)


def bot_rng(seed: int, firm: int, period: int) -> np.random.Generator:
    """A bot seat's generator for one period, apart from the engine's.

    Per period, so a bot decides the same after a server restart as without one.
    """
    return stream_rng(seed, BOT_STREAM, firm, period)


# ---------------------------------------------------------------------------
# start of game


def initial_state(scenario: Scenario, seed: int, xp: Any = np) -> GameState:
    """The state before period 1: firms as the scenario sets them, the population drawn, period-1 tenders published."""
    rng = period_rng(seed, 0)
    fs = scenario.firms
    standing = Decision(
        price=fs.price,
        service_level=fs.service_level,
        care_budget=fs.care_budget,
        advertising_budget=fs.advertising_budget,
    )
    firms = tuple(
        FirmState(
            index=i,
            name=name,
            cash=float(fs.cash),
            debt=float(fs.debt),
            emergency_debt=0.0,
            sales_staff=fs.sales_staff,
            service_staff=fs.service_staff,
            unit_cost=float(fs.unit_cost),
            reputation=fs.reputation,
            awareness=fs.awareness,
            wom=0.0,
            standing=standing,
        )
        for i, name in enumerate(fs.firm_names())
    )
    n_c = len(scenario.clients)
    population = init_population(scenario.market, fs.count, rng, xp)
    tenders = tuple(make_tender(c, scenario, 1, rng) for c in scheduled_clients(scenario, 1)) if scenario.periods > 1 else ()
    lifecycle = Relationships.start(fs.count, n_c) if scenario.cultivation.mode == "lifecycle" else None
    return GameState(
        scenario=scenario,
        seed=seed,
        period=1,
        firms=firms,
        lifecycle=lifecycle,
        relationship=relationship_score(lifecycle, scenario.cultivation) if lifecycle else np.full((fs.count, n_c), fs.relationship),
        client_satisfaction=np.full((fs.count, n_c), fs.client_satisfaction),
        population=population,
        tenders=tenders,
        contracts=(),
        tender_ids=frozenset(t.id for t in tenders),
    )


# ---------------------------------------------------------------------------
# what comes in: decisions, adjustments, bots, a decision log


def check_decision(state: GameState, firm: int, raw: Mapping[str, Any] | Decision,
                   limits: DecisionContext | None = None) -> Decision:
    """Validate a submitted decision for `firm`; raises DecisionError naming every problem.

    `limits` is the firm's :func:`decision_context`, when the caller already built it (for its observation).
    """
    if not 0 <= firm < len(state.firms):
        raise DecisionError([Problem("firm", f"must be a firm index in [0, {len(state.firms) - 1}]", firm)])
    if state.firms[firm].bankrupt:
        raise DecisionError([Problem("firm", "is bankrupt and takes no more decisions", state.firms[firm].name)])
    try:
        return validate_decision(raw, decision_context(state, firm) if limits is None else limits)
    except DecisionError as exc:
        raise DecisionError(exc.problems, state.firms[firm].name) from None


def check_adjustment(state: GameState, firm: Any, amount: Any) -> float:
    """An instructor's bonus (+) or penalty (-) on `firm`'s cash this period, checked (docs/rules.md section 9).

    Returns the amount as a float. Raises ValueError naming the field: `firm`
    must be a live firm's index, `amount` a finite number of at most
    MAX_ADJUSTMENT either way.
    """
    if isinstance(firm, (bool, np.bool_)) or not isinstance(firm, (int, np.integer)) or not 0 <= firm < len(state.firms) or state.firms[firm].bankrupt:
        raise ValueError(f"firm: must be a live firm index; got {firm!r}")
    ok = isinstance(amount, (int, float, np.integer, np.floating)) and not isinstance(amount, (bool, np.bool_))
    if not ok or not math.isfinite(amount) or abs(amount) > MAX_ADJUSTMENT:
        raise ValueError(f"amount: must be a finite number with |amount| <= {MAX_ADJUSTMENT:g}; got {amount!r}")
    return float(amount)


class Bot(Protocol):
    """Anything that decides for a seat from its observation (crmsim.agents.bots.Strategy)."""

    name: str

    def decide(self, obs: Observation, rng: np.random.Generator) -> Mapping[str, Any] | None: ...


def bot_decisions(state: GameState, bots: Mapping[int, Bot], results: list, seed: int) -> dict[int, Decision]:
    """Let the bots decide for this period: each live bot seat, in seat order, decides from its own
    observation with its own ``bot_rng(seed, seat, period)``; its decision is validated like a team's,
    against the limits its observation showed (one :func:`decision_context` per seat).

    A bot that returns None keeps its standing decision (it is left out).

    Raises:
        DecisionError: a bot's decision breaks a rule (named "bot <name> (<firm>)").
    """
    out: dict[int, Decision] = {}
    public = None
    for i in sorted(bots):
        if state.firms[i].bankrupt:
            continue
        public = public or public_report(state, results)  # built once, shared by every bot
        limits = decision_context(state, i)
        raw = bots[i].decide(observe(state, i, results, public, limits), bot_rng(seed, i, state.period))
        if raw is None:
            continue
        try:
            out[i] = check_decision(state, i, raw, limits)
        except DecisionError as exc:
            raise DecisionError(exc.problems, f"bot {bots[i].name} ({state.firms[i].name})") from None
    return out


def logged_period(state: GameState, entry: Mapping[str, Any]) -> tuple[dict[int, Decision], dict[int, float]]:
    """One entry of a decision log (``{"period", "decisions", "adjustments"}``) as the decisions and
    adjustments to resolve `state`'s period with, replayed as recorded.

    Decisions are not validated again here (they were when stored; ``resolve_period``
    checks them and voids what the tender office would); adjustments are checked
    and several for one firm add up.

    Raises:
        ValueError: the entry is for another period, or an adjustment is not allowed.
    """
    if entry["period"] != state.period:
        raise ValueError(f"periods: expected period {state.period}; got {entry['period']}")
    decisions = {int(firm): decision_from_dict(d) for firm, d in entry["decisions"].items()}
    adjustments: dict[int, float] = {}
    for firm, amount in entry.get("adjustments", {}).items():
        adjustments[int(firm)] = adjustments.get(int(firm), 0.0) + check_adjustment(state, int(firm), float(amount))
    return decisions, adjustments


def planned_costs(state: GameState, firm: int, decision: Decision) -> dict[str, float]:
    """What a decision will cost this period before any sale: the form's cost preview.

    The ledger's known lines (:func:`crmsim.sim.accounts.decision_ledger`: staff,
    hiring, severance, care, advertising, cultivation, interest), the service
    cost for the firm's current customers, and the bid bonds its bids pledge
    (returned unless the firm defaults).
    """
    f = state.firms[firm]
    costs = state.scenario.costs
    customers = float(_host(state.population.supplier == firm).sum())
    ledger = decision_ledger(f, decision, costs, customers, cultivation_total(decision, state.scenario),
                             research_fee(decision.research, state.scenario.research))
    lines = ("salaries", "hiring", "severance", "service_cost", "care", "advertising", "cultivation", "research", "retention", "interest")
    out = {k: getattr(ledger, k) for k in lines}
    out["total"] = sum(out.values())
    volumes = {t.id: t.volume for t in state.tenders}
    out["bonds_pledged"] = sum(bid_bond(state.scenario.tenders.bond_rate, b.price, volumes.get(t, 0.0)) for t, b in decision.bids.items())
    out["cash_after"] = f.cash + decision.borrow - decision.repay - out["total"]
    out["capacity"] = (f.service_staff + decision.hire_service - decision.fire_service) * costs.customers_per_service_staff
    out["customers"] = customers
    return out


# ---------------------------------------------------------------------------
# the period's result


@dataclass
class PeriodResult:
    """Everything a period produced, published after resolution."""

    period: int
    decisions: dict[int, Decision]
    submitted: dict[int, bool]
    firm_rows: list[dict[str, Any]]
    tenders: list[TenderOutcome]
    deliveries: list[Delivery]
    relationship_rows: list[dict[str, Any]]
    ledgers: dict[int, Ledger]
    events: list[dict[str, Any]]
    panel: dict[str, Any]
    market: dict[str, Any] = field(default_factory=dict)
    stray_bids: list[BidRecord] = field(default_factory=list)  # bids on tenders not open this period (void)
    research: dict[int, dict[str, Any]] = field(default_factory=dict)  # firm -> its market research (private)
    score_references: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (reference, span)

    def all_bids(self) -> list[tuple[TenderOutcome | None, BidRecord]]:
        """Every bid with its tender's outcome (None for bids on tenders not open this period)."""
        return [(o, b) for o in self.tenders for b in o.bids] + [(None, b) for b in self.stray_bids]

    def bid_rows(self) -> list[dict[str, Any]]:
        """One row per bid, with its tender's outcome (the tender results table)."""
        return [
            {
                "period": self.period,
                "tender": b.tender,
                "client": b.client,
                "firm": b.firm,
                "price": b.price,
                "promised_service": b.promised_service,
                "valid": b.valid,
                "void_reason": b.void_reason,
                "void_detail": b.void_detail,
                "price_score": b.price_score,
                "service_score": b.service_score,
                "relationship_score": b.relationship_score,
                "total": b.total,
                "rank": b.rank,
                "won": b.won,
                "points_behind": b.points_behind,
                "tender_failed": o.failed if o else False,
                "margin_points": o.margin_points if o else None,
                "max_winning_price": o.max_winning_price if o else None,
            }
            for o, b in self.all_bids()
        ]

    def tender_rows(self) -> list[dict[str, Any]]:
        """One row per tender."""
        return [
            {
                "period": self.period,
                "tender": o.tender.id,
                "client": o.tender.client,
                "volume": o.tender.volume,
                "price_cap": o.tender.price_cap,
                "required_service": o.tender.required_service,
                "closed": o.tender.closed,
                "reissue": o.tender.reissue,
                "bids": len(o.bids),
                "valid_bids": sum(b.valid for b in o.bids),
                "failed": o.failed,
                "winner": o.winner,
                "winning_price": next((b.price for b in o.bids if b.won), math.nan),
                "margin_points": o.margin_points,
                "max_winning_price": o.max_winning_price,
                "tie_break": o.tie_break,
            }
            for o in self.tenders
        ]


# ---------------------------------------------------------------------------
# rules of a firm's operations


def capacity_effect(utilisation: float, m: Market) -> float:
    """Delivered-quality factor: 1 up to the knee (~80%), then falling sharply (queueing), to at least
    ``market.min_quality_factor``."""
    if utilisation <= m.utilisation_knee:
        return 1.0
    return max(m.min_quality_factor, 1.0 - m.overload_slope * (utilisation - m.utilisation_knee))


def care_intensity(care_budget: float, customers: float, scale: float) -> float:
    """Share of full care effect bought: diminishing in care spend per customer."""
    return 1.0 - math.exp(-(care_budget / max(customers, 1.0)) / scale)


def next_awareness(awareness: float, advertising: float, decay: float, scale: float) -> float:
    """Awareness decays and advertising reaches a diminishing share of the unaware."""
    kept = awareness * (1.0 - decay)
    return kept + (1.0 - kept) * (1.0 - math.exp(-advertising / scale))


def next_reputation(reputation: float, quality: float, m: Market) -> float:
    """Reputation moves toward the quality the firm delivered this period."""
    return m.reputation_smoothing * reputation + (1 - m.reputation_smoothing) * quality


def word_of_mouth(promoters: float, detractors: float, n_firms: int, customers: int, m: Market) -> float:
    """A firm's net word of mouth per capita, heard next period: promoters' contacts less detractors'."""
    return (m.promoter_contacts * promoters - m.detractor_contacts * detractors) * n_firms / customers


def cultivation_spend(decisions: Mapping[int, Decision], clients: tuple[str, ...], n_firms: int) -> np.ndarray:
    """Cultivation spend per firm and client (firms x clients, the scenario's client order)."""
    spend = np.zeros((n_firms, len(clients)))
    for i, d in decisions.items():
        spend[i] = budget_row(d.cultivation.items(), clients)
    return spend


def cultivation_total(decision: Decision, scenario: Scenario) -> float:
    """A decision's cultivation cost as the ledger books it: the ¥ budgets summed in the scenario's client
    order, or (lifecycle cultivation) the cost of its sales activities."""
    if scenario.cultivation.mode == "lifecycle":
        return plan_cost(decision.activities, scenario.cultivation)[0]
    budgets = tuple(decision.cultivation.items())
    if any(a == 0 or a != a for _, a in budgets):  # a zero's sign or a NaN would not tell cached totals apart
        return budget_total(budgets, scenario.client_ids)
    return _cached_budget_total(budgets, scenario.client_ids)


def budget_row(budgets: Iterable[tuple[str, float]], clients: tuple[str, ...]) -> np.ndarray:
    """Cultivation budgets (client, ¥) in the scenario's client order: one firm's row of :func:`cultivation_spend`."""
    row = np.zeros(len(clients))
    for cid, amount in budgets:
        row[clients.index(cid)] = amount
    return row


def budget_total(budgets: tuple[tuple[str, float], ...], clients: tuple[str, ...]) -> float:
    """Cultivation budgets (client, ¥) summed as numpy sums them: one row of :func:`cultivation_spend`, summed."""
    return float(budget_row(budgets, clients).sum())


_cached_budget_total = functools.lru_cache(maxsize=4096)(budget_total)  # bots repeat a handful of budget sets


# ---------------------------------------------------------------------------
# the period, step by step


@dataclass(frozen=True)
class Period:
    """The period being resolved: the state before it, the decisions in force and its event log.

    Built by :func:`open_period` and passed to every step; the steps add to the
    log (:meth:`note`) and return their own records, never change the state.
    """

    state: GameState
    decisions: dict[int, Decision]  # every live firm's: validated (bids as given), or its standing decision
    submitted: dict[int, bool]
    adjustments: dict[int, float]
    log: list[LogEntry]
    xp: Any
    client_pos: dict[str, int]  # client id -> its index in the scenario's client order

    @property
    def t(self) -> int:
        return self.state.period

    @property
    def scenario(self) -> Scenario:
        return self.state.scenario

    @property
    def n_firms(self) -> int:
        return len(self.state.firms)

    def note(self, kind: str, firm: int | None, detail: str) -> None:
        """Write an entry to the period's event log."""
        self.log.append({"period": self.t, "kind": kind, "firm": firm, "detail": detail})


def resolve_period(
    state: GameState,
    decisions: Decisions,
    rng: np.random.Generator,
    xp: Any = np,
    adjustments: Mapping[int, float] | None = None,
    checked: Collection[int] = (),
    track: int | None = None,
) -> tuple[GameState, PeriodResult]:
    """Resolve one period. Pure: `state` is not changed.

    Args:
        state: the game before the period.
        decisions: firm index -> Decision for the firms that submitted. A live
            firm left out keeps its standing decision and bids nothing.
            Decisions are validated again here (bids that cannot be read are
            voided as MALFORMED rather than rejected).
        rng: this period's generator, e.g. ``period_rng(seed, state.period)``;
            drawn by the tenders' tie-breaks, the population and the next tenders' volumes, in that order.
        xp: array namespace for the population (numpy or cupy).
        adjustments: firm index -> instructor's bonus (+) or penalty (-) in cash,
            booked this period on the ledger's `adjustment` line.
        checked: firms whose decision is the very one :func:`check_decision` returned for `state` (a team's
            submission, a bot's decision): taken as it is rather than checked a second time, which would
            give the same decision (validation is idempotent).
        track: customers whose period record (``PeriodResult.panel``) to keep: the first `track`; default the
            scenario's ``market.track_customers``. Keeping none (0) plays the same game faster.

    Raises:
        DecisionError: a decision breaks a rule other than its bids; nothing is resolved.
        ValueError: the game is over, or an adjustment is not allowed.
    """
    if state.finished:
        raise ValueError(f"the game is over after period {state.period - 1}")
    p = open_period(state, decisions, adjustments or {}, xp, checked)
    staff = staffing_and_finance(p)
    shocks = apply_event_effects(p)
    awards = run_tenders(p, staff, shocks, rng)
    delivered = deliver_contracts(p, staff, shocks)
    offer = market_inputs(p, staff, shocks)
    m = state.scenario.market
    track = m.track_customers if track is None else track
    population, customers = step_population(state.population, offer.inputs, m, rng, xp, track=track)
    customers = _to_numpy(customers, xp)
    ties = relationships(p, delivered)
    books = accounts(p, staff, shocks, offer, delivered, customers, population.size)
    ended = bankruptcies(p, books, population, ties, awards, staff)
    rows, references = metrics(firm_outcomes(p, staff, offer, customers, ended, awards, shocks), state.scenario)
    next_tenders = publish_tenders(p, awards, rng)
    return next_state(p, ended, ties, shocks, next_tenders), PeriodResult(
        period=p.t,
        decisions=p.decisions,
        submitted=p.submitted,
        firm_rows=rows,
        tenders=awards.outcomes,
        deliveries=delivered.deliveries,
        relationship_rows=relationship_rows(p, ended, ties),
        ledgers=ended.ledgers,
        events=p.log,
        panel=customers.panel,
        stray_bids=awards.stray,
        market=market_summary(p, ended.population, customers, offer),
        research=research_reports(p, ended),
        score_references=references,
    )


# -- 0. the decisions in force ----------------------------------------------


def open_period(state: GameState, decisions: Decisions, adjustments: Mapping[int, float], xp: Any,
                checked: Collection[int] = ()) -> Period:
    """Validate the decisions (bids kept as given for the tender office) and the adjustments.

    A live firm that submitted nothing keeps its standing decision and bids nothing. The decisions of the
    `checked` firms already passed :func:`check_decision` against this state and are taken as they are.
    """
    p = blank_period(state, xp)
    for f in state.firms:
        if f.bankrupt:
            continue
        d = decisions.get(f.index)
        p.submitted[f.index] = d is not None
        if d is None:
            p.decisions[f.index] = f.standing
            p.note("standing_decision", f.index, "no decision submitted: standing decision kept, no bids")
            continue
        if f.index in checked:
            p.decisions[f.index] = d
            continue
        valid = check_decision(state, f.index, replace(d, bids={}))
        p.decisions[f.index] = replace(valid, bids=readable_bids(d.bids))
    for i, amount in adjustments.items():
        p.adjustments[i] = check_adjustment(state, i, amount)
        p.note("adjustment", i, f"instructor {'bonus' if amount >= 0 else 'penalty'} {amount:+.0f}")
    unknown = set(decisions) - set(p.decisions)
    if unknown:
        raise DecisionError([Problem("firm", "no live firm with this index", sorted(unknown))])
    return p


def blank_period(state: GameState, xp: Any = np) -> Period:
    """The period `state` opens, before any decision is in force: :func:`open_period` fills it; the decision
    preview (:mod:`crmsim.sim.preview`) puts one firm's draft in it to run the steps that need no customers."""
    client_pos = {c: k for k, c in enumerate(state.scenario.client_ids)}
    return Period(state=state, decisions={}, submitted={}, adjustments={}, log=[], xp=xp, client_pos=client_pos)


# -- 1. staffing and finance --------------------------------------------------


@dataclass(frozen=True)
class Staffing:
    """Each firm's staff, cash and debts after this period's hires, fires, borrowing and repayment,
    and the load and capacity they give (arrays over firms)."""

    sales: np.ndarray
    service: np.ndarray
    cash: np.ndarray  # cash at the start plus borrowing less repayment: what can back bid bonds
    debt: np.ndarray
    emergency: np.ndarray
    customers_start: np.ndarray
    capacity: np.ndarray  # customer-equivalents the service staff serve
    load: np.ndarray  # customers at the start plus contracts due this period
    utilisation: np.ndarray
    quality_factor: np.ndarray  # capacity effect on delivered service
    due: tuple[Contract, ...]  # contracts delivered this period
    later: tuple[Contract, ...]  # contracts delivered in a later period


def staffing_and_finance(p: Period) -> Staffing:
    """Staff change at once; borrowing adds to ordinary debt and repayment clears the dearer emergency loans first."""
    state, costs = p.state, p.scenario.costs
    # per firm in Python numbers (numpy's float64 arithmetic, exactly), made arrays once at the end
    sales = [f.sales_staff for f in state.firms]
    service = [f.service_staff for f in state.firms]
    cash = [f.cash for f in state.firms]
    debt = [f.debt for f in state.firms]
    emergency = [f.emergency_debt for f in state.firms]
    for i, d in p.decisions.items():
        sales[i] += d.hire_sales - d.fire_sales
        service[i] += d.hire_service - d.fire_service
        cash[i] += d.borrow - d.repay
        from_emergency = min(d.repay, emergency[i])
        emergency[i] -= from_emergency
        debt[i] += d.borrow - (d.repay - from_emergency)
    sales, service, cash, debt, emergency = (np.array(v) for v in (sales, service, cash, debt, emergency))
    customers_start = _host(customer_counts(state.population.supplier, p.n_firms, p.xp))
    due = tuple(c for c in state.contracts if c.deliver_period == p.t)
    contract_load = np.zeros(p.n_firms)
    for c in due:
        contract_load[c.firm] += c.load
    capacity = service * costs.customers_per_service_staff
    load = customers_start + contract_load
    utilisation = np.where(capacity > 0, load / np.maximum(capacity, 1e-9), np.inf)
    return Staffing(
        sales=sales,
        service=service,
        cash=cash,
        debt=debt,
        emergency=emergency,
        customers_start=customers_start,
        capacity=capacity,
        load=load,
        utilisation=utilisation,
        quality_factor=np.array([capacity_effect(u, p.scenario.market) for u in utilisation.tolist()]),
        due=due,
        later=tuple(c for c in state.contracts if c.deliver_period > p.t),
    )


# -- 2. event effects -----------------------------------------------------------


@dataclass(frozen=True)
class Shocks:
    """What this period's events do to the firms and the market."""

    unit_cost_factor: float  # the game's unit-cost factor after this period's cost shocks
    unit_cost: np.ndarray
    reputation: np.ndarray  # after any scandal's loss
    scandal: np.ndarray  # transaction satisfaction each firm's customers lose this period
    purchase_factor: float
    outside_boost: float


def apply_event_effects(p: Period) -> Shocks:
    """Announce the events that start now (log) and apply the active events (docs/rules.md section 8)."""
    state, m = p.state, p.scenario.market
    for e in starting_events(p.scenario, p.t):
        p.note(f"event:{e.kind}", e.firm, e.news.en if e.news else f"{e.kind} x{e.magnitude:g}")
    effects = event_effects(p.scenario, p.t)
    factor = effects.unit_cost_factor(state.unit_cost_factor)
    scandal = np.zeros(p.n_firms)
    reputation = np.array([f.reputation for f in state.firms])
    for firm, magnitude in effects.scandals:
        scandal[firm] += magnitude
        reputation[firm] *= 1.0 - m.scandal_reputation_loss
    return Shocks(
        unit_cost_factor=factor,
        unit_cost=np.array([f.unit_cost * (factor / state.unit_cost_factor) for f in state.firms]),
        reputation=reputation,
        scandal=scandal,
        purchase_factor=effects.purchase_factor,
        outside_boost=effects.outside_boost,
    )


# -- 3. tenders -----------------------------------------------------------------


@dataclass(frozen=True)
class Awards:
    """This period's tenders: outcomes in publication order, contracts won, void bids on tenders not open."""

    outcomes: list[TenderOutcome]
    contracts: tuple[Contract, ...]
    stray: list[BidRecord]

    @property
    def bids(self) -> list[BidRecord]:
        return [b for o in self.outcomes for b in o.bids] + self.stray


def run_tenders(p: Period, staff: Staffing, shocks: Shocks, rng: np.random.Generator) -> Awards:
    """Open each tender in publication order: check, score and award its bids (docs/rules.md section 6).

    A contract won counts against the winner's capacity in the tenders opened after it.
    """
    bidders = {i: bidder(p, staff, shocks, i) for i in range(p.n_firms)}
    bond_left = {i: max(0.0, bidders[i].cash) for i in range(p.n_firms)}
    entries = bids_by_tender(p, staff)
    stray = void_stray_bids(p, entries)
    outcomes: list[TenderOutcome] = []
    contracts: list[Contract] = []
    for tender in p.state.tenders:
        entry = entries.get(tender.id, {})
        k = p.client_pos[tender.client]
        rel = dict(enumerate(p.state.relationship[:, k].tolist()))
        stage = dict(enumerate(p.state.lifecycle.stage[:, k].tolist())) if p.state.lifecycle is not None else None
        bids = {i: b for i, (b, _) in entry.items()}
        over = {i for i, (_, o) in entry.items() if o}
        out = resolve_tender(tender, bids, bidders, rel, p.scenario, p.t, bond_left, rng, over_limit=over, stage=stage)
        outcomes.append(out)
        log_tender(p, out)
        contract = award_contract(out, p.scenario, p.t)
        if contract is not None:
            contracts.append(contract)
            bidders[contract.firm] = replace(bidders[contract.firm], load=bidders[contract.firm].load + contract.load)
            p.note("tender_awarded", contract.firm, f"{tender.id} at {contract.price:.2f} x {contract.volume:.0f}")
    return Awards(outcomes=outcomes, contracts=tuple(contracts), stray=stray)


def bidder(p: Period, staff: Staffing, shocks: Shocks, i: int) -> Bidder:
    """What the tender office knows about firm `i`: its load counts every contract it has still to deliver."""
    d = p.decisions.get(i)
    return Bidder(
        firm=i,
        bankrupt=p.state.firms[i].bankrupt,
        late=d.late if d is not None else False,
        unit_cost=float(shocks.unit_cost[i]),
        capacity=float(staff.capacity[i]),
        load=float(staff.load[i] + sum(c.load for c in staff.later if c.firm == i)),
        cash=float(staff.cash[i]),
    )


def bids_by_tender(p: Period, staff: Staffing) -> dict[str, dict[int, tuple[Bid, bool]]]:
    """Every bid as tender id -> firm -> (bid, beyond the firm's bid limit), bids in tender-id order per firm."""
    out: dict[str, dict[int, tuple[Bid, bool]]] = {}
    for i, d in sorted(p.decisions.items()):
        limit = bid_limit(int(staff.sales[i]), p.scenario.costs.bids_per_sales_staff)
        for k, (tid, bid) in enumerate(sorted(d.bids.items())):
            out.setdefault(tid, {})[i] = (bid, k >= limit)
    return out


def void_stray_bids(p: Period, entries: Mapping[str, Mapping[int, tuple[Bid, bool]]]) -> list[BidRecord]:
    """Bids on tenders not open this period, voided: LATE for a tender published earlier, MALFORMED for none.

    Validation refuses both at submit; these are bids that reached the engine
    unchecked (a decision built in code, a log recorded before the refusal).
    """
    open_ids = {t.id for t in p.state.tenders}
    stray: list[BidRecord] = []
    for tid, entry in sorted(entries.items()):
        if tid in open_ids:
            continue
        known = tid in p.state.tender_ids
        for i, (bid, _) in sorted(entry.items()):
            reason, detail = (LATE, "the tender is closed") if known else (MALFORMED, "no such tender")
            if p.state.firms[i].bankrupt:
                reason, detail = BANKRUPT, "the firm is bankrupt"
            rec = BidRecord(tid, tid.rsplit("-", 1)[0] if known else "", i, _float_or_nan(bid.price), _float_or_nan(bid.promised_service))
            rec.valid, rec.void_reason, rec.void_detail = False, reason, detail
            stray.append(rec)
            p.note("bid_void", i, f"{tid}: {reason} ({detail}: tender not open this period)")
    return stray


def log_tender(p: Period, out: TenderOutcome) -> None:
    """Log a tender's void bids and, if it failed, the failure."""
    for rec in out.bids:
        if not rec.valid:
            p.note("bid_void", rec.firm, f"{out.tender.id}: {rec.void_reason} ({rec.void_detail})")
    if out.failed:
        valid = sum(b.valid for b in out.bids)
        p.note("tender_failed", None, f"{out.tender.id}: {valid} valid bids < {out.tender.min_valid_bids} (流标)")


# -- 4. deliveries ----------------------------------------------------------------


@dataclass(frozen=True)
class Deliveries:
    """Contracts delivered this period, and per firm and client the worst delivery outcome."""

    deliveries: list[Delivery]
    outcome: np.ndarray  # firms x clients; 1 where nothing was delivered
    delivered: np.ndarray  # firms x clients, bool


def deliver_contracts(p: Period, staff: Staffing, shocks: Shocks) -> Deliveries:
    """Deliver the contracts due this period with each firm's capacity (docs/rules.md section 6.8)."""
    n_c = len(p.scenario.clients)
    deliveries: list[Delivery] = []
    outcome = np.ones((p.n_firms, n_c))
    delivered = np.zeros((p.n_firms, n_c), dtype=bool)
    for c in staff.due:
        u = staff.utilisation[c.firm]
        dv = deliver(c, float(shocks.unit_cost[c.firm]), 1.0 if u <= 1 else 1.0 / u, float(staff.quality_factor[c.firm]), p.scenario)
        deliveries.append(dv)
        k = p.client_pos[c.client]
        outcome[c.firm, k] = min(outcome[c.firm, k], dv.outcome)
        delivered[c.firm, k] = True
        if dv.penalty > 0:
            p.note("delivery_shortfall", c.firm, f"{c.tender_id}: delivered {dv.share:.0%} at service {dv.service:.2f}; penalty {dv.penalty:.0f}")
    return Deliveries(deliveries=deliveries, outcome=outcome, delivered=delivered)


# -- 5. market inputs --------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """What each firm offers the mass market this period (arrays over firms), and the population's inputs."""

    price: np.ndarray
    service_level: np.ndarray
    quality: np.ndarray  # delivered quality: service level x capacity effect
    care: np.ndarray  # care intensity
    awareness: np.ndarray
    alive: np.ndarray
    inputs: MarketInputs


def market_inputs(p: Period, staff: Staffing, shocks: Shocks) -> Offer:
    """Prices, delivered quality, care, awareness and complaint capacity, with the events' market effects."""
    state, costs, xp = p.state, p.scenario.costs, p.xp
    eff = p.decisions
    n_f = p.n_firms
    price = np.array([eff[i].price if i in eff else state.firms[i].standing.price for i in range(n_f)])
    service_level = np.array([eff[i].service_level if i in eff else 0.0 for i in range(n_f)])
    care_budget = np.array([eff[i].care_budget if i in eff else 0.0 for i in range(n_f)])
    ads = np.array([eff[i].advertising_budget if i in eff else 0.0 for i in range(n_f)])
    quality = service_level * staff.quality_factor
    care = np.array([care_intensity(care_budget[i], staff.customers_start[i], costs.care_scale) for i in range(n_f)])
    alive = np.array([f.live for f in state.firms])
    awareness = np.array([next_awareness(f.awareness, ads[f.index], costs.awareness_decay, costs.advertising_scale) for f in state.firms])
    awareness = np.where(alive, awareness, 0.0)
    live_prices = price[alive]
    inputs = MarketInputs(
        price=xp.asarray(price),
        quality=xp.asarray(quality),
        reputation=xp.asarray(shocks.reputation),
        awareness=xp.asarray(awareness),
        wom=xp.asarray(np.array([f.wom for f in state.firms])),
        care=xp.asarray(care),
        complaint_capacity=xp.asarray(staff.service * costs.complaints_per_service_staff),
        alive=xp.asarray(alive),
        margin_per_unit=xp.asarray(price - shocks.unit_cost),
        service_cost=xp.asarray(costs.service_cost * service_intensity(service_level, costs)),
        scandal=xp.asarray(shocks.scandal),
        purchase_factor=shocks.purchase_factor,
        outside_boost=shocks.outside_boost,
        market_price=float(live_prices.mean()) if live_prices.size else 0.0,
        **crm_inputs(p, care_budget),
    )
    return Offer(price=price, service_level=service_level, quality=quality, care=care, awareness=awareness, alive=alive, inputs=inputs)


def crm_inputs(p: Period, care_budget: np.ndarray) -> dict[str, Any]:
    """The CRM levers' inputs to the population (docs/rules.md section 7): care by ABC tier for firms that split
    their care budget, the relief a retention budget buys for the customers flagged at risk, the churn-warning
    threshold, and whether tiers follow recent spend. Left at their defaults, the first version's rules hold."""
    crm, costs, xp = p.scenario.crm, p.scenario.costs, p.xp
    pop = p.state.population
    bins = firm_bins(pop.supplier, xp)
    out: dict[str, Any] = {"churn_threshold": crm.churn_threshold, "tier_memory": crm.tier_memory if crm.tiers_follow_spend else None}
    splits = {i: d.care_split for i, d in p.decisions.items() if d.care_split}
    if splits:
        counts = _host(per_firm_and_kind(bins, pop.tier, 3, p.n_firms, xp)).tolist()  # whole numbers: exact as floats
        budget = care_budget.tolist()
        table = np.zeros((p.n_firms, 3))
        for i in range(p.n_firms):
            for k, tier in enumerate(TIERS):
                share = splits[i].get(tier, 0.0) if i in splits else counts[i][k] / max(sum(counts[i]), 1.0)
                table[i, k] = care_intensity(budget[i] * share, counts[i][k], costs.care_scale)
        out["care_tier"] = xp.asarray(table)
    budgets = [p.decisions[i].retention_budget if i in p.decisions else 0.0 for i in range(p.n_firms)]
    if any(budgets):
        at_risk = _host(per_firm(bins[pop.at_risk.nonzero()[0]], p.n_firms, xp)).tolist()
        out["retention"] = xp.asarray(np.array([retention_relief_share(b, n, crm.retention_scale, crm.retention_effect)
                                                for b, n in zip(budgets, at_risk)]))
    return out


def retention_relief_share(budget: float, at_risk: float, scale: float, effect: float) -> float:
    """The share of an at-risk customer's defection hazard a retention budget removes: ``effect`` at most,
    with diminishing returns in ¥ per at-risk customer (``scale`` buys 63% of it)."""
    return effect * (1.0 - math.exp(-(budget / max(at_risk, 1.0)) / scale))


# -- 6. relationships ----------------------------------------------------------------


@dataclass(frozen=True)
class Ties:
    """Firm-client relationships and client satisfaction after the period (firms x clients)."""

    spend: np.ndarray  # cultivation spend this period (lifecycle: the activities' cost)
    relationship: np.ndarray
    client_satisfaction: np.ndarray
    lifecycle: Relationships | None = None  # lifecycle cultivation: the stages after the period
    hours: np.ndarray | None = None  # lifecycle: sales hours spent on each client
    gained: np.ndarray | None = None  # lifecycle: progress gained (after a rival's resistance)
    hold: np.ndarray | None = None  # lifecycle: the strongest rival stage at the start of the period


def relationships(p: Period, delivered: Deliveries) -> Ties:
    """Cultivation and deliveries move each firm-client relationship; clients' satisfaction follows deliveries.

    Spend mode: R decays, grows with spend (share of attention) and moves with deliveries (docs/rules.md
    section 7). Lifecycle mode: sales activities and deliveries advance the stages, which slip without
    contact, and R follows from them (section 7.1, :mod:`crmsim.sim.lifecycle`).
    """
    state, sc = p.state, p.scenario
    satisfaction = update_client_satisfaction(state.client_satisfaction, delivered.outcome, delivered.delivered, sc)
    if state.lifecycle is None:
        spend = cultivation_spend(p.decisions, sc.client_ids, p.n_firms)
        relationship = update_relationships(state.relationship, spend, delivered.outcome, delivered.delivered, sc)
        return Ties(spend=spend, relationship=relationship, client_satisfaction=satisfaction)
    settings = sc.cultivation
    plans = {i: d.activities for i, d in p.decisions.items()}
    live = np.array([f.live for f in state.firms])
    bought, contact = effort(plans, state.lifecycle.stage, sc.client_ids, settings)
    lifecycle, gained = step_relationships(state.lifecycle, bought, contact, delivered.outcome, delivered.delivered, settings, live)
    spend = np.zeros(bought.shape)
    hours = np.zeros(bought.shape)
    for i, plan in plans.items():
        for client, acts in plan.items():
            spend[i, p.client_pos[client]], hours[i, p.client_pos[client]] = plan_cost({client: acts}, settings)
    relationship = relationship_score(lifecycle, settings)
    if settings.bankrupt_relationships_end:
        relationship = np.where(live[:, None], relationship, 0.0)
    return Ties(spend=spend, relationship=relationship, client_satisfaction=satisfaction,
                lifecycle=lifecycle, hours=hours, gained=gained, hold=rival_hold(state.lifecycle.stage, live))


# -- 7. accounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Books:
    """Each firm's ledger and state after the accounts, and the firms that went bankrupt this period."""

    ledgers: dict[int, Ledger]
    firms: list[FirmState]
    newly_bankrupt: list[int]


def accounts(
    p: Period, staff: Staffing, shocks: Shocks, offer: Offer, delivered: Deliveries, po: PopulationOutcome, population_size: int
) -> Books:
    """Book each live firm's ledger; lend to a firm short of cash; a firm still short is bankrupt (docs/rules.md section 9)."""
    ledgers: dict[int, Ledger] = {}
    firms: list[FirmState] = []
    newly_bankrupt: list[int] = []
    costs, m, t = p.scenario.costs, p.scenario.market, p.t
    # every per-firm figure read once as Python floats: the same values and arithmetic as numpy's scalars, cheaper
    debt, emergency, sales, service = staff.debt.tolist(), staff.emergency.tolist(), staff.sales.tolist(), staff.service.tolist()
    unit_cost, reputation = shocks.unit_cost.tolist(), shocks.reputation.tolist()
    quality, awareness = offer.quality.tolist(), offer.awareness.tolist()
    promoters, detractors = po.promoters.tolist(), po.detractors.tolist()
    sales_of = ledger_sales(p, shocks, delivered, po)
    for f in p.state.firms:
        i = f.index
        if f.bankrupt:
            ledgers[i] = Ledger(cash_start=f.cash)
            firms.append(f)
            continue
        d = p.decisions[i]
        ledger = period_ledger(p.scenario, f, d, **sales_of[i], debt=float(debt[i]), emergency=float(emergency[i]))
        if ledger.emergency_loan > 0:
            p.note("emergency_loan", i, f"emergency loan {ledger.emergency_loan:.0f} at {costs.emergency_rate:.0%} per period")
        cash_end = ledger.cash_end
        bankrupt = is_insolvent(cash_end)
        if bankrupt:
            newly_bankrupt.append(i)
            p.note("bankruptcy", i, f"cash {cash_end:.0f} after the credit line is exhausted (破产)")
        ledgers[i] = ledger
        firms.append(
            FirmState(  # every field named (a new FirmState, cheaper than dataclasses.replace)
                index=i,
                name=f.name,
                cash=cash_end,
                debt=float(debt[i]),
                emergency_debt=float(emergency[i]) + ledger.emergency_loan,
                sales_staff=int(sales[i]),
                service_staff=int(service[i]),
                unit_cost=float(unit_cost[i]),
                reputation=float(next_reputation(reputation[i], quality[i], m)),
                awareness=float(awareness[i]),
                wom=float(word_of_mouth(promoters[i], detractors[i], p.n_firms, population_size, m)),
                standing=d.standing(),
                cum_operating_profit=f.cum_operating_profit + ledger.operating_profit,
                bankrupt=bankrupt,
                bankrupt_period=t if bankrupt else None,
            )
        )
    return Books(ledgers=ledgers, firms=firms, newly_bankrupt=newly_bankrupt)


def ledger_sales(p: Period, shocks: Shocks, delivered: Deliveries, po: PopulationOutcome) -> list[dict[str, Any]]:
    """Each firm's sales and deliveries as :func:`period_ledger` books them (its keyword arguments), the period's
    arrays read once as Python floats."""
    deliveries: dict[int, list[Delivery]] = {i: [] for i in range(p.n_firms)}
    for x in delivered.deliveries:
        deliveries[x.contract.firm].append(x)
    figures = zip(po.customers_end.tolist(), po.revenue.tolist(), po.units_sold.tolist(), shocks.unit_cost.tolist())
    return [
        dict(customers=float(customers), revenue_market=float(revenue), units_sold=float(units), unit_cost=float(unit_cost),
             deliveries=deliveries[i], adjustment=float(p.adjustments.get(i, 0.0)))
        for i, (customers, revenue, units, unit_cost) in enumerate(figures)
    ]


def period_ledger(
    scenario: Scenario,
    f: FirmState,
    d: Decision,
    *,
    customers: float,
    revenue_market: float,
    units_sold: float,
    unit_cost: float,
    deliveries: list[Delivery],
    adjustment: float,
    debt: float,
    emergency: float,
) -> Ledger:
    """A firm's ledger for the period from its sales and deliveries, with the emergency loan that covers a
    cash shortfall (docs/rules.md section 9). The accounts book it from the period's outcome; the decision
    preview projects it from assumed sales.

    Args:
        customers: customers served at the end of the period (the service cost).
        revenue_market, units_sold: mass-market sales; cost of goods is units x `unit_cost`.
        deliveries: the firm's contract deliveries this period.
        adjustment: the instructor's bonus (+) or penalty (-).
        debt, emergency: debts after this period's borrowing and repayment (the credit room for the loan).
    """
    costs = scenario.costs
    lines = decision_lines(f, d, costs, customers, cultivation_total(d, scenario), research_fee(d.research, scenario.research))
    lines.update(
        revenue_market=revenue_market,
        revenue_contracts=sum(x.revenue for x in deliveries),
        cost_of_goods=units_sold * unit_cost + sum(x.cost_of_goods for x in deliveries),
        service_cost=lines["service_cost"] + sum(x.service_cost for x in deliveries),
        penalties=sum(x.penalty for x in deliveries),
        adjustment=adjustment,
    )
    ledger = Ledger(**lines)  # built once; the rare emergency loan replaces it
    loan = emergency_loan(ledger.cash_before_emergency, debt, emergency, costs)
    return replace(ledger, emergency_loan=loan) if loan else ledger


# -- 8. bankruptcies ------------------------------------------------------------------


@dataclass(frozen=True)
class Bankruptcies:
    """The books, customers, relationships and contracts after this period's bankruptcies."""

    ledgers: dict[int, Ledger]
    firms: tuple[FirmState, ...]
    population: Population
    relationship: np.ndarray
    contracts: tuple[Contract, ...]
    released: np.ndarray  # customers each firm going bankrupt now lost to the prospects
    lifecycle: Relationships | None = None


def bankruptcies(p: Period, books: Books, population: Population, ties: Ties, awards: Awards, staff: Staffing) -> Bankruptcies:
    """A firm that went bankrupt now loses its customers and defaults on its open contracts: each bond is
    booked as kept and R with the client falls (``tenders.default_relationship_factor``)."""
    ledgers, firms = dict(books.ledgers), list(books.firms)
    relationship = ties.relationship.copy()
    lifecycle = ties.lifecycle
    contracts = staff.later + awards.contracts
    released = np.zeros(p.n_firms)
    factor = p.scenario.tenders.default_relationship_factor
    ends = p.scenario.cultivation.bankrupt_relationships_end
    for i in books.newly_bankrupt:
        released[i] = float(_host(population.supplier == i).sum())
        population = release_customers(population, i, p.xp)
        kept = 0.0
        for c in contracts:
            if c.firm == i:
                relationship[i, p.client_pos[c.client]] *= factor
                kept += c.bond
                p.note("contract_default", i, f"{c.tender_id} defaulted on bankruptcy; bond {c.bond:.0f} kept")
        contracts = tuple(c for c in contracts if c.firm != i)
        if kept:
            ledgers[i] = replace(ledgers[i], bonds_kept=ledgers[i].bonds_kept + kept)
            firms[i] = replace(firms[i], cash=ledgers[i].cash_end, cum_operating_profit=firms[i].cum_operating_profit - kept)
        if ends:  # its relationships, and its hold on any client, end with it
            relationship[i] = 0.0
            if lifecycle is not None:
                lifecycle = end_relationships(lifecycle, i)
            p.note("relationships_end", i, "a bankrupt firm's relationships end: its clients are open to rivals")
    return Bankruptcies(ledgers=ledgers, firms=tuple(firms), population=population, relationship=relationship, contracts=contracts,
                        released=released, lifecycle=lifecycle)


# -- 9. metrics and scorecard ------------------------------------------------------------


def firm_outcomes(p: Period, staff: Staffing, offer: Offer, po: PopulationOutcome, ended: Bankruptcies, awards: Awards,
                  shocks: Shocks) -> FirmOutcomes:
    """Gather the firm table's inputs from the period's steps."""
    return FirmOutcomes(
        period=p.t,
        firms=ended.firms,
        submitted=p.submitted,
        ledgers=ended.ledgers,
        customers=po,
        relationship=ended.relationship,
        bids=awards.bids,
        price=offer.price,
        service_level=offer.service_level,
        quality=offer.quality,
        utilisation=staff.utilisation,
        care=offer.care,
        released=ended.released,
        unit_cost=shocks.unit_cost,
        care_by_tier=care_spend_by_tier(p, po),
        service_cost=p.scenario.costs.service_cost * service_intensity(offer.service_level, p.scenario.costs),
    )


def care_spend_by_tier(p: Period, po: PopulationOutcome) -> np.ndarray:
    """Each firm's care budget by ABC tier (firms x 3): as split, or per customer (by its customers at the end)."""
    out = np.zeros((p.n_firms, 3))
    tier_counts = po.tier_counts.tolist()  # whole numbers: their sums are exact in any order
    for i, d in p.decisions.items():
        if d.care_split:
            out[i] = [d.care_budget * d.care_split.get(t, 0.0) for t in TIERS]
        else:
            counts = tier_counts[i]
            total = sum(counts)
            out[i] = [d.care_budget * c / total for c in counts] if total > 0 else 0.0
    return out


def relationship_rows(p: Period, ended: Bankruptcies, ties: Ties) -> list[dict[str, Any]]:
    """One row per firm and client: R and the client's satisfaction after the period; with lifecycle cultivation
    also the stage, the progress toward the next, the periods without contact, this period's activities' cost,
    sales hours and progress gained, and the strongest rival stage the firm faced."""
    rows = []
    lc, t, clients = ended.lifecycle, p.t, tuple(enumerate(p.scenario.client_ids))
    relationship, satisfaction = ended.relationship.tolist(), ties.client_satisfaction.tolist()  # values exactly, cheaper to read
    if lc is not None:
        stage, progress, idle = lc.stage.tolist(), lc.progress.tolist(), lc.idle.tolist()
        spend, hours, gained, hold = ties.spend.tolist(), ties.hours.tolist(), ties.gained.tolist(), ties.hold.tolist()
    for i in range(p.n_firms):
        for k, cid in clients:
            row = {"period": t, "firm": i, "client": cid, "relationship": float(relationship[i][k]),
                   "client_satisfaction": float(satisfaction[i][k])}
            if lc is not None:  # each key set by itself: the keyword form of dict.update costs half as much again
                row["stage"] = STAGES[int(stage[i][k])]
                row["progress"] = float(progress[i][k])
                row["idle"] = int(idle[i][k])
                row["activity_cost"] = float(spend[i][k])
                row["activity_hours"] = float(hours[i][k])
                row["progress_gained"] = float(gained[i][k])
                row["rival_hold"] = STAGES[int(hold[i][k])] if hold[i][k] >= 0 else "none"
            rows.append(row)
    return rows


def research_reports(p: Period, ended: Bankruptcies) -> dict[int, dict[str, Any]]:
    """Each buyer's market research, on the market as the period leaves it (docs/rules.md section 7.3).

    A survey samples the firm's own customers with the firm's own research stream, so buying one changes
    nothing else in the game.
    """
    out: dict[int, dict[str, Any]] = {}
    sc, settings = p.scenario, p.scenario.research
    names = [f.name for f in ended.firms]
    live = [f.live for f in ended.firms]
    if ended.lifecycle is not None:
        strength, band_of = ended.lifecycle.stage, band
    else:
        strength, band_of = ended.relationship, score_band(settings)
    pop = ended.population
    for i, d in sorted(p.decisions.items()):
        order = d.research
        if order.empty or not live[i]:
            continue
        report: dict[str, Any] = {"fee": research_fee(order, settings)}
        if order.rivals:
            report["rivals"] = rival_bands(strength, i, order.rivals, sc.client_ids, names, live, band_of)
        if order.survey:
            res = survey(_host(pop.supplier), _host(pop.satisfaction), _host(pop.loyalty), _host(pop.tier), i, order.survey,
                         stream_rng(p.state.seed, RESEARCH_STREAM, i, p.t))
            report["survey"] = {"sample": res.sample, "tiers": [t.__dict__ for t in res.tiers]}
        if order.forecast:
            report["forecast"] = tender_forecast(sc, p.t, settings.forecast_horizon)
        out[i] = report
    return out


def market_summary(p: Period, population: Population, po: PopulationOutcome, offer: Offer) -> dict[str, Any]:
    """The period's market figures: prospects after any bankruptcy release, adopters, the events' market effects."""
    return {
        "period": p.t,
        "prospects": int(p.xp.count_nonzero(population.supplier < 0)),
        "adopters": po.adopters,
        "purchase_factor": offer.inputs.purchase_factor,
        "outside_boost": offer.inputs.outside_boost,
        "customers": population.size,
    }


# -- 10. publishing ---------------------------------------------------------------------


def publish_tenders(p: Period, awards: Awards, rng: np.random.Generator) -> list[Tender]:
    """Next period's tenders: failed ones re-issued, then the scheduled ones (none for the last period,
    since a tender needs a period after its award to be delivered)."""
    sc, next_t = p.scenario, p.t + 1
    tenders: list[Tender] = []
    if next_t >= sc.periods:
        return tenders
    scheduled = scheduled_clients(sc, next_t)
    # fill_gaps: a client's scheduled tender supersedes its pending re-issue, so failures never starve the schedule
    superseded = {c.id for c in scheduled} if sc.tenders.reissue_policy == "fill_gaps" else set()
    for o in awards.outcomes:
        if o.failed and o.tender.reissue < sc.tenders.reissue_limit and o.tender.client not in superseded:
            tenders.append(make_tender(sc.client(o.tender.client), sc, next_t, rng, reissue_of=o.tender))
    reissued = {tt.client for tt in tenders}
    for c in scheduled:
        if c.id not in reissued:
            tenders.append(make_tender(c, sc, next_t, rng))
    for tt in tenders:
        p.note("tender_published", None, f"{tt.id} for period {next_t}: {tt.volume:.0f} units, cap {tt.price_cap:g}" + (" (re-issued)" if tt.reissue else ""))
    return tenders


def next_state(p: Period, ended: Bankruptcies, ties: Ties, shocks: Shocks, tenders: list[Tender]) -> GameState:
    """The game before the next period (every field named: a new GameState, cheaper than dataclasses.replace)."""
    return GameState(
        scenario=p.scenario,
        seed=p.state.seed,
        period=p.t + 1,
        firms=ended.firms,
        relationship=ended.relationship,
        client_satisfaction=ties.client_satisfaction,
        population=ended.population,
        tenders=tuple(tenders),
        contracts=ended.contracts,
        tender_ids=p.state.tender_ids | {tt.id for tt in tenders},
        unit_cost_factor=shocks.unit_cost_factor,
        lifecycle=ended.lifecycle,
    )


# ---------------------------------------------------------------------------
# helpers


def readable_bids(bids: Any) -> dict[str, Bid]:
    """Bids of a Decision built in code, as Bid objects keyed by tender id; unreadable ones become NaN bids
    (voided MALFORMED by the tender office) rather than crashing the period."""
    if not isinstance(bids, Mapping):
        return {}
    out: dict[str, Bid] = {}
    for tid, b in bids.items():
        if isinstance(b, Bid):
            out[str(tid)] = b
        elif isinstance(b, Mapping):
            out[str(tid)] = Bid(b.get("price", math.nan), b.get("promised_service", math.nan))
        else:
            out[str(tid)] = Bid(math.nan, math.nan)
    return out


def _float_or_nan(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _host(a: Any) -> np.ndarray:
    """A numpy copy of an xp array (no copy for numpy)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _to_numpy(po: PopulationOutcome, xp: Any) -> PopulationOutcome:
    if xp is np:
        return po
    conv = {k: _host(v) if hasattr(v, "shape") else v for k, v in po.__dict__.items() if k != "panel"}
    panel = {k: _host(v) for k, v in po.panel.items()}
    return PopulationOutcome(**conv, panel=panel)
