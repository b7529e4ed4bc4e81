"""The period pipeline: ``resolve_period(state, decisions, rng) -> (state, result)``.

A pure function. Order (design section 2): apply staffing and financing ->
events -> resolve this period's tenders -> deliver last period's contracts ->
step the customer population -> relationships -> book accounts, emergency
loans, bankruptcy -> metrics and scorecard -> publish next period's tenders.
The same state, decisions and rng always give identical results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crmsim.agents.population import (
    MarketInputs,
    PopulationOutcome,
    customer_counts,
    init_population,
    release_customers,
    step_population,
)
from crmsim.scenarios.schema import Scenario
from crmsim.sim.accounts import Ledger, emergency_loan, interest_due, is_insolvent, staffing_costs
from crmsim.sim.decisions import Bid, Decision, DecisionContext, DecisionError, Problem, validate_decision
from crmsim.sim.scoring import rank_firms, scorecard
from crmsim.sim.state import Contract, FirmState, GameState, Tender
from crmsim.sim.tenders import (
    VOID_REASONS,
    Bidder,
    BidRecord,
    Delivery,
    TenderOutcome,
    award_contract,
    deliver,
    make_tender,
    resolve_tender,
    scheduled_clients,
    update_relationships,
)

Decisions = Mapping[int, Decision]
SCANDAL_REPUTATION_LOSS = 0.3
MIN_QUALITY_FACTOR = 0.1
ENGINE_STREAM, BOT_STREAM = 0, 1


def period_rng(seed: int, period: int) -> np.random.Generator:
    """The engine's generator for one period (period 0 builds the initial state).

    Derived from the game seed alone, so a period can be resolved again after a
    restart with nothing but the stored state and seed.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ENGINE_STREAM, period)))


def bot_rng(seed: int, firm: int, period: int) -> np.random.Generator:
    """A bot seat's generator for one period, apart from the engine's.

    Per period, so a bot decides the same after a server restart as without one.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(BOT_STREAM, firm, period)))


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
            awareness=0.5,
            wom=0.0,
            standing=standing,
        )
        for i, name in enumerate(fs.firm_names())
    )
    n_c = len(scenario.clients)
    population = init_population(scenario.market, fs.count, rng, xp)
    tenders = tuple(make_tender(c, scenario, 1, rng) for c in scheduled_clients(scenario, 1)) if scenario.periods > 1 else ()
    return GameState(
        scenario=scenario,
        seed=seed,
        period=1,
        firms=firms,
        relationship=np.full((fs.count, n_c), fs.relationship),
        client_satisfaction=np.full((fs.count, n_c), 7.0),
        population=population,
        tenders=tenders,
        contracts=(),
        tender_ids=frozenset(t.id for t in tenders),
    )


def decision_context(state: GameState, firm: int) -> DecisionContext:
    """What validation needs to know about `firm` now."""
    f = state.firms[firm]
    sc = state.scenario
    return DecisionContext(
        price_cap=sc.market.price_cap,
        sales_staff=f.sales_staff,
        service_staff=f.service_staff,
        max_hire=sc.costs.max_hire_per_period,
        clients_per_sales_staff=sc.costs.clients_per_sales_staff,
        bids_per_sales_staff=sc.costs.bids_per_sales_staff,
        client_ids=frozenset(sc.client_ids),
        tender_ids=state.tender_ids,
        cash=f.cash,
        debt=f.debt,
        credit_line=sc.costs.credit_line,
        previous=f.standing,
        emergency_debt=f.emergency_debt,
    )


def check_decision(state: GameState, firm: int, raw: Mapping[str, Any] | Decision) -> Decision:
    """Validate a submitted decision for `firm`; raises DecisionError naming every problem."""
    if not 0 <= firm < len(state.firms):
        raise DecisionError([Problem("firm", f"must be a firm index in [0, {len(state.firms) - 1}]", firm)])
    if state.firms[firm].bankrupt:
        raise DecisionError([Problem("firm", "is bankrupt and takes no more decisions", state.firms[firm].name)])
    try:
        return validate_decision(raw, decision_context(state, firm))
    except DecisionError as exc:
        raise DecisionError(exc.problems, state.firms[firm].name) from None


def planned_costs(state: GameState, firm: int, decision: Decision) -> dict[str, float]:
    """What a decision will cost this period before any sale: the form's cost preview.

    Known costs (staff, hiring, severance, care, advertising, cultivation,
    interest), the service cost for the firm's current customers, and the bid
    bonds its bids pledge (returned unless the firm defaults).
    """
    f = state.firms[firm]
    costs = state.scenario.costs
    customers = float(_host(state.population.supplier == firm).sum())
    sales = f.sales_staff + decision.hire_sales - decision.fire_sales
    service = f.service_staff + decision.hire_service - decision.fire_service
    salaries, hiring, severance = staffing_costs(
        sales, service, decision.hire_sales + decision.hire_service, decision.fire_sales + decision.fire_service, costs
    )
    volumes = {t.id: t.volume for t in state.tenders}
    out = {
        "salaries": salaries,
        "hiring": hiring,
        "severance": severance,
        "service_cost": customers * costs.service_cost * decision.service_level,
        "care": decision.care_budget,
        "advertising": decision.advertising_budget,
        "cultivation": float(sum(decision.cultivation.values())),
        "interest": interest_due(f.debt, f.emergency_debt, costs),
    }
    out["total"] = sum(out.values())
    out["bonds_pledged"] = sum(
        state.scenario.tenders.bond_rate * b.price * volumes.get(t, 0.0) for t, b in decision.bids.items()
    )
    out["cash_after"] = f.cash + decision.borrow - decision.repay - out["total"]
    out["capacity"] = service * costs.customers_per_service_staff
    out["customers"] = customers
    return out


# ---------------------------------------------------------------------------
# the period


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


def capacity_effect(utilisation: float, knee: float, slope: float) -> float:
    """Delivered-quality factor: 1 up to the knee (~80%), then falling sharply (queueing)."""
    if utilisation <= knee:
        return 1.0
    return max(MIN_QUALITY_FACTOR, 1.0 - slope * (utilisation - knee))


def care_intensity(care_budget: float, customers: float, scale: float) -> float:
    """Share of full care effect bought: diminishing in care spend per customer."""
    return 1.0 - math.exp(-(care_budget / max(customers, 1.0)) / scale)


def next_awareness(awareness: float, advertising: float, decay: float, scale: float) -> float:
    """Awareness decays and advertising reaches a diminishing share of the unaware."""
    kept = awareness * (1.0 - decay)
    return kept + (1.0 - kept) * (1.0 - math.exp(-advertising / scale))


def _active_events(scenario: Scenario, period: int) -> list:
    return [e for e in scenario.events if e.period <= period < e.period + e.duration]


def resolve_period(
    state: GameState,
    decisions: Decisions,
    rng: np.random.Generator,
    xp: Any = np,
    adjustments: Mapping[int, float] | None = None,
) -> tuple[GameState, PeriodResult]:
    """Resolve one period. Pure: `state` is not changed.

    Args:
        state: the game before the period.
        decisions: firm index -> Decision for the firms that submitted. A live
            firm left out keeps its standing decision and bids nothing.
            Decisions are validated again here (bids that cannot be read are
            voided as MALFORMED rather than rejected).
        rng: this period's generator, e.g. ``period_rng(seed, state.period)``.
        xp: array namespace for the population (numpy or cupy).
        adjustments: firm index -> instructor's bonus (+) or penalty (-) in cash,
            booked this period on the ledger's `adjustment` line.

    Raises:
        DecisionError: a decision breaks a rule other than its bids; nothing is resolved.
        ValueError: the game is over.
    """
    if state.finished:
        raise ValueError(f"the game is over after period {state.period - 1}")
    sc, costs, mkt = state.scenario, state.scenario.costs, state.scenario.market
    t = state.period
    n_f = len(state.firms)
    clients = sc.client_ids
    log: list[dict[str, Any]] = []

    # 1. effective decisions (validated; bids kept as given for the tender office)
    eff: dict[int, Decision] = {}
    submitted: dict[int, bool] = {}
    for f in state.firms:
        if f.bankrupt:
            continue
        d = decisions.get(f.index)
        submitted[f.index] = d is not None
        if d is None:
            eff[f.index] = f.standing
            log.append(_ev(t, "standing_decision", f.index, "no decision submitted: standing decision kept, no bids"))
            continue
        checked = check_decision(state, f.index, replace(d, bids={}))
        eff[f.index] = replace(checked, bids=readable_bids(d.bids))
    for i, amount in (adjustments or {}).items():
        if not (0 <= i < n_f) or state.firms[i].bankrupt or not math.isfinite(amount):
            raise ValueError(f"adjustments: firm {i} must be a live firm and the amount finite; got {amount!r}")
        log.append(_ev(t, "adjustment", i, f"instructor {'bonus' if amount >= 0 else 'penalty'} {amount:+.0f}"))
    unknown = set(decisions) - set(eff)
    if unknown:
        raise DecisionError([Problem("firm", "no live firm with this index", sorted(unknown))])

    # 2. staffing and financing at the start of the period
    cost_factor = state.unit_cost_factor
    for e in _active_events(sc, t):
        if e.kind == "cost_shock" and e.period == t:
            cost_factor *= e.magnitude
        if e.period == t:
            log.append(_ev(t, f"event:{e.kind}", e.firm, e.news.en if e.news else f"{e.kind} x{e.magnitude:g}"))
    sales = np.array([f.sales_staff for f in state.firms])
    service = np.array([f.service_staff for f in state.firms])
    cash_open = np.array([f.cash for f in state.firms])
    debt = np.array([f.debt for f in state.firms])
    emergency = np.array([f.emergency_debt for f in state.firms])
    for i, d in eff.items():
        sales[i] += d.hire_sales - d.fire_sales
        service[i] += d.hire_service - d.fire_service
        cash_open[i] += d.borrow - d.repay
        # repayment clears the dearer emergency loans first
        from_emergency = min(d.repay, emergency[i])
        emergency[i] -= from_emergency
        debt[i] += d.borrow - (d.repay - from_emergency)
    unit_cost = np.array([f.unit_cost * (cost_factor / state.unit_cost_factor) for f in state.firms])
    alive = np.array([f.live for f in state.firms])

    # load and capacity: customers at the start plus contracts due this period
    pop = state.population
    customers_start = _host(customer_counts(pop.supplier, n_f, xp))
    due = [c for c in state.contracts if c.deliver_period == t]
    later = [c for c in state.contracts if c.deliver_period > t]
    contract_load = np.zeros(n_f)
    for c in due:
        contract_load[c.firm] += c.load
    capacity = service * costs.customers_per_service_staff
    load = customers_start + contract_load
    utilisation = np.where(capacity > 0, load / np.maximum(capacity, 1e-9), np.inf)
    quality_factor = np.array([capacity_effect(u, mkt.utilisation_knee, mkt.overload_slope) for u in utilisation])

    # 3. tenders open this period
    bidders = {
        i: Bidder(
            firm=i,
            bankrupt=state.firms[i].bankrupt,
            late=eff[i].late if i in eff else False,
            unit_cost=float(unit_cost[i]),
            capacity=float(capacity[i]),
            load=float(load[i] + sum(c.load for c in later if c.firm == i)),
            cash=float(cash_open[i]),
            max_bids=int(sales[i]) * costs.bids_per_sales_staff,
        )
        for i in range(n_f)
    }
    bond_left = {i: max(0.0, float(cash_open[i])) for i in range(n_f)}
    outcomes: list[TenderOutcome] = []
    new_contracts: list[Contract] = []
    client_pos = {c: k for k, c in enumerate(clients)}
    bids_by_tender: dict[str, dict[int, Any]] = {}
    for i, d in sorted(eff.items()):
        for k, (tid, bid) in enumerate(sorted(d.bids.items())):
            bids_by_tender.setdefault(tid, {})[i] = (bid, k >= bidders[i].max_bids)
    open_ids = {tt.id for tt in state.tenders}
    stray: list[BidRecord] = []
    for tid, entries in sorted(bids_by_tender.items()):
        if tid not in open_ids:
            for i, (bid, _) in sorted(entries.items()):
                known = tid in state.tender_ids
                reason, detail = ("LATE", "the tender is closed") if known else ("MALFORMED", "no such tender")
                if state.firms[i].bankrupt:
                    reason, detail = "BANKRUPT", "the firm is bankrupt"
                rec = BidRecord(tid, tid.rsplit("-", 1)[0] if known else "", i, _float_or_nan(bid.price), _float_or_nan(bid.promised_service))
                rec.valid, rec.void_reason, rec.void_detail = False, reason, detail
                stray.append(rec)
                log.append(_ev(t, "bid_void", i, f"{tid}: {reason} ({detail}: tender not open this period)"))
    for tender in state.tenders:
        entries = bids_by_tender.get(tender.id, {})
        k = client_pos[tender.client]
        rel = {i: float(state.relationship[i, k]) for i in range(n_f)}
        bids = {i: b for i, (b, _) in entries.items()}
        over = {i for i, (_, o) in entries.items() if o}
        out = resolve_tender(tender, bids, bidders, rel, sc, t, bond_left, rng, over_limit=over)
        outcomes.append(out)
        for rec in out.bids:
            if not rec.valid:
                log.append(_ev(t, "bid_void", rec.firm, f"{tender.id}: {rec.void_reason} ({rec.void_detail})"))
        if out.failed:
            log.append(_ev(t, "tender_failed", None, f"{tender.id}: {sum(b.valid for b in out.bids)} valid bids < {tender.min_valid_bids} (流标)"))
        contract = award_contract(out, sc, t)
        if contract is not None:
            new_contracts.append(contract)
            # the winner's capacity is taken for the tenders still to be opened this period
            bidders[contract.firm] = replace(bidders[contract.firm], load=bidders[contract.firm].load + contract.load)
            log.append(_ev(t, "tender_awarded", contract.firm, f"{tender.id} at {contract.price:.2f} x {contract.volume:.0f}"))

    # 4. deliver contracts due this period
    deliveries: list[Delivery] = []
    delivery_outcome = np.ones((n_f, len(clients)))
    delivered = np.zeros((n_f, len(clients)), dtype=bool)
    for c in due:
        share = 1.0 if utilisation[c.firm] <= 1 else 1.0 / utilisation[c.firm]
        dv = deliver(c, float(unit_cost[c.firm]), share, float(quality_factor[c.firm]), sc)
        deliveries.append(dv)
        k = client_pos[c.client]
        delivery_outcome[c.firm, k] = min(delivery_outcome[c.firm, k], dv.outcome)
        delivered[c.firm, k] = True
        if dv.penalty > 0:
            log.append(_ev(t, "delivery_shortfall", c.firm, f"{c.tender_id}: delivered {dv.share:.0%} at service {dv.service:.2f}; penalty {dv.penalty:.0f}"))

    # 5. the customer population
    price = np.array([eff[i].price if i in eff else state.firms[i].standing.price for i in range(n_f)])
    service_level = np.array([eff[i].service_level if i in eff else 0.0 for i in range(n_f)])
    care_budget = np.array([eff[i].care_budget if i in eff else 0.0 for i in range(n_f)])
    ads = np.array([eff[i].advertising_budget if i in eff else 0.0 for i in range(n_f)])
    quality = service_level * quality_factor
    care = np.array([care_intensity(care_budget[i], customers_start[i], costs.care_scale) for i in range(n_f)])
    purchase_factor, outside_boost = 1.0, 0.0
    scandal = np.zeros(n_f)
    reputation = np.array([f.reputation for f in state.firms])
    for e in _active_events(sc, t):
        if e.kind == "recession" or e.kind == "boom":
            purchase_factor *= e.magnitude
        elif e.kind == "new_entrant":
            outside_boost += e.magnitude
        elif e.kind == "scandal" and e.period == t:
            scandal[e.firm] += e.magnitude
            reputation[e.firm] *= 1.0 - SCANDAL_REPUTATION_LOSS
    awareness = np.array([next_awareness(f.awareness, ads[f.index], costs.awareness_decay, costs.advertising_scale) for f in state.firms])
    awareness = np.where(alive, awareness, 0.0)
    live_prices = price[alive]
    inputs = MarketInputs(
        price=xp.asarray(price),
        quality=xp.asarray(quality),
        reputation=xp.asarray(reputation),
        awareness=xp.asarray(awareness),
        wom=xp.asarray(np.array([f.wom for f in state.firms])),
        care=xp.asarray(care),
        complaint_capacity=xp.asarray(service * costs.complaints_per_service_staff),
        alive=xp.asarray(alive),
        margin_per_unit=xp.asarray(price - unit_cost),
        service_cost=xp.asarray(costs.service_cost * service_level),
        scandal=xp.asarray(scandal),
        purchase_factor=purchase_factor,
        outside_boost=outside_boost,
        market_price=float(live_prices.mean()) if live_prices.size else 0.0,
    )
    new_pop, po = step_population(pop, inputs, mkt, rng, xp, track=mkt.track_customers)
    po_np = _to_numpy(po, xp)

    # 6. relationships: decay, cultivation (share of attention), delivery outcomes
    spend = np.zeros((n_f, len(clients)))
    for i, d in eff.items():
        for cid, amount in d.cultivation.items():
            spend[i, client_pos[cid]] = amount
    relationship = update_relationships(state.relationship, spend, delivery_outcome, delivered, sc)
    client_sat = np.where(delivered, 0.7 * state.client_satisfaction + 0.3 * 10.0 * delivery_outcome, state.client_satisfaction)

    # 7. accounts
    ledgers: dict[int, Ledger] = {}
    new_firms: list[FirmState] = []
    newly_bankrupt: list[int] = []
    for f in state.firms:
        i = f.index
        if f.bankrupt:
            ledgers[i] = Ledger(cash_start=f.cash)
            new_firms.append(f)
            continue
        d = eff[i]
        dv = [x for x in deliveries if x.contract.firm == i]
        salaries, hiring, severance = staffing_costs(int(sales[i]), int(service[i]), d.hire_sales + d.hire_service, d.fire_sales + d.fire_service, costs)
        ledger = Ledger(
            cash_start=f.cash,
            revenue_market=float(po_np.revenue[i]),
            revenue_contracts=sum(x.revenue for x in dv),
            cost_of_goods=float(po_np.units_sold[i]) * float(unit_cost[i]) + sum(x.cost_of_goods for x in dv),
            salaries=salaries,
            hiring=hiring,
            severance=severance,
            service_cost=float(po_np.customers_end[i]) * costs.service_cost * d.service_level + sum(x.service_cost for x in dv),
            care=d.care_budget,
            advertising=d.advertising_budget,
            cultivation=float(spend[i].sum()),
            penalties=sum(x.penalty for x in dv),
            interest=interest_due(f.debt, f.emergency_debt, costs),
            adjustment=float((adjustments or {}).get(i, 0.0)),
            borrowing=d.borrow,
            repayment=d.repay,
        )
        loan = emergency_loan(ledger.cash_before_emergency, float(debt[i]), float(emergency[i]), costs)
        ledger = replace(ledger, emergency_loan=loan)
        if loan > 0:
            log.append(_ev(t, "emergency_loan", i, f"emergency loan {loan:.0f} at {costs.emergency_rate:.0%} per period"))
        bankrupt = is_insolvent(ledger.cash_end)
        if bankrupt:
            newly_bankrupt.append(i)
            log.append(_ev(t, "bankruptcy", i, f"cash {ledger.cash_end:.0f} after the credit line is exhausted (破产)"))
        ledgers[i] = ledger
        new_firms.append(
            replace(
                f,
                cash=ledger.cash_end,
                debt=float(debt[i]),
                emergency_debt=float(emergency[i]) + loan,
                sales_staff=int(sales[i]),
                service_staff=int(service[i]),
                unit_cost=float(unit_cost[i]),
                reputation=float(mkt.reputation_smoothing * reputation[i] + (1 - mkt.reputation_smoothing) * quality[i]),
                awareness=float(awareness[i]),
                wom=float((mkt.promoter_contacts * po_np.promoters[i] - mkt.detractor_contacts * po_np.detractors[i]) * n_f / new_pop.size),
                standing=d.standing(),
                cum_operating_profit=f.cum_operating_profit + ledger.operating_profit,
                bankrupt=bankrupt,
                bankrupt_period=t if bankrupt else None,
            )
        )
    # bankruptcy: customers freed, open contracts defaulted (bond kept, client relationship drops)
    contracts = tuple(later) + tuple(new_contracts)
    released = np.zeros(n_f)
    for i in newly_bankrupt:
        released[i] = float(_host(new_pop.supplier == i).sum())
        new_pop = release_customers(new_pop, i, xp)
        kept = 0.0
        for c in contracts:
            if c.firm == i:
                relationship[i, client_pos[c.client]] *= 0.5
                kept += c.bond
                log.append(_ev(t, "contract_default", i, f"{c.tender_id} defaulted on bankruptcy; bond {c.bond:.0f} kept"))
        contracts = tuple(c for c in contracts if c.firm != i)
        if kept:
            ledgers[i] = replace(ledgers[i], bonds_kept=ledgers[i].bonds_kept + kept)
            f = new_firms[i]
            new_firms[i] = replace(f, cash=ledgers[i].cash_end, cum_operating_profit=f.cum_operating_profit - kept)

    # 8. metrics and scorecard
    rows = _firm_rows(t, state, new_firms, eff, submitted, ledgers, po_np, relationship, [b for o in outcomes for b in o.bids] + stray, quality, utilisation, care, price, service_level, released)
    for row, s in zip(rows, scorecard(rows, sc.scoring)):
        row.update(s)
    for row, rank in zip(rows, rank_firms(rows)):
        row["rank"] = rank
    rel_rows = [
        {"period": t, "firm": i, "client": cid, "relationship": float(relationship[i, k]), "client_satisfaction": float(client_sat[i, k])}
        for i in range(n_f)
        for k, cid in enumerate(clients)
    ]

    # 9. publish next period's tenders (re-issuing failed ones)
    next_t = t + 1
    next_tenders: list[Tender] = []
    if next_t < sc.periods:  # a tender needs a period after its award to be delivered
        for o in outcomes:
            if o.failed and o.tender.reissue < sc.tenders.reissue_limit:
                next_tenders.append(make_tender(sc.client(o.tender.client), sc, next_t, rng, reissue_of=o.tender))
        reissued = {tt.client for tt in next_tenders}
        for c in scheduled_clients(sc, next_t):
            if c.id not in reissued:
                next_tenders.append(make_tender(c, sc, next_t, rng))
        for tt in next_tenders:
            log.append(_ev(t, "tender_published", None, f"{tt.id} for period {next_t}: {tt.volume:.0f} units, cap {tt.price_cap:g}" + (" (re-issued)" if tt.reissue else "")))

    new_state = replace(
        state,
        period=next_t,
        firms=tuple(new_firms),
        relationship=relationship,
        client_satisfaction=client_sat,
        population=new_pop,
        tenders=tuple(next_tenders),
        contracts=contracts,
        tender_ids=state.tender_ids | {tt.id for tt in next_tenders},
        unit_cost_factor=cost_factor,
    )
    result = PeriodResult(
        period=t,
        decisions=eff,
        submitted=submitted,
        firm_rows=rows,
        tenders=outcomes,
        deliveries=deliveries,
        relationship_rows=rel_rows,
        ledgers=ledgers,
        events=log,
        panel=po_np.panel,
        stray_bids=stray,
        market={
            "period": t,
            "prospects": int(_host(new_pop.supplier < 0).sum()),
            "adopters": po_np.adopters,
            "purchase_factor": purchase_factor,
            "outside_boost": outside_boost,
            "customers": new_pop.size,
        },
    )
    return new_state, result


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


def _ev(period: int, kind: str, firm: int | None, detail: str) -> dict[str, Any]:
    return {"period": period, "kind": kind, "firm": firm, "detail": detail}


def _host(a: Any) -> np.ndarray:
    """A numpy copy of an xp array (no copy for numpy)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _to_numpy(po: PopulationOutcome, xp: Any) -> PopulationOutcome:
    if xp is np:
        return po
    conv = {k: _host(v) if hasattr(v, "shape") else v for k, v in po.__dict__.items() if k != "panel"}
    panel = {k: _host(v) for k, v in po.panel.items()}
    return PopulationOutcome(**conv, panel=panel)


def _firm_rows(t, state, firms, eff, submitted, ledgers, po, relationship, all_bids, quality, utilisation, care, price, service_level, released) -> list[dict[str, Any]]:
    total_customers = max(float(po.customers_end.sum() - released.sum()), 1.0)
    total_revenue = max(sum(ledgers[i].revenue for i in ledgers), 1e-9)
    in_play = max(float(po.acquired.sum()), 1.0)
    rows = []
    for f in firms:
        i = f.index
        lg = ledgers[i]
        start = float(po.customers_start[i])
        end = float(po.customers_end[i]) if f.live else 0.0
        complaints = float(po.complaints[i])
        bids = [b for b in all_bids if b.firm == i]
        row = {
            "period": t,
            "firm": i,
            "name": f.name,
            "bankrupt": f.bankrupt,
            "bankrupt_period": f.bankrupt_period,
            "submitted": submitted.get(i, False),
            "price": float(price[i]) if f.live or f.bankrupt_period == t else math.nan,
            "service_level": float(service_level[i]),
            "delivered_quality": float(quality[i]),
            "utilisation": float(utilisation[i]) if math.isfinite(utilisation[i]) else math.inf,
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
            "customers_released": float(released[i]),
            "acquired": float(po.acquired[i]),
            "lost": float(po.lost[i]),
            "acquisition_rate": float(po.acquired[i]) / in_play,
            "retention_rate": 1.0 - float(po.lost[i]) / start if start > 0 else math.nan,
            "churn_rate": float(po.lost[i]) / start if start > 0 else math.nan,
            "avg_satisfaction": float(po.satisfaction_sum[i]) / end if end > 0 else math.nan,
            "avg_loyalty": float(po.loyalty_sum[i]) / end if end > 0 else math.nan,
            "care_intensity": float(care[i]),
            "complaints": complaints,
            "resolved_quickly": float(po.resolved_quickly[i]),
            "resolved": float(po.resolved[i]),
            "unresolved": float(po.unresolved[i]),
            "silent_dissatisfied": float(po.silent[i]),
            "resolution_rate": (float(po.resolved_quickly[i]) + float(po.resolved[i])) / complaints if complaints else math.nan,
            "units_sold": float(po.units_sold[i]),
            "buyers": float(po.buyers[i]),
            "share_of_wallet": min(1.0, float(po.units_sold[i]) / float(po.wallet[i])) if po.wallet[i] > 0 else math.nan,
            "market_share_customers": end / total_customers,
            "market_share_revenue": lg.revenue / total_revenue,
            "customer_equity": float(po.customer_equity[i]) if f.live else 0.0,
            "tier_a": float(po.tier_counts[i, 0]),
            "tier_b": float(po.tier_counts[i, 1]),
            "tier_c": float(po.tier_counts[i, 2]),
            "promoters": float(po.promoters[i]),
            "detractors": float(po.detractors[i]),
            "reputation": f.reputation,
            "awareness": f.awareness,
            "relationship_mean": float(relationship[i].mean()) if relationship.shape[1] else 0.0,
            "tenders_bid": len(bids),
            "tenders_won": sum(b.won for b in bids),
            "tenders_voided": sum(not b.valid for b in bids),
            **{f"void_{r.lower()}": sum(b.void_reason == r for b in bids) for r in VOID_REASONS},
        }
        for key in ("retention_rate", "churn_rate", "avg_satisfaction", "avg_loyalty"):
            if math.isnan(row[key]):
                row[key] = 0.0 if f.bankrupt else row[key]
        rows.append(row)
    # scorecard inputs must be finite for live firms
    for r in rows:
        for key in ("avg_satisfaction", "retention_rate"):
            if math.isnan(r[key]):
                r[key] = 0.0
    return rows
