"""The period pipeline: purity, determinism, conservation, standing decisions, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crmsim.agents.bots import lineup
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.sim.decisions import Bid, Decision, DecisionError
from crmsim.sim.engine import initial_state, period_rng, resolve_period
from crmsim.sim.model import CRMModel


def play(scenario, seed, strategies=None, periods=None):
    model = CRMModel(scenario, seed=seed, strategies=strategies or lineup(None, scenario.firms.count))
    for _ in range(periods or scenario.periods):
        if model.finished:
            break
        model.step()
    return model


def test_importing_sim_does_not_import_flask():
    """The engine is pure: importing sim (and its model) never pulls in the web layer."""
    code = "import sys, crmsim.sim, crmsim.sim.model, crmsim.sim.engine, crmsim.agents.bots; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", list_scenarios())
def test_same_seed_same_decisions_give_identical_frames(name):
    """Determinism: two runs with the same scenario, seed and bots give exactly equal frames."""
    scenario = load_scenario(name)
    periods = 3 if scenario.market.customers > 100_000 else None
    a = play(scenario, 11, periods=periods).frames()
    b = play(scenario, 11, periods=periods).frames()
    assert a.keys() == b.keys()
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)


def test_different_seed_gives_different_customer_outcomes(small_classroom):
    a = play(small_classroom, 1).frames()["firms"]
    b = play(small_classroom, 2).frames()["firms"]
    assert not np.array_equal(a["customers"].to_numpy(), b["customers"].to_numpy())


def test_resolve_period_is_pure(small_classroom):
    """resolve_period never changes the state it is given: resolving twice gives equal results."""
    state = initial_state(small_classroom, 5)
    supplier_before = state.population.supplier.copy()
    rel_before = state.relationship.copy()
    s1, r1 = resolve_period(state, {}, period_rng(5, 1))
    s2, r2 = resolve_period(state, {}, period_rng(5, 1))
    assert np.array_equal(state.population.supplier, supplier_before)
    assert np.array_equal(state.relationship, rel_before)
    assert state.period == 1 and s1.period == 2
    assert r1.firm_rows == r2.firm_rows
    assert np.array_equal(s1.population.satisfaction, s2.population.satisfaction)


def test_customers_are_conserved_every_period(small_classroom):
    """Every customer is with exactly one live firm or a prospect."""
    model = CRMModel(small_classroom, seed=3, strategies=lineup(None, 6))
    n = small_classroom.market.customers
    while not model.finished:
        model.step()
        r = model.results[-1]
        served = sum(row["customers"] for row in r.firm_rows)
        assert served + r.market["prospects"] == n
        sup = model.state.population.supplier
        for f in model.state.firms:
            if f.bankrupt:
                assert int((sup == f.index).sum()) == 0


def test_silent_firm_keeps_standing_decision_and_bids_nothing(small_classroom):
    state = initial_state(small_classroom, 2)
    d = Decision(price=90.0, service_level=0.7, care_budget=5000, advertising_budget=0)
    s1, r1 = resolve_period(state, {0: d}, period_rng(2, 1))
    assert s1.firms[0].standing.price == 90.0
    s2, r2 = resolve_period(s1, {}, period_rng(2, 2))
    assert r2.decisions[0].price == 90.0 and r2.decisions[0].service_level == 0.7
    assert r2.decisions[0].bids == {} and r2.submitted[0] is False
    assert any(e["kind"] == "standing_decision" and e["firm"] == 0 for e in r2.events)


def test_invalid_decision_is_rejected_before_anything_resolves(small_classroom):
    state = initial_state(small_classroom, 2)
    bad = Decision(price=-5.0, service_level=2.0)
    with pytest.raises(DecisionError) as err:
        resolve_period(state, {0: bad}, period_rng(2, 1))
    fields = {p.field for p in err.value.problems}
    assert {"price", "service_level"} <= fields
    assert state.period == 1


def test_game_ends_after_the_last_period(small_classroom):
    model = play(small_classroom, 4)
    assert model.finished and len(model.results) == small_classroom.periods
    with pytest.raises(ValueError, match="game is over"):
        model.step()


def test_scandal_event_hits_the_named_firm(small_classroom):
    """A scheduled scandal lowers the firm's customers' satisfaction and its reputation."""
    sc = load_scenario("classroom-v1", overrides={
        "market.customers": 3000, "events": [{"period": 1, "kind": "scandal", "magnitude": 3.0, "firm": 2}]})
    s, r = resolve_period(initial_state(sc, 9), {}, period_rng(9, 1))
    rows = r.firm_rows
    others = np.mean([rows[i]["avg_satisfaction"] for i in range(6) if i != 2])
    assert rows[2]["avg_satisfaction"] < others - 0.5
    assert s.firms[2].reputation < min(s.firms[i].reputation for i in range(6) if i != 2)
    assert any(e["kind"] == "event:scandal" for e in r.events)


def test_recession_lowers_purchases(small_classroom):
    base = load_scenario("classroom-v1", overrides={"market.customers": 3000, "events": []})
    rec = load_scenario("classroom-v1", overrides={
        "market.customers": 3000, "events": [{"period": 1, "kind": "recession", "magnitude": 0.5}]})
    _, rb = resolve_period(initial_state(base, 9), {}, period_rng(9, 1))
    _, rr = resolve_period(initial_state(rec, 9), {}, period_rng(9, 1))
    units_b = sum(r["units_sold"] for r in rb.firm_rows)
    units_r = sum(r["units_sold"] for r in rr.firm_rows)
    assert 0.35 < units_r / units_b < 0.65


def test_instructor_adjustment_is_booked_and_replayed(small_classroom):
    """A logged bonus or penalty moves cash by exactly its amount and survives a replay."""
    a = CRMModel(small_classroom, seed=8, strategies=lineup(None, 6))
    b = CRMModel(small_classroom, seed=8, strategies=lineup(None, 6))
    a.adjust(1, -25_000)
    a.step()
    b.step()
    ra, rb = a.results[-1].firm_rows[1], b.results[-1].firm_rows[1]
    assert ra["adjustment"] == -25_000 and rb["adjustment"] == 0
    assert ra["emergency_loan"] == rb["emergency_loan"] == 0  # the firm has the cash: the penalty comes out of it
    assert ra["cash"] == pytest.approx(rb["cash"] - 25_000, abs=1e-6)
    assert any(e["kind"] == "adjustment" and e["firm"] == 1 for e in a.results[-1].events)
    a.run()
    replayed = CRMModel.replay(a.decision_log())
    pd.testing.assert_frame_equal(replayed.frames()["firms"].drop(columns="strategy"), a.frames()["firms"].drop(columns="strategy"))
    with pytest.raises(ValueError, match="amount: must be a finite number"):
        b.adjust(0, float("nan"))


def test_planned_costs_match_the_ledger_for_known_lines(small_classroom):
    """The form's cost preview equals what the ledger books for staff, budgets and cultivation."""
    from crmsim.sim.engine import check_decision, planned_costs

    state = initial_state(small_classroom, 6)
    d = check_decision(state, 0, {"price": 95, "hire_service": 2, "care_budget": 7000, "advertising_budget": 3000,
                                  "cultivation": {"mengniu": 4000}})
    plan = planned_costs(state, 0, d)
    _, r = resolve_period(state, {0: d}, period_rng(6, 1))
    ledger = r.ledgers[0]
    for key in ("salaries", "hiring", "severance", "care", "advertising", "cultivation", "interest"):
        assert plan[key] == pytest.approx(getattr(ledger, key))
    assert plan["capacity"] == (small_classroom.firms.service_staff + 2) * small_classroom.costs.customers_per_service_staff


def test_no_tender_is_published_for_the_last_period(classroom):
    """A contract is delivered the period after its award, so the last period opens no tender."""
    model = CRMModel(classroom, seed=2, strategies=lineup(None, 6))
    model.run()
    assert model.results[-1].tender_rows() == []
    assert not [c for c in model.state.contracts if c.deliver_period > classroom.periods]


def test_capacity_is_checked_against_tenders_won_earlier_the_same_period():
    """NO_CAPACITY counts contracts the firm has just won in the same period (tenders opened in order)."""
    sc = load_scenario("classroom-v1", overrides={
        "market.customers": 600, "market.initial_served_share": 0.0, "events": [],
        "firms.count": 3, "firms.names": ["A", "B", "C"], "firms.service_staff": 1, "tenders.min_valid_bids": 1,
        "clients": [
            {"id": "a", "name": {"en": "A", "zh": "甲"}, "volume": 4000, "volume_spread": 0, "price_cap": 95, "every": 1, "load_per_unit": 0.02},
            {"id": "b", "name": {"en": "B", "zh": "乙"}, "volume": 4000, "volume_spread": 0, "price_cap": 95, "every": 1, "load_per_unit": 0.02},
        ]})
    state = initial_state(sc, 1)
    bid = {"price": 90, "promised_service": 0.6}
    d = check_decision_for(state, 0, {"bids": {"a-01": bid, "b-01": bid}})
    _, r = resolve_period(state, {0: d}, period_rng(1, 1))
    rows = {b["tender"]: b for b in r.bid_rows()}
    assert rows["a-01"]["won"] is True  # load 80 <= capacity 100
    assert rows["b-01"]["void_reason"] == "NO_CAPACITY"  # 80 + 80 > 100


@pytest.mark.parametrize("name", list_scenarios())
def test_the_tender_office_bid_limit_is_the_decision_context_bid_limit(name):
    """Bid limit (section 6.4): the limit the tender office voids extra bids by is the one validation and the
    observation show (DecisionContext.bid_limit), for every firm and staff level: a firm bidding on one tender
    more than its limit has its alphabetically last bid voided as MALFORMED, the others not."""
    from crmsim.sim.engine import bids_by_tender, blank_period
    from crmsim.sim.observation import decision_context

    sc = load_scenario(name)
    state = initial_state(sc, 3)
    p = blank_period(state)
    for i in range(sc.firms.count):
        context = decision_context(state, i)
        for sales in range(0, 6):
            limit = context.bid_limit(sales)
            p.decisions[i] = replace(state.firms[i].standing, bids={f"t{k:03d}": Bid(1.0, 0.5) for k in range(limit + 1)})
            staff = SimpleNamespace(sales=np.full(sc.firms.count, sales))  # bids_by_tender reads the sales staff alone
            beyond = [over for tid, by_firm in sorted(bids_by_tender(p, staff).items()) for f, (_, over) in by_firm.items() if f == i]
            assert beyond == [False] * limit + [True]


def check_decision_for(state, firm, raw):
    from crmsim.sim.engine import check_decision

    return check_decision(state, firm, raw)


def test_a_decision_check_decision_returned_for_the_state_resolves_the_same_unchecked_again(small_classroom):
    """resolve_period(checked=...) takes those firms' decisions as they are: validation is idempotent, so the
    period resolves exactly as when it checks them again."""
    from crmsim.sim.engine import bot_decisions
    from crmsim.agents.bots import make_bot

    state = initial_state(small_classroom, 9)
    bots = {i: make_bot(s) for i, s in enumerate(lineup(None, small_classroom.firms.count))}
    decisions = bot_decisions(state, bots, [], 9)
    _, again = resolve_period(state, decisions, period_rng(9, 1))
    _, taken = resolve_period(state, decisions, period_rng(9, 1), checked=set(decisions))
    assert taken.firm_rows == again.firm_rows and taken.bid_rows() == again.bid_rows()
    assert taken.decisions == again.decisions


def test_a_decision_put_in_pending_by_hand_is_still_checked(small_classroom):
    """The model skips the second check only for the very decision submit() or the bots returned; a decision
    placed in model.pending directly (as the web app restores one) is checked when the period resolves."""
    model = CRMModel(small_classroom, seed=2)
    model.submit(0, {"price": 90.0})
    model.pending[1] = Decision(price=-5.0, service_level=0.5)
    with pytest.raises(DecisionError, match="price"):
        model.step()
    assert model.period == 1  # nothing resolved
