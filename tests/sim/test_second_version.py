"""The second version's rules in the engine (classroom-v2), each with hand-worked values:
lifecycle cultivation through a period, the hours limit, price-type awards, research fees and privacy,
the tender calendar, news ahead, the churn warning, tier care, retention, tiers that follow spend,
per-client minimum bids, re-issues that never starve the schedule and relationships that end with a
bankrupt firm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crmsim.agents.population import care_of, init_population, step_population, update_recent_spend, value_tiers
from crmsim.scenarios import load_scenario
from crmsim.sim.decisions import Bid, Decision, DecisionError, ResearchOrder
from crmsim.sim.engine import check_decision, crm_inputs, initial_state, open_period, period_rng, publish_tenders, resolve_period, retention_relief_share, Awards
from crmsim.sim.lifecycle import EVALUATION, STAGE_INDEX, TARGET
from crmsim.sim.model import CRMModel
from crmsim.sim.observation import observe
from crmsim.sim.state import Tender
from crmsim.sim.tenders import Bidder, TenderOutcome, make_tender, resolve_tender, unqualified

SMALL = {"market.customers": 3000, "market.track_customers": 100}


@pytest.fixture(scope="module")
def v2():
    return load_scenario("classroom-v2", overrides=SMALL)


@pytest.fixture(scope="module")
def start(v2):
    return initial_state(v2, seed=3)


def _decide(state, firm, **extra) -> Decision:
    return check_decision(state, firm, {"price": 100, "service_level": 0.6, **extra})


def test_an_investigation_takes_a_client_to_target_and_costs_its_fee_and_hours(v2, start):
    d = _decide(start, 0, activities={"mengniu": ["investigate"]})
    state, res = resolve_period(start, {0: d}, period_rng(3, 1))
    k = v2.client_ids.index("mengniu")
    assert state.lifecycle.stage[0, k] == TARGET and state.lifecycle.idle[0, k] == 0
    assert res.ledgers[0].cultivation == 1_000  # classroom-v2: investigate costs ¥1,000 and 8 sales hours
    row = next(r for r in res.relationship_rows if r["firm"] == 0 and r["client"] == "mengniu")
    assert (row["stage"], row["activity_cost"], row["activity_hours"], row["progress_gained"], row["rival_hold"]) == ("target", 1000.0, 8.0, 1.0, "potential")
    # R = target's 0.15 with no progress and fresh contact; everyone else still potential (0.05), now idle 1 -> 0.045
    assert state.relationship[0, k] == pytest.approx(0.15)
    assert state.relationship[1, k] == pytest.approx(0.05 * 0.9)


def test_activities_beyond_the_sales_hours_are_refused_naming_the_hours(start):
    # 3 sales staff x 40 h = 120 h; investigating all 7 clients needs 56 h: fine; firing 2 leaves 40 h
    plan = {c: ["investigate"] for c in start.scenario.client_ids}
    assert sum(len(a) for a in _decide(start, 0, activities=plan).activities.values()) == 7
    with pytest.raises(DecisionError) as exc:
        _decide(start, 0, activities=plan, fire_sales=2)
    p = next(p for p in exc.value.problems if p.field == "activities")
    assert p.rule == "need 56 sales hours; 1 sales staff have 40 (40 each)" and p.value == 56


def test_an_activity_at_the_wrong_stage_is_refused_and_a_budget_is_refused_in_lifecycle_mode(start):
    with pytest.raises(DecisionError) as exc:
        _decide(start, 0, activities={"mengniu": ["visit"]}, cultivation={"haier": 5000})
    fields = {p.field: p.rule for p in exc.value.problems}
    assert fields["activities.mengniu.visit"] == "visit counts at the evaluation or formation stage; mengniu is at the potential stage"
    assert "sales activities" in fields["cultivation"]


def test_invited_tenders_need_the_evaluation_stage(v2):
    moto = make_tender(v2.client("motorola"), v2, 2, np.random.default_rng(0))
    assert moto.closed and moto.min_stage == EVALUATION and moto.min_valid_bids == 2
    assert unqualified(moto, 0.7, 0.9, stage=TARGET) == "invited tender: stage target < evaluation"
    assert unqualified(moto, 0.7, 0.0, stage=EVALUATION) is None


def test_a_price_type_tender_goes_to_the_lowest_valid_price():
    t = Tender("w-02", "w", 2, 2, 1000, 100.0, 0.4, False, 0.0, 0.5, 0.2, 0.3, 2, 0.0, award="lowest_price")
    bidders = {i: Bidder(i, False, False, 30.0, 1e9, 0.0, 1e9) for i in range(2)}  # delivery cost 30 + 40 x service
    sc = load_scenario("classroom-v2")
    out = resolve_tender(t, {0: Bid(80.0, 1.0), 1: Bid(79.0, 0.4)}, bidders, {0: 1.0, 1: 0.0}, sc, 2, {0: 1e9, 1: 1e9},
                         np.random.default_rng(0))
    assert out.winner == 1
    a, b = out.bids
    # price score alone: 100 x 79 / 80 = 98.75 for the dearer bid; service and relationship count for nothing
    assert (a.total, a.service_score, a.relationship_score) == (pytest.approx(98.75), 0.0, 0.0)
    assert b.total == 100.0


def test_research_costs_its_fees_and_only_the_buyer_sees_it(v2, start):
    order = {"rivals": ["mengniu"], "survey": 100, "forecast": True}
    d = _decide(start, 0, research=order)
    assert d.research == ResearchOrder(("mengniu",), 100, True)
    state, res = resolve_period(start, {0: d}, period_rng(3, 1))
    # 1 client x 2,000 + (1,000 + 100 x 10) + 2,000
    assert res.ledgers[0].research == 6_000 and res.ledgers[1].research == 0
    report = res.research[0]
    assert report["fee"] == 6_000
    assert [r["band"] for r in report["rivals"]["mengniu"]] == ["weak"] * 5
    assert report["survey"]["sample"] == 100 and [t["tier"] for t in report["survey"]["tiers"]] == ["A", "B", "C"]
    assert [(f["period"], f["client"]) for f in report["forecast"]][:2] == [(2, "motorola"), (2, "wahaha")]
    assert observe(state, 0, [res]).research == report
    assert observe(state, 1, [res]).research is None


def test_the_calendar_announces_next_periods_tenders_and_news_comes_a_period_ahead(v2):
    model = CRMModel(v2, seed=1, strategies=["balanced"] * 6)
    obs = model.observation(0)
    assert [(a["period"], a["client"], a["closed"]) for a in obs.calendar] == [(2, "motorola", True), (2, "wahaha", False)]
    while model.period < 5:
        model.step()
    news = model.observation(0).news
    assert [(e.kind, e.period) for e in news] == [("cost_shock", 6)]  # announce_before = 1


def test_churn_warning_counts_match_the_flags_and_thresholds_bound_them(v2):
    m = v2.market
    pop = init_population(m, 2, np.random.default_rng(0))
    one = np.ones(2)
    from crmsim.agents.population import MarketInputs

    def step(threshold):
        inputs = MarketInputs(price=one * 100, quality=one * 0.6, reputation=one * 0.6, awareness=one * 0.5, wom=one * 0.0,
                              care=one * 0.0, complaint_capacity=one * 1e9, alive=np.ones(2, bool), margin_per_unit=one * 40,
                              service_cost=one * 10, scandal=one * 0.0, market_price=100.0, churn_threshold=threshold)
        return step_population(pop, inputs, m, np.random.default_rng(1))

    new, out = step(1e-9)  # every customer who stayed is flagged
    served_end = new.supplier >= 0
    assert new.at_risk.sum() == out.at_risk_tiers.sum() > 0
    assert (new.at_risk <= served_end).all()
    for f in range(2):
        assert out.at_risk_tiers[f].sum() == (new.at_risk & (new.supplier == f)).sum()
    assert step(1.0)[0].at_risk.sum() == 0  # no hazard exceeds 1


def test_retention_relief_has_diminishing_returns():
    # ¥400 on 10 at-risk customers is ¥40 each: one scale, so 0.5 x (1 - e^-1)
    assert retention_relief_share(400, 10, 40, 0.5) == pytest.approx(0.5 * (1 - math.exp(-1)))
    assert retention_relief_share(0, 10, 40, 0.5) == 0.0
    assert retention_relief_share(1e9, 10, 40, 0.5) == pytest.approx(0.5)


def test_care_split_by_tier_reaches_each_tiers_customers(v2, start):
    d = _decide(start, 0, care_budget=9_000, care_split={"A": 1.0})
    p = open_period(start, {0: d}, {}, np)
    inputs = crm_inputs(p, np.array([9_000.0] + [0.0] * 5))
    pop = start.population
    a_count = int(((pop.supplier == 0) & (pop.tier == 0)).sum())
    expected = 1 - math.exp(-(9_000 / a_count) / v2.costs.care_scale)
    assert inputs["care_tier"][0].tolist() == pytest.approx([expected, 0.0, 0.0])
    bins = np.array([1, 1, 1, 0])
    tiers = np.array([0, 1, 2, 0])
    assert care_of(type("I", (), {"care_tier": inputs["care_tier"], "care": None})(), bins, tiers).tolist() == pytest.approx([expected, 0, 0, 0])


def test_tiers_follow_recent_spend():
    recent = np.array([10.0, 1.0, 1.0, 1.0, 1.0], dtype="float32")
    spent = np.array([0.0, 0.0, 0.0, 0.0, 40.0], dtype="float32")
    new = update_recent_spend(recent, spent, 0.5)
    assert new.tolist() == [5.0, 0.5, 0.5, 0.5, 20.5]
    m = load_scenario("classroom-v2").market  # top 20% A, next 30% B
    assert value_tiers(recent, m).tolist()[0] == 0 and value_tiers(new, m).tolist()[4] == 0  # the big spender is now A


def test_a_scheduled_tender_supersedes_a_pending_reissue(v2, start):
    """Mengniu tenders every 2 periods from 1: its period-1 tender failing is not re-issued in period 2 (nothing
    scheduled then, so it is), but a period-2 failure of Wahaha (every 2 from 2) is not re-issued in period 3,
    while with replace_schedule a failed Mengniu tender in period 2 would take period 3's place."""
    p = open_period(start, {}, {}, np)
    failed = [TenderOutcome(t, failed=True) for t in start.tenders]  # period 1: mengniu, haier
    nxt = publish_tenders(p, Awards(outcomes=failed, contracts=(), stray=[]), np.random.default_rng(0))
    ids = [t.id for t in nxt]
    assert "mengniu-01r1" in ids and "haier-01r1" in ids  # nothing of theirs scheduled in period 2
    assert {"motorola-02", "wahaha-02"} <= set(ids)
    p3 = open_period(start.__class__(**{**start.__dict__, "period": 2}), {}, {}, np)
    wahaha = make_tender(v2.client("wahaha"), v2, 2, np.random.default_rng(0))
    mengniu_r = make_tender(v2.client("mengniu"), v2, 1, np.random.default_rng(0))
    out = publish_tenders(p3, Awards(outcomes=[TenderOutcome(mengniu_r, failed=True), TenderOutcome(wahaha, failed=True)], contracts=(), stray=[]),
                          np.random.default_rng(0))
    ids3 = [t.id for t in out]
    assert "mengniu-03" in ids3 and not any(i.startswith("mengniu-01r") for i in ids3)
    assert "wahaha-02r1" in ids3  # wahaha's next is period 4: the re-issue fills period 3's gap


def test_per_client_minimum_of_valid_bids(v2):
    rng = np.random.default_rng(0)
    assert make_tender(v2.client("mengniu"), v2, 1, rng).min_valid_bids == 2
    assert make_tender(v2.client("wahaha"), v2, 2, rng).min_valid_bids == 3  # the scenario's default


def test_a_bankrupt_firms_relationships_end_with_it(v2):
    model = CRMModel(v2, seed=2, strategies=["reckless", "balanced", "relationship", "premium", "retention", "researcher"])
    model.run()
    bankrupt = [f for f in model.state.firms if f.bankrupt]
    assert bankrupt, "the reckless bot went bankrupt"
    for f in bankrupt:
        assert (model.state.lifecycle.stage[f.index] == STAGE_INDEX["potential"]).all()
        assert (model.state.relationship[f.index] == 0).all()
        ended = [e for r in model.results for e in r.events if e["kind"] == "relationships_end" and e["firm"] == f.index]
        assert len(ended) == 1
