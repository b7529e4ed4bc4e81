"""Tests for sim/counterfactual.py: a tender re-scored with one bid changed (worked by hand), and a finished game
replayed with one decision changed."""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim import tenders as T
from crmsim.sim.counterfactual import changed_decision, replay_with_change, rescore_tender
from crmsim.sim.decisions import Bid, DecisionError
from crmsim.sim.model import CRMModel
from crmsim.sim.state import Tender

# classroom-v1's tender settings: unit cost 60, service cost 10 a unit at service 1, bond 2%, abnormally low below 80%
SC = load_scenario("classroom-v1", overrides={"market.customers": 500})


def tender(**kw) -> Tender:
    base = dict(id="acme-01", client="acme", period=1, issued=1, volume=1000.0, price_cap=120.0, required_service=0.5,
                closed=False, min_relationship=0.0, w_price=0.4, w_service=0.3, w_relationship=0.3, min_valid_bids=2,
                load_per_unit=0.02)
    base.update(kw)
    return Tender(**base)


def published(t: Tender | None = None) -> T.TenderOutcome:
    """Three bids. Lowest price 90. Firm 0: 100, service 0.8, R 0.5: 0.4 x 100 x 90/100 = 36 + 24 + 15 = 75.
    Firm 1: 90, 0.6, R 0.2: 40 + 18 + 6 = 64. Firm 2: 110, 0.7, R 0.4: 32.73 + 21 + 12 = 65.73. Firm 0 wins by 9.27."""
    t = t or tender()
    bids = {0: Bid(100.0, 0.8), 1: Bid(90.0, 0.6), 2: Bid(110.0, 0.7)}
    bidders = {f: T.Bidder(f, False, False, 60.0, 1000.0, 200.0, 1e6) for f in bids}
    return T.resolve_tender(t, bids, bidders, {0: 0.5, 1: 0.2, 2: 0.4}, SC, 1, {f: 1e6 for f in bids}, np.random.default_rng(0))


def test_the_published_tender_worked_by_hand():
    out = published()
    assert out.winner == 0 and out.margin_points == pytest.approx(75 - (32 + 8 / 11 + 33))
    assert [round(b.total, 4) for b in out.bids] == [75.0, 64.0, round(0.4 * 100 * 90 / 110 + 21 + 12, 4)]


def test_a_rescored_tender_flips_the_winner_by_points_worked_by_hand():
    """Firm 1 at 85 with service 1.0: lowest price 85. Firm 0: 0.4 x 100 x 85/100 = 34 + 24 + 15 = 73. Firm 1:
    40 + 30 + 6 = 76. Firm 2: 0.4 x 100 x 85/110 = 30.91 + 21 + 12 = 63.91. Firm 1 wins by 3 points; 85 is not
    abnormally low (80% of the others' mean 105 is 84), nor below its cost 60 + 10 x 1.0 = 70."""
    r = rescore_tender(published(), None, 1, 85.0, 1.0, SC)
    assert (r.winner_before, r.winner, r.won, r.winner_changed) == (0, 1, True, True)
    assert r.margin_points == pytest.approx(3.0) and r.rank == 1 and r.points_behind == 0.0
    totals = {b["firm"]: b["total"] for b in r.bids}
    assert totals == pytest.approx({0: 73.0, 1: 76.0, 2: 30 + 10 / 11 + 33})
    assert {b["firm"]: b["rank"] for b in r.bids} == {0: 2, 1: 1, 2: 3}
    assert r.to_dict()["won"] is True


def test_the_published_rows_rescore_as_the_outcome_does():
    """Rows of other tenders, and a late bid on this one published with a later period's bids, are left out."""
    out = published()
    rows = [{**b.__dict__, "tender": out.tender.id, "period": 1} for b in out.bids] + [
        {"tender": "other-01", "period": 1, "firm": 9}, {"tender": out.tender.id, "period": 2, "firm": 5}]
    a = rescore_tender(out, None, 1, 85.0, 1.0, SC)
    b = rescore_tender(rows, out.tender.to_dict(), 1, 85.0, 1.0, SC)
    assert (a.winner, a.margin_points, a.bids) == (b.winner, b.margin_points, b.bids)


def test_an_unchanged_bid_rescores_to_the_published_award():
    out = published()
    r = rescore_tender(out, None, 1, 90.0, 0.6, SC)
    assert (r.winner, r.winner_changed) == (0, False) and r.margin_points == pytest.approx(out.margin_points)
    assert r.points_behind == pytest.approx(75 - 64)


def test_a_changed_bid_meets_the_abnormally_low_and_own_cost_rules():
    """At 80, firm 1 is below 80% of the others' mean 105 (84): void, and firm 0 wins 79 to 69.36 at lowest price 100.
    At 69 with service 1.0 it is below its own cost 70 (with a unit cost of 50 given, its cost is 60, and 69 is
    abnormally low)."""
    r = rescore_tender(published(), None, 1, 80.0, 1.0, SC)
    mine = next(b for b in r.bids if b["firm"] == 1)
    assert mine["void_reason"] == "ABNORMALLY_LOW" and r.winner == 0 and r.rank is None and r.points_behind is None
    assert r.margin_points == pytest.approx(79 - (0.4 * 100 * 100 / 110 + 33))
    r = rescore_tender(published(), None, 1, 69.0, 1.0, SC)
    assert next(b for b in r.bids if b["firm"] == 1)["void_reason"] == "BELOW_COST"
    cheaper = rescore_tender(published(), None, 1, 69.0, 1.0, SC, unit_cost=50.0)  # own cost 60: past BELOW_COST, still low
    assert next(b for b in cheaper.bids if b["firm"] == 1)["void_reason"] == "ABNORMALLY_LOW"


def test_a_firm_that_did_not_bid_needs_its_own_relationship():
    with pytest.raises(ValueError, match="relationship"):
        rescore_tender(published(), None, 3, 95.0, 0.9, SC)
    r = rescore_tender(published(), None, 3, 95.0, 0.9, SC, relationship=0.3)
    assert len(r.bids) == 4 and r.winner_before == 0 and "RESCORE_CAPACITY_BOND_UNCHECKED" in [n.code for n in r.notices]


def test_a_tie_by_lot_is_drawn_the_same_way_every_time():
    t = tender(w_price=1.0, w_service=0.0, w_relationship=0.0)
    out = published(t)
    runs = {rescore_tender(out, None, 1, 100.0, 0.8, SC).winner for _ in range(3)}
    assert len(runs) == 1 and "RESCORE_TIE_BY_LOT" in [n.code for n in rescore_tender(out, None, 1, 100.0, 0.8, SC).notices]


# ---------------------------------------------------------------------------
# replaying a finished game


SIX = {"market.customers": 2000, "market.track_customers": 10, "periods": 6, "events": []}


def team_decision(model: CRMModel, firm: int) -> dict:
    """A team's plain decision: a price that moves with the period, a bid on every open tender at 95% of its cap."""
    t = model.period
    bids = {x.id: {"price": round(0.95 * x.price_cap, 2), "promised_service": max(0.7, x.required_service)} for x in model.state.tenders
            if not x.closed}
    return {"price": 98 + t, "service_level": 0.7, "bids": dict(sorted(bids.items())[:2])}


@pytest.fixture(scope="module")
def game():
    """A six-period classroom-v2 game: a team in seat 0 and five bots."""
    sc = load_scenario("classroom-v2", overrides=SIX)
    m = CRMModel(sc, seed=7, strategies=[None, "balanced", "price_cutter", "premium", "relationship", "adaptive"])
    while not m.finished:
        m.submit(0, team_decision(m, 0))
        m.step()
    return m


def test_a_replay_with_an_unchanged_decision_reproduces_the_real_standings_exactly(game):
    real = game.standings().drop(columns="strategy").to_dict("records")
    r = replay_with_change(game.decision_log(), 2, 0, {})
    assert r.counterfactual == r.real == real
    assert r.bots == (1, 2, 3, 4, 5) and all(x["score_change"] == 0 for x in r.side_by_side)


def test_a_replay_with_a_changed_price_changes_the_standings_and_keeps_the_teams_later_decisions(game):
    log = game.decision_log()
    r = replay_with_change(log, 2, 0, {"price": 140})
    logged = log["periods"][1]["decisions"]["0"]
    assert r.decision.price == 140 and r.decision.service_level == logged["service_level"]
    assert {t: (b.price, b.promised_service) for t, b in r.decision.bids.items()} == {
        t: (b["price"], b["promised_service"]) for t, b in logged["bids"].items()}
    mine = next(x for x in r.side_by_side if x["firm"] == 0)
    assert mine["score_counterfactual"] != mine["score_real"]
    assert r.real == replay_with_change(log, 2, 0, {}).real
    assert r.notices[0].code == "REPLAY_BOTS_REACT"


def test_a_changed_bid_is_laid_over_the_logged_bids(game):
    log = game.decision_log()
    entry = log["periods"][0]
    logged = entry["decisions"]["0"]["bids"]
    first = sorted(logged)[0]
    fresh = CRMModel(game.scenario, seed=game.seed)
    d = changed_decision(fresh, 0, entry, {"bids": {first: None}})
    assert sorted(d.bids) == sorted(logged)[1:]
    d = changed_decision(fresh, 0, entry, {"bids": {first: {"price": 101, "promised_service": 0.8}}})
    assert d.bids[first] == Bid(101.0, 0.8) and d.price == entry["decisions"]["0"]["price"]


def test_a_changed_decision_that_breaks_a_rule_is_refused(game):
    with pytest.raises(DecisionError) as exc:
        replay_with_change(game.decision_log(), 2, 0, {"price": 999})
    assert exc.value.problems[0].field == "price"


def test_a_game_that_is_not_over_is_not_replayed():
    sc = load_scenario("classroom-v2", overrides=SIX)
    m = CRMModel(sc, seed=7, strategies=[None, "balanced", "price_cutter", "premium", "relationship", "adaptive"])
    m.step()
    with pytest.raises(ValueError, match="not over"):
        replay_with_change(m.decision_log(), 1, 0, {"price": 120})
