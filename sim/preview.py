"""Decision support: what a team needs to know before it submits, from the engine's own rules.

:func:`preview` runs the steps of the period that need no customers (staffing and finance, the events'
effects, deliveries of contracts due, each bid's checks 1-8 at the tender office) on a team's draft, and
projects the period's accounts from an assumed level of sales. It never steps the population, so it is
quick enough to run as a student types, and it reads only what the firm may know: its own books and
standing, the open tenders, the public news and calendar, and the research it bought.

Every item is a :class:`crmsim.sim.notices.Notice` (a code, its numbers and an English message);
:meth:`Preview.to_dict` is the JSON the web pages, the API and the environments share.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from crmsim.scenarios.schema import STAGES
from crmsim.sim.accounts import Ledger, credit_room
from crmsim.sim.decisions import DECISION_FIELDS, Bid, Decision, DecisionError, Problem
from crmsim.sim.engine import (
    Period,
    Shocks,
    Staffing,
    apply_event_effects,
    bidder,
    bids_by_tender,
    blank_period,
    check_decision,
    deliver_contracts,
    period_ledger,
    planned_costs,
    staffing_and_finance,
)
from crmsim.sim.events import announced_events, event_effects, starting_events
from crmsim.sim.lifecycle import hours_available, plan_cost, reachable_stage
from crmsim.sim.market_research import tender_calendar
from crmsim.sim.notices import Notice, json_ready
from crmsim.sim.state import GameState, Tender
from crmsim.sim.tenders import (
    ABOVE_CAP,
    BELOW_COST,
    LATE,
    MALFORMED,
    NO_BOND,
    NO_CAPACITY,
    UNQUALIFIED,
    BidRecord,
    Bidder,
    Delivery,
    abnormally_low_above,
    below_required_service,
    bid_bond,
    check_bid,
    contract_load,
    invited_stage,
    score_bids,
    unit_delivery_cost,
    void_checks,
)

FirmIndex = int
RawDecision = Mapping[str, Any]


@dataclass(frozen=True)
class BidPreview:
    """One bid of the draft: what the tender office would make of it, what it costs, the rules it still faces.

    ``void_reason`` is the code the tender office would give the bid whatever the other teams bid (None: it
    passes checks 1-8 as things stand); a bid refused at submit has its problems in ``notices`` and no figures.
    """

    tender: str
    client: str | None
    price: float | None
    promised_service: float | None
    refused: bool  # the decision's validation refuses this bid
    void_reason: str | None = None
    award: str | None = None  # "scoring" or "lowest_price"
    volume: float | None = None
    delivery_cost: float | None = None  # own cost per unit at the promised service (the BELOW_COST limit)
    margin_per_unit: float | None = None  # price - delivery cost
    contract_value: float | None = None  # price x volume
    profit_if_won: float | None = None  # margin x volume, at the unit cost of the delivery period when announced
    bond: float | None = None  # bid bond pledged while the tender is open
    notices: tuple[Notice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "notices"}
        out["notices"] = [n.to_dict() for n in self.notices]
        return json_ready(out)


@dataclass(frozen=True)
class Projection:
    """The period's accounts projected from assumed sales (``assumptions`` says which), as the ledger books them.

    ``break_even_price`` is the mass-market price at which the projected net profit is zero with the same
    units sold (None with no units).
    """

    units: float
    customers: float
    price: float
    ledger: Ledger
    break_even_price: float | None
    assumptions: tuple[Notice, ...]

    @property
    def revenue(self) -> float:
        return self.ledger.revenue

    @property
    def operating_profit(self) -> float:
        return self.ledger.operating_profit

    @property
    def net_profit(self) -> float:
        return self.ledger.net_profit

    @property
    def cash_end(self) -> float:
        return self.ledger.cash_end

    def to_dict(self) -> dict[str, Any]:
        return json_ready({
            "units": self.units, "customers": self.customers, "price": self.price, "revenue": self.revenue,
            "operating_profit": self.operating_profit, "net_profit": self.net_profit, "cash_end": self.cash_end,
            "emergency_loan": self.ledger.emergency_loan, "break_even_price": self.break_even_price,
            "ledger": self.ledger.to_dict(), "assumptions": [n.to_dict() for n in self.assumptions],
        })


@dataclass(frozen=True)
class Preview:
    """A draft decision previewed (:func:`preview`).

    Attributes:
        valid: whether the draft would be accepted as it is (no ``problems``).
        decision: what the preview ran on: the draft with every refused field back at its standing value
            (or zero) and every refused bid left out.
        problems: the validation's problems (code INVALID), as the submit would report them.
        unit_cost: the firm's unit cost this period (after any cost shock starting now).
        costs: :func:`crmsim.sim.engine.planned_costs` of ``decision``: the known ledger lines, the bonds
            pledged, the cash after them, the capacity and the customers now.
        capacity: load, capacity and utilisation of the service staff after hires and fires, the knee and the
            quality factor (the share of the service level delivered).
        sales_hours: the activities' sales hours and the hours available (lifecycle cultivation; else empty).
        bids: one :class:`BidPreview` per bid of the draft, open tenders in publication order first.
        projection: the period's accounts projected from assumed sales.
        warnings: what will go wrong or cost the firm, and what it should know about its cultivation.
    """

    period: int
    firm: int
    valid: bool
    decision: Decision
    problems: tuple[Notice, ...]
    unit_cost: float
    costs: dict[str, float]
    capacity: dict[str, float]
    sales_hours: dict[str, float]
    bids: tuple[BidPreview, ...]
    projection: Projection
    warnings: tuple[Notice, ...]

    def notices(self) -> list[Notice]:
        """Every notice once: problems, each bid's (a refused bid's repeat problems, so they are left out here),
        the projection's assumptions, warnings."""
        bids = (n for b in self.bids if not b.refused for n in b.notices)
        return [*self.problems, *bids, *self.projection.assumptions, *self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (NaN and infinities as None)."""
        return json_ready({
            "period": self.period, "firm": self.firm, "valid": self.valid, "decision": self.decision.to_dict(),
            "problems": [n.to_dict() for n in self.problems], "unit_cost": self.unit_cost, "costs": self.costs,
            "capacity": self.capacity, "sales_hours": self.sales_hours, "bids": [b.to_dict() for b in self.bids],
            "projection": self.projection.to_dict(), "warnings": [n.to_dict() for n in self.warnings],
        })


def preview(
    state: GameState,
    firm: int,
    raw: RawDecision | Decision,
    own_last: Mapping[str, Any] | None = None,
    research: Mapping[str, Any] | None = None,
) -> Preview:
    """Preview a draft decision of `firm` for the period `state` opens (docs/rules.md, "Decision support").

    Works on a draft that is partly invalid: the validation's problems are reported, the refused fields
    fall back to their standing values (or zero) and refused bids are left out, and the rest is previewed.

    Args:
        state: the game before the period.
        firm: the firm's index.
        raw: the draft: form or JSON data, as submitted (or a Decision).
        own_last: the firm's own row of the last resolved period (``Observation.own_last``;
            ``PeriodResult.firm_rows[firm]``): its units sold are the projection's sales. None before period 1
            resolves: the projection then assumes the customers' usual buying.
        research: the firm's own market research report of the last period (``Observation.research``); a
            tender forecast in it tells which clients' tenders are coming, beyond the public calendar.

    Returns:
        The :class:`Preview`.

    Raises:
        ValueError: the game is over, or `firm` is not a live firm.
    """
    if state.finished:
        raise ValueError(f"the game is over after period {state.period - 1}")
    if not 0 <= firm < len(state.firms) or state.firms[firm].bankrupt:
        raise ValueError(f"firm: must be a live firm index; got {firm!r}")
    draft = raw.to_dict() if isinstance(raw, Decision) else raw
    decision, problems = usable_decision(state, firm, draft)
    p = blank_period(state, _namespace(state.population.supplier))
    p.decisions[firm], p.submitted[firm] = decision, True
    staff = staffing_and_finance(p)
    shocks = apply_event_effects(p)
    delivered = deliver_contracts(p, staff, shocks)
    me = bidder(p, staff, shocks, firm)
    cost_next = announced_unit_cost(state, float(shocks.unit_cost[firm]), shocks.unit_cost_factor)
    bids = bid_previews(p, staff, me, draft, problems, cost_next)
    deliveries = [x for x in delivered.deliveries if x.contract.firm == firm]
    projection = project(p, staff, shocks, firm, deliveries, own_last)
    warnings = [
        *capacity_warnings(p, staff, firm),
        *(Notice("DELIVERY_SHORTFALL", "warning", {"tender": x.contract.tender_id, "share": x.share, "service": x.service,
                                                   "penalty": x.penalty}) for x in deliveries if x.penalty > 0),
        *cash_warnings(p, staff, firm, projection.ledger),
        *price_warnings(decision, float(shocks.unit_cost[firm])),
        *cost_rise_warnings(state, float(shocks.unit_cost[firm]), cost_next),
        *hours_warnings(p, staff, firm, draft),
        *cultivation_warnings(state, firm, decision, draft, research),
    ]
    return Preview(
        period=state.period,
        firm=firm,
        valid=not problems,
        decision=decision,
        problems=tuple(Notice("INVALID", "error", {"field": x.field, "rule": x.rule, "value": x.value}, field=x.field) for x in problems),
        unit_cost=float(shocks.unit_cost[firm]),
        costs=planned_costs(state, firm, decision),
        capacity=capacity_figures(p, staff, firm),
        sales_hours=hours_figures(p, staff, firm, draft),
        bids=tuple(bids),
        projection=projection,
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------
# the draft: what validation refuses, and what can still be previewed


def usable_decision(state: GameState, firm: int, raw: Any) -> tuple[Decision, list[Problem]]:
    """The draft as the engine would take it, and the validation's problems.

    A valid draft is returned as validated. Otherwise the fields named by a problem are left out (a standing
    field keeps its standing value, a one-off field is zero) until the rest validates, as the engine opens
    a period (bids apart); the bids with no problem of their own are kept, as given, so that the tender
    office's rules (the bid limit included) can still be previewed.
    """
    try:
        return check_decision(state, firm, raw), []
    except DecisionError as exc:
        problems = list(exc.problems)
    if not isinstance(raw, Mapping):
        return state.firms[firm].standing, problems
    bad_bids = {_bid_of(x.field) for x in problems if _bid_of(x.field)}
    raw_bids = raw.get("bids")
    bids = {t: b for t, b in raw_bids.items() if t not in bad_bids} if isinstance(raw_bids, Mapping) else {}
    draft = {k: v for k, v in raw.items() if k != "bids"}
    current = [x for x in problems if not x.field.startswith("bids")]
    for _ in range(len(DECISION_FIELDS) + 1):
        for x in current:
            draft.pop(x.field.split(".", 1)[0], None)
        try:
            checked = check_decision(state, firm, draft)
        except DecisionError as exc:
            current = exc.problems
            continue
        return replace(checked, bids={t: _bid(b) for t, b in bids.items()}), problems
    return state.firms[firm].standing, problems


def _bid_of(field_name: str) -> str | None:
    """The tender id of a problem with one bid (``bids.<tender>...``), else None."""
    head, _, rest = field_name.partition(".")
    return rest.split(".", 1)[0] if head == "bids" and rest else None


def _bid(b: Any) -> Bid:
    """A bid that passed validation, as numbers (the form gives numeric strings)."""
    if isinstance(b, Bid):
        return b
    return Bid(float(str(b["price"]).strip()), float(str(b["promised_service"]).strip()))


# ---------------------------------------------------------------------------
# bids


def bid_previews(p: Period, staff: Staffing, me: Bidder, draft: Any, problems: Sequence[Problem], cost_next: float | None) -> list[BidPreview]:
    """Each bid of the draft: refused ones with their problems, the others through the tender office's checks 1-8
    in publication order, each with the rules that depend on the other teams' bids."""
    state, firm = p.state, me.firm
    decision = p.decisions[firm]
    raw_bids = draft.get("bids") if isinstance(draft, Mapping) else None
    raw_bids = raw_bids if isinstance(raw_bids, Mapping) else {}
    out: list[BidPreview] = []
    for tid in sorted(t for t in raw_bids if t not in decision.bids):
        mine = [x for x in problems if _bid_of(x.field) == str(tid)]
        out.append(BidPreview(tender=str(tid), client=None, price=_number(raw_bids[tid], "price"),
                              promised_service=_number(raw_bids[tid], "promised_service"), refused=True,
                              notices=tuple(Notice("INVALID", "error", {"field": x.field, "rule": x.rule, "value": x.value},
                                                   field=f"bids.{tid}") for x in mine)))
    over = {tid: entry[firm][1] for tid, entry in bids_by_tender(p, staff).items() if firm in entry}
    cash = max(0.0, me.cash)  # what the tender office starts each firm's bonds from
    earlier: list[Tender] = []  # tenders opened before, where the bid passes checks 1-8
    for tender in state.tenders:
        if tender.id not in decision.bids:
            continue
        bid = decision.bids[tender.id]
        k = p.client_pos[tender.client]
        rel = float(state.relationship[firm, k])
        stage = int(state.lifecycle.stage[firm, k]) if state.lifecycle is not None else None
        reason, _ = check_bid(tender, bid, me, rel, p.t, p.scenario, {firm: cash}, over[tender.id], stage)
        notices = [void_notice(r, tender, bid, me, rel, stage, p, staff) for r in all_void_reasons(p, tender, bid, me, rel, stage, reason)]
        if reason is None:
            notices += risk_notices(p, tender, bid, me, rel, stage, cash, earlier, over[tender.id])
            notices += rule_notices(p, tender, bid, firm, rel)
            earlier.append(tender)
        out.append(bid_figures(p, tender, bid, me, reason, cost_next, notices))
    out.sort(key=lambda b: b.refused)
    return out


def bid_figures(p: Period, tender: Tender, bid: Bid, me: Bidder, reason: str | None, cost_next: float | None,
                notices: list[Notice]) -> BidPreview:
    """A bid's costs: own delivery cost at the promised service, margin, contract value, profit if won, bond."""
    st = p.scenario.tenders
    cost = unit_delivery_cost(me.unit_cost, bid.promised_service, st.service_cost_per_unit)
    cost_then = unit_delivery_cost(cost_next, bid.promised_service, st.service_cost_per_unit) if cost_next is not None else cost
    return BidPreview(
        tender=tender.id, client=tender.client, price=bid.price, promised_service=bid.promised_service, refused=False,
        void_reason=reason, award=tender.award, volume=tender.volume, delivery_cost=cost, margin_per_unit=bid.price - cost,
        contract_value=bid.price * tender.volume, profit_if_won=(bid.price - cost_then) * tender.volume,
        bond=bid_bond(st.bond_rate, bid.price, tender.volume), notices=tuple(notices),
    )


#: the void reasons a team fixes in the bid itself (checks 4-7), listed together in the preview
FIXABLE_REASONS = (UNQUALIFIED, ABOVE_CAP, BELOW_COST, NO_CAPACITY)


def all_void_reasons(p: Period, tender: Tender, bid: Bid, me: Bidder, rel: float, stage: int | None, first: str | None) -> list[str]:
    """The tender office's void reason `first` (None: none), then every other reason the bid would still meet once
    that one is fixed (checks 4-7: service or invitation, cap, own cost, capacity), so a team sees them all at once."""
    if first is None:
        return []
    later = void_checks(tender, bid, me, rel, p.t, p.scenario.tenders.service_cost_per_unit, stage)
    return [first, *(r for r, _ in later if r != first and r in FIXABLE_REASONS)]


def void_notice(reason: str, tender: Tender, bid: Bid, me: Bidder, rel: float, stage: int | None, p: Period,
                staff: Staffing) -> Notice:
    """The notice of a void reason, with the limit the bid misses."""
    base = {"tender": tender.id}
    where = f"bids.{tender.id}"
    if reason == LATE:
        return Notice("VOID_LATE", "warning", base, where)
    if reason == MALFORMED:
        sales = int(staff.sales[me.firm])
        return Notice("VOID_OVER_BID_LIMIT", "warning",
                      {**base, "sales_staff": sales, "limit": sales * p.scenario.costs.bids_per_sales_staff}, where)
    if reason == UNQUALIFIED:
        if below_required_service(tender, bid.promised_service):
            return Notice("VOID_SERVICE_BELOW_REQUIRED", "warning",
                          {**base, "promised_service": bid.promised_service, "required_service": tender.required_service},
                          f"{where}.promised_service")
        if tender.min_stage is not None:
            return Notice("VOID_NOT_INVITED_STAGE", "warning",
                          {**base, "stage": STAGES[stage] if stage is not None else "none", "stage_needed": STAGES[tender.min_stage]}, where)
        return Notice("VOID_NOT_INVITED_RELATIONSHIP", "warning", {**base, "relationship": rel, "relationship_needed": tender.min_relationship}, where)
    if reason == ABOVE_CAP:
        return Notice("VOID_ABOVE_CAP", "warning", {**base, "price": bid.price, "cap": tender.price_cap}, f"{where}.price")
    if reason == BELOW_COST:
        cost = unit_delivery_cost(me.unit_cost, bid.promised_service, p.scenario.tenders.service_cost_per_unit)
        return Notice("VOID_BELOW_COST", "warning", {**base, "price": bid.price, "cost": cost, "promised_service": bid.promised_service},
                      f"{where}.price")
    if reason == NO_CAPACITY:
        return Notice("VOID_NO_CAPACITY", "warning", {**base, "load": me.load, "need": contract_load(tender), "capacity": me.capacity}, where)
    if reason == NO_BOND:
        return Notice("VOID_NO_BOND", "warning",
                      {**base, "bond": bid_bond(p.scenario.tenders.bond_rate, bid.price, tender.volume), "cash": max(0.0, me.cash)}, where)
    raise ValueError(f"reason: no notice for void reason {reason!r}")


def risk_notices(p: Period, tender: Tender, bid: Bid, me: Bidder, rel: float, stage: int | None, cash: float,
                 earlier: Sequence[Tender], over: bool) -> list[Notice]:
    """Voids that depend on the firm's own earlier tenders this period: a contract won earlier adds to the load
    the capacity check sees, and its bond stays pledged (worst case: every earlier bid wins)."""
    if not earlier:
        return []
    out: list[Notice] = []
    firm, st = me.firm, p.scenario.tenders
    names = [t.id for t in earlier]
    busier = replace(me, load=me.load + sum(contract_load(t) for t in earlier))
    reason, _ = check_bid(tender, bid, busier, rel, p.t, p.scenario, {firm: cash}, over, stage)
    if reason == NO_CAPACITY:
        out.append(Notice("RISK_NO_CAPACITY_IF_WON", "warning", {"tender": tender.id, "earlier": names, "load": busier.load,
                                                               "need": contract_load(tender), "capacity": me.capacity}, f"bids.{tender.id}"))
    left = cash - sum(bid_bond(st.bond_rate, p.decisions[firm].bids[t.id].price, t.volume) for t in earlier)
    reason, _ = check_bid(tender, bid, me, rel, p.t, p.scenario, {firm: left}, over, stage)
    if reason == NO_BOND:
        out.append(Notice("RISK_NO_BOND_IF_WON", "warning", {"tender": tender.id, "earlier": names, "cash": max(left, 0.0),
                                                           "bond": bid_bond(st.bond_rate, bid.price, tender.volume)}, f"bids.{tender.id}"))
    return out


def rule_notices(p: Period, tender: Tender, bid: Bid, firm: int, rel: float) -> list[Notice]:
    """The rules that depend on the other teams' bids, with this tender's numbers: the minimum of valid bids,
    the abnormally-low test, and how the award is made (lowest price, or the scores this bid would get)."""
    ratio = p.scenario.tenders.abnormally_low_ratio
    base = {"tender": tender.id}
    where = f"bids.{tender.id}"
    out = [Notice("RULE_MIN_VALID_BIDS", "info", {**base, "min_valid_bids": tender.min_valid_bids}, where)]
    if ratio > 0:
        out.append(Notice("RULE_ABNORMALLY_LOW", "info", {**base, "ratio": ratio, "price": bid.price,
                                                          "others_mean_above": abnormally_low_above(bid.price, ratio)}, where))
    if tender.award == "lowest_price":
        out.append(Notice("RULE_LOWEST_PRICE", "info", base, where))
    else:
        rec = BidRecord(tender.id, tender.client, firm, bid.price, bid.promised_service)
        score_bids([rec], tender.weights, {firm: rel})  # alone, it is the lowest valid price: the price score's most
        w_price, w_service, w_relationship = tender.weights
        out.append(Notice("RULE_SCORING", "info", {**base, "w_price": w_price, "w_service": w_service, "w_relationship": w_relationship,
                                                   "service_score": rec.service_score, "relationship_score": rec.relationship_score,
                                                   "price_score_max": rec.price_score}, where))
    return out


def _number(raw_bid: Any, key: str) -> float | None:
    """A number of a refused bid, when it reads as one (for the form to show it back)."""
    return _float(raw_bid.get(key)) if isinstance(raw_bid, Mapping) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------
# the projection


def project(p: Period, staff: Staffing, shocks: Shocks, firm: int, deliveries: list[Delivery],
            own_last: Mapping[str, Any] | None) -> Projection:
    """The period's ledger (:func:`crmsim.sim.engine.period_ledger`) with the assumed sales, the deliveries of the
    contracts due now, no instructor adjustment, and the emergency loan a shortfall would get."""
    d = p.decisions[firm]
    units, assumption = assumed_units(p, firm, own_last)
    customers = float(staff.customers_start[firm])
    ledger = period_ledger(
        p.scenario, p.state.firms[firm], d,
        customers=customers,
        revenue_market=d.price * units,
        units_sold=units,
        unit_cost=float(shocks.unit_cost[firm]),
        deliveries=deliveries,
        adjustment=0.0,
        debt=float(staff.debt[firm]),
        emergency=float(staff.emergency[firm]),
    )
    # net profit is linear in the price at fixed units: zero at price - net profit / units
    break_even = d.price - ledger.net_profit / units if units > 0 else None
    assumptions = (assumption, Notice("ASSUME_CUSTOMERS", "info", {"customers": customers}),
                   Notice("ASSUME_NO_NEW_CONTRACTS", "info", {}))
    return Projection(units=units, customers=customers, price=d.price, ledger=ledger, break_even_price=break_even,
                      assumptions=assumptions)


def assumed_units(p: Period, firm: int, own_last: Mapping[str, Any] | None) -> tuple[float, Notice]:
    """Units the projection assumes sold: last period's, times the change in the events' purchase factor
    (recessions, booms) from then to now; before any period, the firm's customers' usual buying (each
    customer's purchase propensity x units, the share-of-wallet base) times this period's purchase factor."""
    sc, price = p.scenario, p.decisions[firm].price
    factor = event_effects(sc, p.t).purchase_factor
    if own_last is not None and own_last.get("units_sold") is not None:
        last = float(own_last["units_sold"])
        then = event_effects(sc, int(own_last.get("period", p.t - 1))).purchase_factor
        change = factor / then if then > 0 else 1.0
        return last * change, Notice("ASSUME_LAST_UNITS", "info", {"units": last * change, "price": price, "units_last": last,
                                                                   "purchase_change": change})
    pop = p.state.population
    mine = _host(pop.supplier == firm)
    usual = float((_host(pop.p_buy)[mine].astype(float) * _host(pop.units)[mine]).sum()) * factor
    return usual, Notice("ASSUME_EXPECTED_UNITS", "info", {"units": usual, "price": price})


# ---------------------------------------------------------------------------
# warnings


def capacity_figures(p: Period, staff: Staffing, firm: int) -> dict[str, float]:
    """The service staff's load, capacity and utilisation after hires and fires, the knee and the quality factor."""
    return {"load": float(staff.load[firm]), "capacity": float(staff.capacity[firm]), "utilisation": float(staff.utilisation[firm]),
            "knee": p.scenario.market.utilisation_knee, "quality_factor": float(staff.quality_factor[firm])}


def capacity_warnings(p: Period, staff: Staffing, firm: int) -> list[Notice]:
    """Utilisation above the knee (``market.utilisation_knee``): delivered quality falls (docs/rules.md section 4.1)."""
    c = capacity_figures(p, staff, firm)
    level = p.decisions[firm].service_level
    if c["capacity"] <= 0:
        return [Notice("NO_SERVICE_CAPACITY", "warning", {"load": c["load"], "quality_factor": c["quality_factor"]}, "hire_service")]
    if c["utilisation"] > c["knee"]:
        return [Notice("UTILISATION_ABOVE_KNEE", "warning", {**c, "delivered_quality": level * c["quality_factor"]}, "hire_service")]
    return []


def cash_warnings(p: Period, staff: Staffing, firm: int, ledger: Ledger) -> list[Notice]:
    """Cash below zero before the emergency loan (its rate and the credit room), and bankruptcy if the loan falls short."""
    costs = p.scenario.costs
    if ledger.cash_before_emergency >= 0:
        return []
    out = [Notice("CASH_NEGATIVE", "warning", {"cash": ledger.cash_before_emergency, "loan": ledger.emergency_loan,
                                               "rate": costs.emergency_rate,
                                               "room": credit_room(float(staff.debt[firm]), float(staff.emergency[firm]), costs)})]
    if ledger.cash_end < 0:
        out.append(Notice("BANKRUPTCY_RISK", "warning", {"cash": ledger.cash_end}))
    return out


def price_warnings(decision: Decision, unit_cost: float) -> list[Notice]:
    """A mass-market price below the unit cost loses money on every unit."""
    if decision.price < unit_cost:
        return [Notice("PRICE_BELOW_UNIT_COST", "warning", {"price": decision.price, "unit_cost": unit_cost}, "price")]
    return []


def announced_unit_cost(state: GameState, unit_cost: float, factor_now: float) -> float | None:
    """The firm's unit cost next period, when a cost shock starting then is already announced (None otherwise:
    nothing is revealed before its news)."""
    nxt = state.period + 1
    shocks = [e for e in starting_events(state.scenario, nxt) if e.kind == "cost_shock"]
    if nxt > state.scenario.periods or not shocks or not all(e in announced_events(state.scenario, state.period) for e in shocks):
        return None
    return unit_cost * (event_effects(state.scenario, nxt).unit_cost_factor(factor_now) / factor_now)


def cost_rise_warnings(state: GameState, unit_cost: float, cost_next: float | None) -> list[Notice]:
    if cost_next is None or cost_next == unit_cost:
        return []
    return [Notice("COST_RISE_ANNOUNCED", "info", {"unit_cost": unit_cost, "unit_cost_next": cost_next, "period": state.period + 1})]


def _activities(draft: Any, state: GameState) -> dict[str, list[str]]:
    """The draft's sales activities that name a known client and activity (lifecycle cultivation)."""
    raw = draft.get("activities") if isinstance(draft, Mapping) else None
    if not isinstance(raw, Mapping) or state.scenario.cultivation.mode != "lifecycle":
        return {}
    known = state.scenario.cultivation.activities
    out = {}
    for cid, acts in raw.items():
        acts = [acts] if isinstance(acts, str) else acts
        if cid in state.scenario.client_ids and isinstance(acts, (list, tuple)):
            out[cid] = [a for a in acts if a in known]
    return out


def hours_figures(p: Period, staff: Staffing, firm: int, draft: Any) -> dict[str, float]:
    """Sales hours the draft's activities use and the hours the sales staff (after hires and fires) have."""
    settings = p.scenario.cultivation
    if settings.mode != "lifecycle":
        return {}
    sales = int(staff.sales[firm])
    return {"hours": plan_cost(_activities(draft, p.state), settings)[1], "hours_available": hours_available(sales, settings),
            "sales_staff": sales}


def hours_warnings(p: Period, staff: Staffing, firm: int, draft: Any) -> list[Notice]:
    h = hours_figures(p, staff, firm, draft)
    if not h or not h["hours"]:
        return []
    over = h["hours"] > h["hours_available"]
    return [Notice("SALES_HOURS_OVER" if over else "SALES_HOURS", "warning" if over else "info", h, "activities")]


def cultivation_warnings(state: GameState, firm: int, decision: Decision, draft: Any, research: Mapping[str, Any] | None) -> list[Notice]:
    """Cultivating a client the firm cannot bid for: no tender is awarded after this period, or the client's
    invited tenders need a stage the firm cannot reach in time (at most one stage a period); with the stage
    within reach, when it can first bid. Only public knowledge is used: the rules, the calendar of next
    period's tenders and the tender forecast the firm bought."""
    sc, t = state.scenario, state.period
    raw_cult = draft.get("cultivation") if isinstance(draft, Mapping) else None
    named = set(decision.cultivation) | set(decision.activities) | set(_activities(draft, state))
    if isinstance(raw_cult, Mapping):
        named |= {c for c, v in raw_cult.items() if c in sc.client_ids and (_float(v) or 0.0) > 0}
    last_tenders = sc.periods - 1  # no tender is published for the last period
    coming = _known_tenders(state, research)
    out: list[Notice] = []
    for cid in (c for c in sc.client_ids if c in named):
        where = f"activities.{cid}" if sc.cultivation.mode == "lifecycle" else f"cultivation.{cid}"
        if t + 1 > last_tenders:
            out.append(Notice("CULTIVATE_NO_TENDER_LEFT", "warning", {"client": cid, "reason": "the game's last tenders are awarded now"}, where))
            continue
        if coming.get("complete") and not any(q > t for q in coming["periods"].get(cid, ())):
            out.append(Notice("CULTIVATE_NO_TENDER_LEFT", "warning", {"client": cid, "reason": "none in your tender forecast"}, where))
            continue
        client = sc.client(cid)
        k = sc.client_ids.index(cid)
        need = invited_stage(client, sc)
        if need is not None:
            stage = int(state.lifecycle.stage[firm, k])
            if stage >= need:
                continue
            earliest = t + next(n for n in range(1, len(STAGES) + 1) if reachable_stage(stage, n) >= need)
            params = {"client": cid, "stage": STAGES[stage], "stage_needed": STAGES[need], "earliest": earliest}
            if earliest > last_tenders:
                out.append(Notice("CULTIVATE_STAGE_OUT_OF_REACH", "warning", {**params, "last_period": last_tenders}, where))
                continue
            missed = [q for q in coming["periods"].get(cid, ()) if t < q < earliest]
            if missed:
                out.append(Notice("CULTIVATE_STAGE_TOO_LATE", "warning", {**params, "tender_period": missed[0]}, where))
            else:
                out.append(Notice("CULTIVATE_STAGE_NEEDED", "info", params, where))
        elif client.closed and sc.cultivation.mode != "lifecycle" and state.relationship[firm, k] < client.min_relationship:
            out.append(Notice("CULTIVATE_RELATIONSHIP_NEEDED", "info", {"client": cid, "relationship": float(state.relationship[firm, k]),
                                                                        "relationship_needed": client.min_relationship}, where))
    return out


def _known_tenders(state: GameState, research: Mapping[str, Any] | None) -> dict[str, Any]:
    """Scheduled tenders the firm knows of: the public calendar (next period) and its bought forecast, by client;
    ``complete`` when the forecast reaches the game's last tenders."""
    periods: dict[str, set[int]] = {}
    entries = list(tender_calendar(state.scenario, state.period))
    forecast = (research or {}).get("forecast") or []
    entries += [e for e in forecast if e.get("period", 0) > state.period]
    for e in entries:
        periods.setdefault(e["client"], set()).add(int(e["period"]))
    bought_at = state.period - 1  # a forecast bought last period covers the periods after it, up to its horizon
    complete = "forecast" in (research or {}) and bought_at + state.scenario.research.forecast_horizon >= state.scenario.periods - 1
    return {"periods": {c: sorted(v) for c, v in periods.items()}, "complete": complete}


# ---------------------------------------------------------------------------
# helpers


def _namespace(a: Any) -> Any:
    """The array module of `a` (numpy, or cupy for a population on a GPU)."""
    return np if isinstance(a, np.ndarray) else sys.modules[type(a).__module__.split(".")[0]]


def _host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)
