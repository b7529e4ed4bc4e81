"""Tests for sim/preview.py: the decision preview, each item worked by hand on classroom-v2's numbers.

classroom-v2 (3,000 customers, seed 3): every firm starts with ¥250,000, 3 sales and 10 service staff,
unit cost 55, price 100, service 0.6, care and advertising 10,000 each; salaries 6,000 (sales) and 3,000
(service); 100 customers per service head; service cost 35 per customer at service 1 and 40 a unit for
contracts; bond 2%; abnormally low below 80%. Period 1 opens mengniu-01 (2,711 units, cap 115, service
0.5, at least 2 valid bids, weights 0.4/0.3/0.3) and haier-01 (3,271 units, cap 120, service 0.7). Firm 0
(Aurora) has 221 customers at the start.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.engine import bot_decisions, check_decision, initial_state, period_rng, resolve_period
from crmsim.sim.model import CRMModel
from crmsim.sim.notices import MESSAGES, PARAM_KINDS, message
from crmsim.sim.preview import preview, usable_decision

SMALL = {"market.customers": 3000, "market.track_customers": 100}
SEED = 3


@pytest.fixture(scope="module")
def v2():
    return load_scenario("classroom-v2", overrides=SMALL)


@pytest.fixture(scope="module")
def start(v2):
    return initial_state(v2, SEED)


@pytest.fixture(scope="module")
def period2(start):
    """The state as period 2 opens, nobody having decided in period 1."""
    return resolve_period(start, {}, period_rng(SEED, 1))[0]


def draft(**kw):
    return {"price": 100, "service_level": 0.6, **kw}


def bid_of(pv, tender):
    return next(b for b in pv.bids if b.tender == tender)


def codes(notices):
    return [n.code for n in notices]


def one(notices, code):
    found = [n for n in notices if n.code == code]
    assert len(found) == 1, (code, codes(notices))
    return found[0]


def test_the_hand_worked_numbers_assume_classroom_v2_and_seed_3(v2, start):
    f = start.firms[0]
    assert (f.cash, f.sales_staff, f.service_staff, f.unit_cost) == (250_000.0, 3, 10, 55.0)
    assert [(t.id, t.volume, t.price_cap, t.required_service, t.min_valid_bids) for t in start.tenders] == [
        ("mengniu-01", 2711, 115.0, 0.5, 2), ("haier-01", 3271, 120.0, 0.7, 2)]
    assert int((start.population.supplier == 0).sum()) == 221
    assert (v2.tenders.service_cost_per_unit, v2.tenders.bond_rate, v2.tenders.abnormally_low_ratio) == (40, 0.02, 0.8)


# ---------------------------------------------------------------------------
# bids the tender office would void, with the limit each one misses


def test_a_bid_above_the_cap_is_flagged_with_the_cap(start):
    pv = preview(start, 0, draft(bids={"mengniu-01": {"price": 116, "promised_service": 0.6}}))
    b = bid_of(pv, "mengniu-01")
    n = one(b.notices, "VOID_ABOVE_CAP")
    assert b.void_reason == "ABOVE_CAP" and pv.valid
    assert n.params == {"tender": "mengniu-01", "price": 116.0, "cap": 115.0} and n.field == "bids.mengniu-01.price"
    assert n.message == "mengniu-01: price ¥116.00 is above the price cap ¥115.00 (ABOVE_CAP)"


def test_a_bid_void_for_several_reasons_lists_them_all_the_tender_offices_first(start):
    """Service below the requirement and a price above the cap: the tender office voids it UNQUALIFIED (checked
    first), and the preview lists the cap too, so fixing one does not leave the bid void for the other."""
    pv = preview(start, 0, draft(bids={"haier-01": {"price": 150, "promised_service": 0.3}}))
    b = bid_of(pv, "haier-01")
    assert b.void_reason == "UNQUALIFIED"
    assert codes(b.notices)[:2] == ["VOID_SERVICE_BELOW_REQUIRED", "VOID_ABOVE_CAP"]
    assert one(b.notices, "VOID_ABOVE_CAP").params == {"tender": "haier-01", "price": 150.0, "cap": 120.0}
    fixed = bid_of(preview(start, 0, draft(bids={"haier-01": {"price": 150, "promised_service": 0.8}})), "haier-01")
    assert fixed.void_reason == "ABOVE_CAP" and "VOID_SERVICE_BELOW_REQUIRED" not in codes(fixed.notices)


def test_a_bid_below_the_firms_own_cost_is_flagged_with_that_cost(start):
    """Own cost at promised service 0.6: 55 + 40 x 0.6 = 79; a price below it is void, 79 itself is not."""
    pv = preview(start, 0, draft(bids={"mengniu-01": {"price": 78.99, "promised_service": 0.6}}))
    b = bid_of(pv, "mengniu-01")
    n = one(b.notices, "VOID_BELOW_COST")
    assert b.void_reason == "BELOW_COST" and n.params["cost"] == pytest.approx(79.0) and b.delivery_cost == pytest.approx(79.0)
    assert n.message == "mengniu-01: price ¥78.99 is below your own cost of ¥79.00 a unit at promised service 0.6 (BELOW_COST)"
    ok = bid_of(preview(start, 0, draft(bids={"mengniu-01": {"price": 79, "promised_service": 0.6}})), "mengniu-01")
    assert ok.void_reason is None and ok.margin_per_unit == pytest.approx(0.0)


def test_a_promise_below_the_required_service_is_flagged_with_the_requirement(start):
    pv = preview(start, 0, draft(bids={"haier-01": {"price": 100, "promised_service": 0.6}}))
    n = one(bid_of(pv, "haier-01").notices, "VOID_SERVICE_BELOW_REQUIRED")
    assert bid_of(pv, "haier-01").void_reason == "UNQUALIFIED"
    assert n.params == {"tender": "haier-01", "promised_service": 0.6, "required_service": 0.7}


def test_an_invited_tender_below_the_stage_is_flagged_with_the_stage(period2):
    assert any(t.id == "motorola-02" and t.closed for t in period2.tenders)
    pv = preview(period2, 0, draft(bids={"motorola-02": {"price": 100, "promised_service": 0.7}}))
    n = one(bid_of(pv, "motorola-02").notices, "VOID_NOT_INVITED_STAGE")
    assert n.params == {"tender": "motorola-02", "stage": "potential", "stage_needed": "evaluation"}


def test_no_capacity_is_flagged_with_load_and_capacity(start):
    """Fire 8 of 10 service staff: capacity 2 x 100 = 200 < load 221 + 2,711 x 0.02 = 54.22."""
    pv = preview(start, 0, draft(fire_service=8, bids={"mengniu-01": {"price": 100, "promised_service": 0.6}}))
    n = one(bid_of(pv, "mengniu-01").notices, "VOID_NO_CAPACITY")
    assert n.params["load"] == 221.0 and n.params["need"] == pytest.approx(54.22) and n.params["capacity"] == 200.0


def test_no_bond_is_flagged_with_the_bond_and_the_cash_after_borrowing(v2):
    """With ¥5,000 of cash the bond 2% x 100 x 2,711 = 5,422 is not covered; borrowing 1,000 covers it."""
    poor = initial_state(load_scenario("classroom-v2", overrides={**SMALL, "firms.cash": 5000}), SEED)
    bid = {"mengniu-01": {"price": 100, "promised_service": 0.6}}
    n = one(bid_of(preview(poor, 0, draft(bids=bid)), "mengniu-01").notices, "VOID_NO_BOND")
    assert n.params["bond"] == pytest.approx(5422.0) and n.params["cash"] == 5000.0
    assert bid_of(preview(poor, 0, draft(bids=bid, borrow=1000)), "mengniu-01").void_reason is None


def test_a_late_decision_voids_its_bids(start):
    pv = preview(start, 0, draft(late=True, bids={"mengniu-01": {"price": 100, "promised_service": 0.6}}))
    assert bid_of(pv, "mengniu-01").void_reason == "LATE" and "VOID_LATE" in codes(bid_of(pv, "mengniu-01").notices)


def test_a_bid_beyond_the_bid_limit_is_flagged_and_still_previewed(start):
    """Firing all 3 sales staff leaves a bid limit of 0: the submit refuses the bids, and the tender office would void them."""
    pv = preview(start, 0, draft(fire_sales=3, bids={"mengniu-01": {"price": 100, "promised_service": 0.6}}))
    assert not pv.valid and [p.params["field"] for p in pv.problems] == ["bids"]
    n = one(bid_of(pv, "mengniu-01").notices, "VOID_OVER_BID_LIMIT")
    assert bid_of(pv, "mengniu-01").void_reason == "MALFORMED" and n.params == {"tender": "mengniu-01", "sales_staff": 0, "limit": 0}


def test_capacity_and_bonds_of_earlier_tenders_are_flagged_as_risks(v2):
    """Tenders open in publication order: mengniu-01, then haier-01. With 3 service staff (capacity 300) each
    bid alone fits (221 + 54.22, 221 + 65.42) but not both (221 + 54.22 + 65.42 = 340.64); with ¥10,000 each
    bond alone is covered (5,422 and 2% x 100 x 3,271 = 6,542) but not both (10,000 - 5,422 = 4,578)."""
    st = initial_state(load_scenario("classroom-v2", overrides={**SMALL, "firms.cash": 10_000}), SEED)
    bids = {"mengniu-01": {"price": 100, "promised_service": 0.7}, "haier-01": {"price": 100, "promised_service": 0.7}}
    pv = preview(st, 0, draft(fire_service=7, bids=bids))
    assert [b.void_reason for b in pv.bids] == [None, None]
    assert not any(n.code.startswith("RISK") for n in bid_of(pv, "mengniu-01").notices)
    cap = one(bid_of(pv, "haier-01").notices, "RISK_NO_CAPACITY_IF_WON")
    bond = one(bid_of(pv, "haier-01").notices, "RISK_NO_BOND_IF_WON")
    assert cap.params["earlier"] == ["mengniu-01"] and cap.params["load"] == pytest.approx(275.22)
    assert cap.params["need"] == pytest.approx(65.42) and cap.params["capacity"] == 300.0
    assert bond.params["cash"] == pytest.approx(4578.0) and bond.params["bond"] == pytest.approx(6542.0)


# ---------------------------------------------------------------------------
# the rules that depend on the other teams' bids


def test_the_rules_that_depend_on_other_bids_are_stated_with_the_tenders_numbers(start):
    """mengniu-01: at least 2 valid bids; void below 80% of the others' mean, so a price of 100 is void if they
    average above 125; scored 0.4/0.3/0.3: service 0.3 x 100 x 0.6 = 18, relationship 0.3 x 100 x 0.05 = 1.5
    (potential stage), price at most 40."""
    b = bid_of(preview(start, 0, draft(bids={"mengniu-01": {"price": 100, "promised_service": 0.6}})), "mengniu-01")
    assert one(b.notices, "RULE_MIN_VALID_BIDS").params["min_valid_bids"] == 2
    low = one(b.notices, "RULE_ABNORMALLY_LOW")
    assert low.params["ratio"] == 0.8 and low.params["others_mean_above"] == pytest.approx(125.0)
    assert "yours, ¥100.00, is void if they average more than ¥125.00" in low.message
    s = one(b.notices, "RULE_SCORING").params
    assert (s["service_score"], s["relationship_score"], s["price_score_max"]) == pytest.approx((18.0, 1.5, 40.0))
    assert (b.bond, b.contract_value, b.profit_if_won) == pytest.approx((5422.0, 271_100.0, (100 - 79) * 2711))


def test_a_price_type_tender_states_that_the_lowest_valid_price_wins(period2):
    wahaha = next(t for t in period2.tenders if t.client == "wahaha")
    b = bid_of(preview(period2, 0, draft(bids={wahaha.id: {"price": 100, "promised_service": 0.5}})), wahaha.id)
    assert b.award == "lowest_price" and "RULE_LOWEST_PRICE" in codes(b.notices) and "RULE_SCORING" not in codes(b.notices)


# ---------------------------------------------------------------------------
# costs and the projection


def test_the_projection_from_last_periods_sales_worked_by_hand(start):
    """1,000 units at 100, unit cost 55; salaries 3 x 6,000 + 10 x 3,000 = 48,000; service 221 x 35 x 0.6 = 4,641;
    care and advertising 10,000 each: net profit 100,000 - 55,000 - 48,000 - 4,641 - 20,000 = -27,641; break-even
    price 100 + 27,641 / 1,000 = 127.641; cash 250,000 - 27,641."""
    pv = preview(start, 0, draft(), own_last={"period": 0, "units_sold": 1000.0})
    pj = pv.projection
    assert (pj.units, pj.customers, pv.unit_cost) == (1000.0, 221.0, 55.0)
    assert (pj.ledger.revenue_market, pj.ledger.cost_of_goods, pj.ledger.salaries) == pytest.approx((100_000.0, 55_000.0, 48_000.0))
    assert pj.ledger.service_cost == pytest.approx(4641.0)
    assert pj.net_profit == pytest.approx(-27_641.0) and pj.break_even_price == pytest.approx(127.641)
    assert pj.cash_end == pytest.approx(222_359.0)
    assert one(pj.assumptions, "ASSUME_LAST_UNITS").params["purchase_change"] == 1.0
    # the known lines are the cost preview's
    assert all(pv.costs[k] == getattr(pj.ledger, k) for k in ("salaries", "hiring", "care", "advertising", "interest", "service_cost"))
    # at the break-even price the projected net profit is zero
    again = preview(start, 0, draft(price=pj.break_even_price), own_last={"period": 0, "units_sold": 1000.0})
    assert again.projection.net_profit == pytest.approx(0.0, abs=1e-6)


def test_before_any_sales_the_projection_assumes_the_customers_usual_buying(start):
    pop = start.population
    mine = pop.supplier == 0
    usual = float((pop.p_buy[mine].astype(float) * pop.units[mine]).sum())
    pj = preview(start, 0, draft()).projection
    assert pj.units == pytest.approx(usual) and one(pj.assumptions, "ASSUME_EXPECTED_UNITS").params["units"] == pytest.approx(usual)


def test_a_recession_starting_now_scales_last_periods_units(v2):
    """classroom-v2's recession (x 0.85) starts in period 8: period 7's units are scaled by 0.85."""
    st = initial_state(v2, SEED)
    for t in range(1, 8):
        st = resolve_period(st, {}, period_rng(SEED, t))[0]
    pj = preview(st, 0, draft(), own_last={"period": 7, "units_sold": 2000.0}).projection
    assert pj.units == pytest.approx(1700.0) and one(pj.assumptions, "ASSUME_LAST_UNITS").params["purchase_change"] == pytest.approx(0.85)


def test_an_announced_cost_rise_prices_the_contracts_delivery(v2):
    """The 12% cost rise of period 6 is announced in period 5: a contract won then is delivered at 55 x 1.12 = 61.6."""
    st = initial_state(v2, SEED)
    for t in range(1, 5):
        st = resolve_period(st, {}, period_rng(SEED, t))[0]
    assert st.period == 5
    tid = next(t.id for t in st.tenders if t.client == "mengniu")
    pv = preview(st, 0, draft(bids={tid: {"price": 100, "promised_service": 0.6}}))
    n = one(pv.warnings, "COST_RISE_ANNOUNCED")
    assert n.params["unit_cost_next"] == pytest.approx(61.6) and n.params["period"] == 6
    b = bid_of(pv, tid)
    assert b.delivery_cost == pytest.approx(79.0) and b.profit_if_won == pytest.approx((100 - 61.6 - 24) * b.volume)
    before = initial_state(v2, SEED)
    assert "COST_RISE_ANNOUNCED" not in codes(preview(before, 0, draft()).warnings)  # not yet announced in period 1


# ---------------------------------------------------------------------------
# warnings


def test_utilisation_above_the_knee_is_warned_with_the_quality_delivered(start):
    """2 service staff: utilisation 221 / 200 = 1.105 > 0.8; quality factor 1 - 2.5 x (1.105 - 0.8) = 0.2375,
    so service 0.6 delivers 0.1425."""
    n = one(preview(start, 0, draft(fire_service=8)).warnings, "UTILISATION_ABOVE_KNEE")
    assert n.params["utilisation"] == pytest.approx(1.105) and n.params["knee"] == 0.8
    assert n.params["quality_factor"] == pytest.approx(0.2375) and n.params["delivered_quality"] == pytest.approx(0.1425)
    assert "UTILISATION_ABOVE_KNEE" not in codes(preview(start, 0, draft()).warnings)  # 221 / 1,000


def test_negative_cash_is_warned_with_the_emergency_loan_its_rate_and_the_credit_room(v2):
    poor = initial_state(load_scenario("classroom-v2", overrides={**SMALL, "firms.cash": 5000}), SEED)
    pv = preview(poor, 0, draft(), own_last={"period": 0, "units_sold": 1000.0})
    n = one(pv.warnings, "CASH_NEGATIVE")
    assert n.params["cash"] == pytest.approx(5000 - 27_641) and n.params["loan"] == pytest.approx(22_641)
    assert (n.params["rate"], n.params["room"]) == (0.04, 150_000.0) and "BANKRUPTCY_RISK" not in codes(pv.warnings)
    tight = initial_state(load_scenario("classroom-v2", overrides={**SMALL, "firms.cash": 5000, "costs.credit_line": 10_000}), SEED)
    pv = preview(tight, 0, draft(), own_last={"period": 0, "units_sold": 1000.0})
    assert one(pv.warnings, "CASH_NEGATIVE").params["loan"] == 10_000.0
    assert one(pv.warnings, "BANKRUPTCY_RISK").params["cash"] == pytest.approx(5000 - 27_641 + 10_000)


def test_a_price_below_unit_cost_is_warned(start):
    assert one(preview(start, 0, draft(price=50)).warnings, "PRICE_BELOW_UNIT_COST").params == {"price": 50.0, "unit_cost": 55.0}


def test_sales_hours_used_and_available(start):
    """Investigating two clients takes 2 x 8 = 16 of 3 x 40 = 120 hours; seven clients after firing two sales staff
    need 56 of 40 hours: refused, and warned with both numbers."""
    pv = preview(start, 0, draft(activities={"mengniu": ["investigate"], "haier": ["investigate"]}))
    assert one(pv.warnings, "SALES_HOURS").params == {"hours": 16.0, "hours_available": 120.0, "sales_staff": 3}
    plan = {c: ["investigate"] for c in start.scenario.client_ids}
    pv = preview(start, 0, draft(activities=plan, fire_sales=2))
    assert not pv.valid and one(pv.warnings, "SALES_HOURS_OVER").params == {"hours": 56.0, "hours_available": 40.0, "sales_staff": 1}


def test_cultivating_an_invited_client_says_when_the_firm_can_first_bid(start):
    """From potential, evaluation is two stages away (at most one a period): the earliest bid is in period 3, too
    late for motorola's tender in period 2 (public in the calendar); lenovo's first tender is not in the calendar."""
    pv = preview(start, 0, draft(activities={"motorola": ["investigate"], "lenovo": ["investigate"]}))
    late = one(pv.warnings, "CULTIVATE_STAGE_TOO_LATE")
    assert late.params == {"client": "motorola", "stage": "potential", "stage_needed": "evaluation", "earliest": 3, "tender_period": 2}
    assert one(pv.warnings, "CULTIVATE_STAGE_NEEDED").params["client"] == "lenovo"


def test_cultivating_a_client_the_firm_cannot_bid_for_is_warned():
    """A four-period game awards its last tenders in period 3: in period 2 evaluation is out of reach from potential,
    and in period 3 no tender is awarded after it."""
    sc = load_scenario("classroom-v2", overrides={**SMALL, "periods": 4, "events": []})
    st = resolve_period(initial_state(sc, SEED), {}, period_rng(SEED, 1))[0]
    n = one(preview(st, 0, draft(activities={"motorola": ["investigate"]})).warnings, "CULTIVATE_STAGE_OUT_OF_REACH")
    assert (n.params["earliest"], n.params["last_period"]) == (4, 3)
    st = resolve_period(st, {}, period_rng(SEED, 2))[0]
    n = one(preview(st, 0, draft(activities={"mengniu": ["investigate"]})).warnings, "CULTIVATE_NO_TENDER_LEFT")
    assert n.params["client"] == "mengniu" and n.field == "activities.mengniu"


def test_a_bought_forecast_that_reaches_the_end_tells_of_clients_with_no_tender_left():
    """In a six-period game a forecast bought in period 3 (horizon 3) covers periods 4 and 5, the last tenders.
    Cultivating in period 4 helps tenders from period 5 on: mengniu's is one; yili (every 3 periods from 3) has
    none left, which only the forecast's buyer is told."""
    sc = load_scenario("classroom-v2", overrides={**SMALL, "periods": 6, "events": []})
    st = initial_state(sc, SEED)
    for t in (1, 2):
        st = resolve_period(st, {}, period_rng(SEED, t))[0]
    st, res = resolve_period(st, {0: _checked(st, 0, {"research": {"forecast": True}})}, period_rng(SEED, 3))
    forecast = res.research[0]
    assert sorted({(e["period"], e["client"]) for e in forecast["forecast"]}) == [
        (4, "chinamobile"), (4, "haier"), (4, "wahaha"), (5, "mengniu"), (5, "motorola")]
    pv = preview(st, 0, draft(activities={"yili": ["investigate"], "mengniu": ["investigate"]}), research=forecast)
    assert one(pv.warnings, "CULTIVATE_NO_TENDER_LEFT").params == {"client": "yili", "reason": "none in your tender forecast"}
    assert "CULTIVATE_NO_TENDER_LEFT" not in codes(preview(st, 0, draft(activities={"yili": ["investigate"]})).warnings)


def _checked(state, firm, extra):
    return check_decision(state, firm, draft(**extra))


def test_cultivating_by_spend_an_invited_client_states_the_relationship_it_needs():
    """classroom-v1 cultivates by spend: motorola invites firms with R >= 0.25; every firm starts at 0.1."""
    v1 = load_scenario("classroom-v1", overrides=SMALL)
    st = resolve_period(initial_state(v1, SEED), {}, period_rng(SEED, 1))[0]
    moto = next(t for t in st.tenders if t.client == "motorola")
    pv = preview(st, 0, draft(cultivation={"motorola": 5000}, bids={moto.id: {"price": 100, "promised_service": 0.8}}))
    r = float(st.relationship[0, v1.client_ids.index("motorola")])
    n = one(pv.warnings, "CULTIVATE_RELATIONSHIP_NEEDED")
    assert n.params == {"client": "motorola", "relationship": r, "relationship_needed": 0.25} and n.field == "cultivation.motorola"
    v = one(bid_of(pv, moto.id).notices, "VOID_NOT_INVITED_RELATIONSHIP")
    assert v.params["relationship_needed"] == 0.25 and pv.sales_hours == {} and pv.costs["cultivation"] == 5000.0


# ---------------------------------------------------------------------------
# a partly invalid draft


def test_a_partly_invalid_draft_reports_its_problems_and_previews_the_rest(start):
    raw = draft(price=250, colour="red", hire_service=2,
                bids={"mengniu-01": {"price": 116, "promised_service": 0.6}, "nope-01": {"price": 1, "promised_service": 0.5}})
    pv = preview(start, 0, raw)
    assert not pv.valid
    assert sorted(p.params["field"] for p in pv.problems) == ["bids.nope-01", "colour", "price"]
    assert pv.decision.price == 100.0 and pv.decision.hire_service == 2  # the refused price is back at its standing value
    assert pv.costs["hiring"] == 6000.0 and pv.capacity["capacity"] == 1200.0
    assert bid_of(pv, "mengniu-01").void_reason == "ABOVE_CAP"
    refused = bid_of(pv, "nope-01")
    assert refused.refused and refused.price == 1.0 and codes(refused.notices) == ["INVALID"]
    assert codes(pv.notices()).count("INVALID") == 3  # each problem once
    assert pv.bids[-1] is refused


def test_usable_decision_of_a_valid_draft_is_the_validated_decision(start):
    d, problems = usable_decision(start, 0, draft(price="98.5", hire_sales=1))
    assert problems == [] and d.price == 98.5 and d.hire_sales == 1


def test_the_preview_is_json_ready_and_changes_nothing(start):
    supplier = start.population.supplier.copy()
    firms = start.firms
    pv = preview(start, 0, draft(fire_service=8, bids={"mengniu-01": {"price": 116, "promised_service": 0.6}}))
    out = json.loads(json.dumps(pv.to_dict(), allow_nan=False))
    assert out["bids"][0]["notices"][0]["message"].startswith("mengniu-01: price ¥116.00")
    assert out["projection"]["ledger"]["salaries"] == 18_000 + 2 * 3000
    assert np.array_equal(start.population.supplier, supplier) and start.firms is firms


def test_every_message_renders_and_every_param_has_a_kind():
    samples = {"money": 1234.5, "percent": 0.8, "level": 0.6, "points": 12.34, "number": 221.0, "count": 3, "text": "mengniu-01",
               "value": "red", "list": ["mengniu-01", "haier-01"]}
    for code, text in MESSAGES.items():
        names = re.findall(r"%\((\w+)\)s", text)
        assert all(n in PARAM_KINDS for n in names), (code, names)
        assert "%(" not in message(code, {n: samples[PARAM_KINDS[n]] for n in names})
    assert message("VOID_NO_BOND", {"tender": "t", "bond": 5422, "cash": -13767.5}) == \
        "t: the bid bond ¥5,422.00 exceeds the cash available for bonds, -¥13,767.50 (NO_BOND)"


# ---------------------------------------------------------------------------
# the preview agrees with the engine


@pytest.mark.parametrize("name", ["classroom-v2", "classroom-v1"])
def test_the_preview_agrees_with_the_tender_office_and_the_ledger_over_a_played_game(name):
    """Bots play six periods; each bot decision is previewed before the period resolves. A void reason the preview
    gives is the one the tender office publishes, a qualification, cap, cost or bid-limit void is always foreseen,
    and the projected ledger's decided lines and contract deliveries are the booked ones."""
    sc = load_scenario(name, overrides=SMALL)
    lineup = ["balanced", "price_cutter", "premium", "relationship", "reckless" if name == "classroom-v2" else "adaptive", "random"]
    model = CRMModel(sc, seed=SEED, strategies=lineup, collect=False)
    foreseen = 0
    for _ in range(6):
        bots = {a.index: a.strategy for a in model.firm_agents}
        decisions = bot_decisions(model.state, bots, model.results, model.seed)
        last = model.results[-1] if model.results else None
        previews = {i: preview(model.state, i, d, last.firm_rows[i] if last else None) for i, d in decisions.items()}
        model.pending.update(decisions)
        model.step()
        res = model.results[-1]
        for o, b in res.all_bids():
            pb = bid_of(previews[b.firm], b.tender)
            if pb.void_reason is not None:
                assert pb.void_reason == b.void_reason, (b.tender, b.firm)
                foreseen += 1
            if b.void_reason in ("UNQUALIFIED", "ABOVE_CAP", "BELOW_COST", "MALFORMED", "LATE"):
                assert pb.void_reason == b.void_reason, (b.tender, b.firm)
        for i, pv in previews.items():
            got, booked = pv.projection.ledger, res.ledgers[i]
            for k in ("salaries", "hiring", "severance", "care", "advertising", "cultivation", "research", "retention", "interest",
                      "borrowing", "repayment", "revenue_contracts", "penalties"):
                assert getattr(got, k) == getattr(booked, k), (res.period, i, k)
    assert foreseen > 0
