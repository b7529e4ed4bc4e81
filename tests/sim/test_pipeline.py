"""The steps of resolve_period (docs/rules.md section 2), each on a small state with hand-worked numbers,
and the engine's entry points around them: adjustments, bots, a decision log, the cost preview."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from crmsim.agents.bots import make_bot
from crmsim.scenarios import load_scenario
from crmsim.sim import engine as E
from crmsim.sim.decisions import Decision, DecisionError
from crmsim.sim.metrics import FirmOutcomes, firm_rows
from crmsim.sim.model import CRMModel

CLIENTS = [{"id": "acme", "name": {"en": "Acme", "zh": "甲"}, "volume": 1000, "volume_spread": 0.0, "price_cap": 100, "every": 1}]
SC = load_scenario("classroom-v1", overrides={
    "market.customers": 400, "clients": CLIENTS, "firms.count": 3, "firms.names": ["A", "B", "C"],
    "tenders.min_valid_bids": 1, "firms.debt": 50_000,
    "events": [
        {"period": 1, "kind": "scandal", "magnitude": 2.0, "firm": 1},
        {"period": 1, "kind": "cost_shock", "magnitude": 1.2},
        {"period": 1, "kind": "recession", "magnitude": 0.8, "duration": 2},
        {"period": 2, "kind": "new_entrant", "magnitude": 0.5},
    ],
})


def period(decisions=None, adjustments=None, st=None):
    return E.open_period(st or E.initial_state(SC, 1), decisions or {}, adjustments or {}, np)


def test_open_period_keeps_a_silent_firms_standing_decision_and_logs_adjustments():
    d = Decision(price=90.0, service_level=0.7)
    p = period({0: d}, {2: -500.0})
    assert p.decisions[0].price == 90.0 and p.submitted == {0: True, 1: False, 2: False}
    assert p.decisions[1] == p.state.firms[1].standing
    assert p.adjustments == {2: -500.0}
    assert [(e["kind"], e["firm"], e["detail"]) for e in p.log] == [
        ("standing_decision", 1, "no decision submitted: standing decision kept, no bids"),
        ("standing_decision", 2, "no decision submitted: standing decision kept, no bids"),
        ("adjustment", 2, "instructor penalty -500"),
    ]
    with pytest.raises(DecisionError, match="no live firm with this index"):
        period({7: d})


def test_staffing_and_finance_repays_emergency_debt_first():
    """Debt 50,000 and emergency 10,000; repay 15,000 clears the emergency 10,000, then 5,000 of debt;
    firm 1 borrows 20,000 and hires 2 service staff (classroom: 10 -> 12, capacity 1,200)."""
    st = E.initial_state(SC, 1)
    st = replace(st, firms=(replace(st.firms[0], emergency_debt=10_000.0),) + st.firms[1:])
    p = period({0: replace(st.firms[0].standing, repay=15_000.0), 1: replace(st.firms[1].standing, borrow=20_000.0, hire_service=2)}, st=st)
    s = E.staffing_and_finance(p)
    assert s.emergency.tolist() == [0.0, 0.0, 0.0] and s.debt.tolist() == [45_000.0, 70_000.0, 50_000.0]
    assert s.cash.tolist() == [285_000.0, 320_000.0, 300_000.0]
    assert s.service.tolist() == [10, 12, 10] and s.capacity.tolist() == [1000.0, 1200.0, 1000.0]
    assert s.load.sum() == (st.population.supplier >= 0).sum()  # no contracts due in period 1


def test_event_effects_on_firms_and_market():
    """Cost shock 1.2: unit cost 60 -> 72; the scandal takes 30% of firm 1's reputation (0.6 -> 0.42) and 2 points
    of its customers' satisfaction; the recession's purchase factor 0.8; period 1 logs the three starting events."""
    p = period()
    shocks = E.apply_event_effects(p)
    assert shocks.unit_cost_factor == pytest.approx(1.2) and shocks.unit_cost.tolist() == pytest.approx([72.0] * 3)
    assert shocks.reputation.tolist() == pytest.approx([0.6, 0.42, 0.6]) and shocks.scandal.tolist() == [0.0, 2.0, 0.0]
    assert (shocks.purchase_factor, shocks.outside_boost) == (0.8, 0.0)
    assert [e["kind"] for e in p.log if e["kind"].startswith("event:")] == ["event:scandal", "event:cost_shock", "event:recession"]


def test_market_inputs_price_the_market_at_the_live_firms_mean():
    p = period({0: Decision(price=80.0, service_level=0.5), 1: Decision(price=110.0, service_level=0.9)})
    offer = E.market_inputs(p, E.staffing_and_finance(p), E.apply_event_effects(p))
    assert offer.price.tolist() == [80.0, 110.0, 100.0] and offer.inputs.market_price == pytest.approx(290 / 3)
    assert offer.quality.tolist() == [0.5, 0.9, 0.6]  # no firm is over its utilisation knee in period 1
    assert offer.inputs.margin_per_unit.tolist() == pytest.approx([8.0, 38.0, 28.0])  # less the shocked unit cost 72


def test_relationships_move_client_satisfaction_toward_the_delivery():
    """7 x 0.7 + 0.3 x 10 x 0.5 = 6.4 where a contract was delivered at half its promise; 7 elsewhere."""
    p = period()
    delivered = E.Deliveries(deliveries=[], outcome=np.array([[0.5], [1.0], [1.0]]), delivered=np.array([[True], [False], [False]]))
    ties = E.relationships(p, delivered)
    assert ties.client_satisfaction.ravel().tolist() == pytest.approx([6.4, 7.0, 7.0])
    assert ties.spend.shape == (3, 1)


def test_capacity_effect_worked_by_hand():
    """Knee 0.8, slope 2.5: u = 0.9 keeps 75% of the service; u = 2 hits the floor (0.1, or a scenario's own)."""
    m = SC.market
    assert E.capacity_effect(0.8, m) == 1.0 and E.capacity_effect(0.9, m) == pytest.approx(0.75)
    assert E.capacity_effect(2.0, m) == 0.1
    assert E.capacity_effect(2.0, m.model_copy(update={"min_quality_factor": 0.3})) == 0.3


def test_care_and_awareness_worked_by_hand():
    """Care: 1,500 on 100 customers at scale 15 buys 1 - 1/e = 63.2%. Awareness 0.5 keeps 0.35 (decay 0.3) and
    40,000 of advertising at scale 40,000 reaches 1 - 1/e of the other 0.65: 0.35 + 0.65 (1 - 1/e)."""
    assert E.care_intensity(1500.0, 100.0, 15.0) == pytest.approx(1 - 1 / math.e)
    assert E.care_intensity(15.0, 0.0, 15.0) == pytest.approx(1 - 1 / math.e)  # no customers counts as one
    assert E.next_awareness(0.5, 40_000.0, 0.3, 40_000.0) == pytest.approx(0.35 + 0.65 * (1 - 1 / math.e))
    assert E.next_awareness(0.5, 0.0, 0.3, 40_000.0) == pytest.approx(0.35)


def test_word_of_mouth_and_reputation_worked_by_hand():
    """(2 x 30 - 4 x 10) x 3 firms / 400 customers = 0.15; reputation 0.8 x 0.6 + 0.2 x 0.9 = 0.66."""
    assert E.word_of_mouth(30.0, 10.0, 3, 400, SC.market) == pytest.approx(0.15)
    assert E.next_reputation(0.6, 0.9, SC.market) == pytest.approx(0.66)


def test_firm_rows_worked_by_hand():
    """Firm 0: retention 1 - 20/100, satisfaction 720/90, acquisitions 10 of 30, resolution (3 + 4)/10, share of
    wallet 30/40, customer share 90/150, revenue share 300/400, mean R (0.2 + 0.4)/2, two bids: one won, one late.
    Firm 1: no complaints and no wallet (undefined rates stay NaN), no service staff (utilisation infinite)."""
    from crmsim.agents.population import PopulationOutcome
    from crmsim.sim.accounts import Ledger
    from crmsim.sim.state import FirmState
    from crmsim.sim.tenders import BidRecord

    def arr(a, b):
        return np.array([a, b], dtype=float)

    po = PopulationOutcome(
        customers_start=arr(100, 50), customers_end=arr(90, 60), acquired=arr(10, 20), lost=arr(20, 10), revenue=arr(0, 0),
        units_sold=arr(30, 10), buyers=arr(25, 8), wallet=arr(40, 0), complaints=arr(10, 0), resolved_quickly=arr(3, 0),
        resolved=arr(4, 0), unresolved=arr(2, 0), silent=arr(5, 2), dissatisfied=arr(14, 2), promoters=arr(30, 10),
        detractors=arr(5, 3), satisfaction_sum=arr(720, 420), loyalty_sum=arr(63, 36), customer_equity=arr(5000, 2000),
        tier_counts=np.array([[18.0, 27, 45], [12, 18, 30]]), revenue_tiers=np.zeros((2, 3)), units_tiers=np.zeros((2, 3)),
        at_risk_tiers=np.zeros((2, 3)), tier_moves=0, prospects_end=0, adopters=5, panel={},
    )
    standing = Decision(price=90.0, service_level=0.6)
    firms = tuple(FirmState(index=i, name=n, cash=1000.0, debt=0.0, emergency_debt=0.0, sales_staff=3, service_staff=10 - 10 * i,
                            unit_cost=60.0, reputation=0.6, awareness=0.5, wom=0.0, standing=standing) for i, n in enumerate("AB"))
    late = BidRecord("acme-01", "acme", 0, 90.0, 0.6, valid=False, void_reason="LATE")
    o = FirmOutcomes(
        period=3, firms=firms, submitted={0: True, 1: False},
        ledgers={0: Ledger(cash_start=1000.0, revenue_market=300.0), 1: Ledger(cash_start=900.0, revenue_market=100.0)},
        customers=po, relationship=np.array([[0.2, 0.4], [0.1, 0.1]]),
        bids=[BidRecord("acme-02", "acme", 0, 90.0, 0.6, won=True), late, BidRecord("acme-02", "acme", 1, 95.0, 0.6)],
        price=arr(90, 100), service_level=arr(0.6, 0.5), quality=arr(0.6, 0.4), utilisation=arr(0.8, np.inf),
        care=arr(0.3, 0.1), released=arr(0, 0),
    )
    a, b = firm_rows(o)
    assert (a["retention_rate"], a["churn_rate"], a["avg_satisfaction"], a["avg_loyalty"]) == pytest.approx((0.8, 0.2, 8.0, 0.7))
    assert (a["acquisition_rate"], a["resolution_rate"], a["share_of_wallet"]) == pytest.approx((1 / 3, 0.7, 0.75))
    assert (a["market_share_customers"], a["market_share_revenue"], a["relationship_mean"]) == pytest.approx((0.6, 0.75, 0.3))
    assert (a["tenders_bid"], a["tenders_won"], a["tenders_voided"], a["void_late"], a["void_malformed"]) == (2, 1, 1, 1, 0)
    assert (a["tier_a"], a["tier_b"], a["tier_c"], a["submitted"], a["period"]) == (18.0, 27.0, 45.0, True, 3)
    assert math.isnan(b["resolution_rate"]) and math.isnan(b["share_of_wallet"]) and b["utilisation"] == math.inf
    assert (b["market_share_customers"], b["market_share_revenue"], b["avg_satisfaction"]) == pytest.approx((0.4, 0.25, 7.0))


def test_publish_tenders_opens_the_next_periods_schedule():
    p = period()
    tenders = E.publish_tenders(p, E.Awards(outcomes=[], contracts=(), stray=[]), np.random.default_rng(0))
    assert [t.id for t in tenders] == ["acme-02"] and tenders[0].volume == 1000
    assert p.log[-1]["kind"] == "tender_published"


# ---------------------------------------------------------------------------
# entry points


@pytest.mark.parametrize(
    "firm, amount, field",
    [(5, 100.0, "firm"), (True, 100.0, "firm"), ("0", 100.0, "firm"), (0, math.nan, "amount"), (0, 2e9, "amount"),
     (0, "100", "amount"), (0, True, "amount")],
)
def test_check_adjustment_names_the_field(firm, amount, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        E.check_adjustment(E.initial_state(SC, 1), firm, amount)


def test_check_adjustment_accepts_numpy_numbers_up_to_the_bound():
    st = E.initial_state(SC, 1)
    assert E.check_adjustment(st, np.int64(1), np.float64(-1e9)) == -1e9
    assert E.check_adjustment(st, 2, 500) == 500.0


def test_bot_decisions_are_validated_and_skip_seats_that_submit_nothing():
    st = E.initial_state(SC, 4)
    got = E.bot_decisions(st, {0: make_bot("balanced"), 2: make_bot("standing")}, [], 4)
    assert list(got) == [0] and got[0] == E.check_decision(st, 0, got[0])

    class Cheat:
        name = "cheat"

        def decide(self, obs, rng):
            return {"price": -1}

    with pytest.raises(DecisionError, match="bot cheat \\(B\\)"):
        E.bot_decisions(st, {1: Cheat()}, [], 4)


def test_logged_period_reads_a_log_entry_and_refuses_another_period():
    st = E.initial_state(SC, 4)
    entry = {"period": 1, "decisions": {"0": Decision(price=95.0, service_level=0.6).to_dict()}, "adjustments": {"1": 250.0}}
    decisions, adjustments = E.logged_period(st, entry)
    assert decisions[0].price == 95.0 and adjustments == {1: 250.0}
    with pytest.raises(ValueError, match="expected period 1; got 2"):
        E.logged_period(st, {**entry, "period": 2})


def test_replaying_a_log_entry_gives_the_recorded_period():
    model = CRMModel(SC, seed=4, strategies=["balanced", "premium", "adaptive"])
    model.adjust(1, 300.0)
    model.step()
    replica = CRMModel(SC, seed=4)
    result = replica.replay_period(model.decision_log()["periods"][0])
    assert result.firm_rows == model.results[0].firm_rows and result.bid_rows() == model.results[0].bid_rows()


def test_cost_preview_worked_by_hand():
    """3 sales x 6,000 + 12 service x 3,500 = 60,000 salaries; 2 hires x 3,000; interest 1% of 50,000 = 500;
    bond 2% x 90 x 1,000 = 1,800; cash after 300,000 + 10,000 - (60,000 + 6,000 + service + 5,000 + 500)."""
    st = E.initial_state(SC, 1)
    d = E.check_decision(st, 0, {"hire_service": 2, "care_budget": 5000, "advertising_budget": 0, "borrow": 10_000,
                                 "bids": {"acme-01": {"price": 90, "promised_service": 0.6}}})
    plan = E.planned_costs(st, 0, d)
    customers = float((st.population.supplier == 0).sum())
    assert (plan["salaries"], plan["hiring"], plan["severance"], plan["interest"]) == (60_000.0, 6_000.0, 0.0, 500.0)
    assert plan["service_cost"] == pytest.approx(customers * 25 * 0.6)
    assert plan["bonds_pledged"] == pytest.approx(1_800.0) and plan["capacity"] == 1_200.0
    assert plan["cash_after"] == pytest.approx(310_000.0 - (60_000.0 + 6_000.0 + customers * 15 + 5_000.0 + 500.0))
