"""Tests for sim/tenders.py: void bids (废标), failed tenders (流标), comprehensive
scoring (综合评分法), ties, awards, contract delivery and key-client relationships.

Each test names the rule of docs/rules.md section 6 it checks. Unit tests call
``resolve_tender``/``deliver``/``cultivation_gain`` on hand-worked numbers; the
whole-path tests run ``resolve_period`` on small custom scenarios.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim import tenders as T
from crmsim.sim.decisions import Bid, Decision, DecisionError
from crmsim.sim.engine import capacity_effect, check_decision, initial_state, period_rng, resolve_period
from crmsim.sim.state import Contract, Tender

# ---------------------------------------------------------------------------
# helpers

# classroom tender settings: bond 2%, abnormally low below 80%, penalty 20%,
# service cost 10 a unit at promised service 1, decay 0.05, cultivation scale
# 20,000, rivalry 0.8, delivery gain 0.08 and loss 0.25, re-issue limit 2
SC = load_scenario("classroom-v1", overrides={"market.customers": 500})
UNIT_COST = 60.0
SERVICE_COST = SC.tenders.service_cost_per_unit  # 10


def _client(cid: str, **kw) -> dict:
    base = {
        "id": cid,
        "name": {"en": cid.title(), "zh": cid},
        "volume": 1000,
        "volume_spread": 0.0,
        "price_cap": 100,
        "required_service": 0.5,
        "every": 1,
        "first_period": 1,
    }
    base.update(kw)
    return base


def scenario(clients: list[dict], **overrides):
    """classroom-v1 with custom key clients, a small market and no events."""
    ov = {"clients": clients, "market.customers": 2000, "events": [], **overrides}
    return load_scenario("classroom-v1", overrides=ov)


def tender(**kw) -> Tender:
    base = dict(
        id="acme-01",
        client="acme",
        period=1,
        issued=1,
        volume=1000.0,
        price_cap=100.0,
        required_service=0.5,
        closed=False,
        min_relationship=0.0,
        w_price=0.4,
        w_service=0.3,
        w_relationship=0.3,
        min_valid_bids=3,
        load_per_unit=0.02,
    )
    base.update(kw)
    return Tender(**base)


def bidder(firm: int, **kw) -> T.Bidder:
    base = dict(firm=firm, bankrupt=False, late=False, unit_cost=UNIT_COST, capacity=1000.0, load=200.0, cash=1e6)
    base.update(kw)
    return T.Bidder(**base)


def run_tender(t: Tender, bids: dict[int, Bid], *, rel=None, bidders=None, period=1, seed=0, over=frozenset(), bond_left=None):
    """resolve_tender with default bidders (cost 60, ample capacity and cash) and R = 0.1."""
    bd = {f: bidder(f) for f in bids}
    bd.update(bidders or {})
    r = {f: 0.1 for f in bids}
    r.update(rel or {})
    bl = {f: bd[f].cash for f in bids} if bond_left is None else bond_left
    return T.resolve_tender(t, bids, bd, r, SC, period, bl, np.random.default_rng(seed), over_limit=over)


def rec(out: T.TenderOutcome, firm: int) -> T.BidRecord:
    return next(r for r in out.bids if r.firm == firm)


# three ordinary valid bids at promised service 0.6 (own cost 66)
BASE = {0: Bid(90.0, 0.6), 1: Bid(92.0, 0.6), 2: Bid(94.0, 0.6)}


def test_hand_worked_numbers_assume_the_classroom_tender_settings():
    """The hand-worked numbers in this file use classroom-v1's tender settings; a change there should show here first."""
    t = SC.tenders
    got = (t.bond_rate, t.abnormally_low_ratio, t.penalty_rate, t.service_cost_per_unit, t.relationship_decay,
           t.cultivation_scale, t.attention_rivalry, t.delivery_gain, t.delivery_loss, t.reissue_limit)
    assert got == (0.02, 0.8, 0.2, 10, 0.05, 20_000, 0.8, 0.08, 0.25, 2)


# ---------------------------------------------------------------------------
# void reasons, one by one (resolve_tender), each at its boundary


def test_above_cap_void_when_price_exceeds_cap_and_valid_at_the_cap():
    """ABOVE_CAP: a price above the tender's cap (最高投标限价) is void; exactly the cap is not."""
    out = run_tender(tender(), {**BASE, 3: Bid(100.01, 0.6)})
    r = rec(out, 3)
    assert (r.valid, r.void_reason) == (False, T.ABOVE_CAP)
    assert "100.01" in r.void_detail and "100.00" in r.void_detail
    out = run_tender(tender(), {**BASE, 3: Bid(100.0, 0.6)})
    assert rec(out, 3).valid and rec(out, 3).void_reason is None


def test_below_cost_void_below_own_unit_delivery_cost_including_promised_service():
    """BELOW_COST: price below unit cost + service cost per unit x promised service (60 + 10 x s)."""
    low = {0: Bid(75.0, 0.6), 1: Bid(76.0, 0.6), 2: Bid(77.0, 0.6)}  # keeps 66 above 80% of the mean
    out = run_tender(tender(), {**low, 3: Bid(65.99, 0.6)})
    assert rec(out, 3).void_reason == T.BELOW_COST
    assert "66.00" in rec(out, 3).void_detail
    out = run_tender(tender(), {**low, 3: Bid(66.0, 0.6)})
    assert rec(out, 3).valid
    # promising full service costs 70 a unit
    out = run_tender(tender(), {**low, 3: Bid(69.99, 1.0)})
    assert rec(out, 3).void_reason == T.BELOW_COST
    out = run_tender(tender(), {**low, 3: Bid(70.0, 1.0)})
    assert rec(out, 3).valid


def test_below_cost_uses_the_bidders_own_unit_cost():
    """BELOW_COST compares with the bidding firm's own cost: 80 is below cost 75 + 6 for one firm only."""
    out = run_tender(tender(), {**BASE, 3: Bid(80.0, 0.6)}, bidders={3: bidder(3, unit_cost=75.0)})
    assert rec(out, 3).void_reason == T.BELOW_COST
    out = run_tender(tender(), {**BASE, 3: Bid(80.0, 0.6)})
    assert rec(out, 3).valid


def test_abnormally_low_void_below_80_percent_of_mean_of_other_valid_bids():
    """ABNORMALLY_LOW: others 90, 92, 94 average 92, so the line is 73.6: 73.5 void, 73.7 valid."""
    out = run_tender(tender(), {**BASE, 3: Bid(73.5, 0.6)})
    r = rec(out, 3)
    assert (r.valid, r.void_reason) == (False, T.ABNORMALLY_LOW)
    assert "73.60" in r.void_detail
    assert all(rec(out, f).valid for f in BASE)
    assert out.winner == 0
    out = run_tender(tender(), {**BASE, 3: Bid(73.7, 0.6)})
    assert rec(out, 3).valid
    assert out.winner == 3


def test_abnormally_low_mean_counts_only_other_valid_bids():
    """ABNORMALLY_LOW: a void bid (here ABOVE_CAP at 1000) does not raise the others' mean."""
    out = run_tender(tender(), {**BASE, 3: Bid(73.7, 0.6), 4: Bid(1000.0, 0.6)})
    assert rec(out, 4).void_reason == T.ABOVE_CAP
    assert rec(out, 3).valid


def test_abnormally_low_check_needs_at_least_two_valid_bids():
    """ABNORMALLY_LOW compares with the others; a lone valid bid has no others and is never flagged."""
    out = run_tender(tender(min_valid_bids=1), {0: Bid(70.0, 0.6), 1: Bid(99.0, 0.2)})
    assert rec(out, 1).void_reason == T.UNQUALIFIED
    assert rec(out, 0).valid and out.winner == 0


def test_unqualified_void_when_promised_service_below_requirement():
    """UNQUALIFIED: promised service 0.49 < required 0.5 is void; exactly 0.5 qualifies."""
    out = run_tender(tender(), {**BASE, 3: Bid(90.0, 0.49)})
    assert rec(out, 3).void_reason == T.UNQUALIFIED
    assert "0.49" in rec(out, 3).void_detail and "0.50" in rec(out, 3).void_detail
    out = run_tender(tender(), {**BASE, 3: Bid(90.0, 0.5)})
    assert rec(out, 3).valid


def test_unqualified_void_when_relationship_below_closed_tender_threshold():
    """UNQUALIFIED: a closed (invited) tender needs R >= min_relationship: 0.24 void, 0.25 qualifies."""
    t = tender(closed=True, min_relationship=0.25)
    rel = {0: 0.3, 1: 0.3, 2: 0.3, 3: 0.24}
    out = run_tender(t, {**BASE, 3: Bid(90.0, 0.6)}, rel=rel)
    assert rec(out, 3).void_reason == T.UNQUALIFIED
    assert "invited" in rec(out, 3).void_detail
    out = run_tender(t, {**BASE, 3: Bid(90.0, 0.6)}, rel={**rel, 3: 0.25})
    assert rec(out, 3).valid


def test_open_tender_ignores_relationship_threshold():
    """An open tender accepts any qualified firm, whatever its relationship."""
    out = run_tender(tender(closed=False, min_relationship=0.9), {**BASE, 3: Bid(90.0, 0.6)}, rel={3: 0.0})
    assert rec(out, 3).valid


def test_qualification_rule_worked_by_hand():
    """One rule for the tender office, the bots and the environments: service >= required, and on an invited
    tender R >= min_relationship (the service shortfall is reported first)."""
    invited = tender(closed=True, min_relationship=0.25)
    assert T.unqualified(invited, 0.5, 0.25) is None and T.is_invited(invited, 0.25)
    assert T.unqualified(invited, 0.49, 0.1) == "promised service 0.49 < required 0.50"
    assert T.unqualified(invited, 0.6, 0.24) == "invited tender: relationship 0.24 < 0.25" and not T.is_invited(invited, 0.24)
    assert T.is_invited(tender(closed=False, min_relationship=0.9), 0.0)


def test_bid_bond_is_rate_times_price_times_volume():
    """2% x 90 x 1,000 = 1,800; the winner's contract records the same bond."""
    assert T.bid_bond(0.02, 90.0, 1000.0) == pytest.approx(1800.0)
    assert T.bid_bond(0.0, 90.0, 1000.0) == 0.0


def test_client_satisfaction_moves_toward_ten_times_the_delivery_outcome():
    """w = 0.3: 7 -> 0.7 x 7 + 0.3 x 10 x 1 = 7.9 (a perfect delivery), 0.7 x 4 + 0.3 x 10 x 0.2 = 3.4; undelivered stays."""
    sc = scenario([_client("acme"), _client("bolt")])
    out = T.update_client_satisfaction(np.array([[7.0, 4.0], [5.0, 5.0]]), np.array([[1.0, 0.2], [1.0, 1.0]]),
                                       np.array([[True, True], [False, False]]), sc)
    assert out.ravel().tolist() == pytest.approx([7.9, 3.4, 5.0, 5.0])


def test_no_capacity_void_when_volume_load_exceeds_capacity():
    """NO_CAPACITY: load + volume x load_per_unit (1000 x 0.02 = 20) above capacity 1000: 981 void, 980 fits."""
    out = run_tender(tender(), {**BASE, 3: Bid(91.0, 0.6)}, bidders={3: bidder(3, load=981.0)})
    assert rec(out, 3).void_reason == T.NO_CAPACITY
    out = run_tender(tender(), {**BASE, 3: Bid(91.0, 0.6)}, bidders={3: bidder(3, load=980.0)})
    assert rec(out, 3).valid


def test_no_bond_void_when_cash_cannot_cover_two_percent_bond():
    """NO_BOND: the bond is 2% of bid value (0.02 x 90 x 1000 = 1800); 1799.99 of cash is not enough."""
    bids = {**BASE, 3: Bid(90.0, 0.6)}
    left = {0: 1e6, 1: 1e6, 2: 1e6, 3: 1799.99}
    out = run_tender(tender(), bids, bond_left=left)
    assert rec(out, 3).void_reason == T.NO_BOND
    assert left[3] == 1799.99  # nothing pledged
    left = {0: 1e6, 1: 1e6, 2: 1e6, 3: 1800.0}
    out = run_tender(tender(), bids, bond_left=left)
    assert rec(out, 3).valid


def test_bond_is_kept_pledged_only_for_the_winner():
    """Bonds: the winner's 2% stays pledged (cash for later tenders shrinks); losers get theirs back."""
    left = {0: 10_000.0, 1: 10_000.0, 2: 10_000.0}
    out = run_tender(tender(), dict(BASE), bond_left=left)
    assert out.winner == 0
    assert left == {0: pytest.approx(10_000 - 1800), 1: 10_000.0, 2: 10_000.0}


def test_bond_pledged_on_one_tender_reduces_cash_for_the_next():
    """NO_BOND: cash pledged on an earlier tender in the same period is not available again."""
    left = {0: 2500.0, 1: 1e6, 2: 1e6}
    out1 = run_tender(tender(), dict(BASE), bond_left=left)
    assert out1.winner == 0 and left[0] == pytest.approx(700.0)
    out2 = run_tender(tender(id="acme-01b"), dict(BASE), bond_left=left)
    assert rec(out2, 0).void_reason == T.NO_BOND


def test_bankrupt_bidder_void_bankrupt():
    """BANKRUPT: a bankrupt firm's bid is void."""
    out = run_tender(tender(), {**BASE, 3: Bid(91.0, 0.6)}, bidders={3: bidder(3, bankrupt=True)})
    assert rec(out, 3).void_reason == T.BANKRUPT


def test_late_decision_void_late():
    """LATE: a bid from a decision flagged late (after the deadline) is void."""
    out = run_tender(tender(), {**BASE, 3: Bid(91.0, 0.6)}, bidders={3: bidder(3, late=True)})
    assert rec(out, 3).void_reason == T.LATE
    assert "deadline" in rec(out, 3).void_detail


def test_bid_for_tender_whose_period_has_passed_is_late():
    """LATE: a tender whose deadline period is before the current period voids every bid."""
    out = run_tender(tender(period=1), dict(BASE), period=2)
    assert [r.void_reason for r in out.bids] == [T.LATE] * 3
    assert "period 1" in out.bids[0].void_detail
    assert out.failed and out.winner is None


@pytest.mark.parametrize(
    "bid",
    [
        Bid(float("nan"), 0.6),
        Bid(float("inf"), 0.6),
        Bid(-90.0, 0.6),
        Bid(0.0, 0.6),
        Bid("90", 0.6),  # type: ignore[arg-type]
        Bid(None, 0.6),  # type: ignore[arg-type]
        Bid(90.0, float("nan")),
        Bid(90.0, 1.01),
        Bid(90.0, -0.1),
        Bid(90.0, None),  # type: ignore[arg-type]
    ],
    ids=["nan-price", "inf-price", "negative-price", "zero-price", "str-price", "none-price",
         "nan-service", "service-above-1", "negative-service", "none-service"],
)
def test_malformed_bid_values_void_malformed(bid):
    """MALFORMED: a bid whose price is not a positive finite number or whose service is not in [0, 1]."""
    out = run_tender(tender(), {**BASE, 3: bid})
    assert rec(out, 3).void_reason == T.MALFORMED
    assert out.winner == 0  # the others are unaffected


def test_bid_beyond_sales_staff_limit_void_malformed():
    """MALFORMED: a bid beyond what the firm's sales staff can prepare (over_limit) is void, even if otherwise fine."""
    out = run_tender(tender(), {**BASE, 3: Bid(89.0, 0.6)}, over=frozenset({3}))
    assert rec(out, 3).void_reason == T.MALFORMED
    assert "sales staff" in rec(out, 3).void_detail


@pytest.mark.parametrize(
    "bid, bd, over, expected",
    [
        (Bid(float("nan"), 0.2), dict(bankrupt=True, late=True), True, T.BANKRUPT),
        (Bid(float("nan"), 0.2), dict(late=True), True, T.LATE),
        (Bid(500.0, 0.2), dict(), False, T.UNQUALIFIED),
        (Bid(500.0, 0.9), dict(load=999.0), False, T.ABOVE_CAP),
        (Bid(61.0, 0.9), dict(load=999.0), False, T.BELOW_COST),
        (Bid(500.0, 0.2), dict(), True, T.MALFORMED),
        (Bid(89.0, 0.6), dict(late=True), True, T.LATE),
    ],
)
def test_first_applicable_void_reason_is_reported(bid, bd, over, expected):
    """Void reasons are checked in the order BANKRUPT, LATE, MALFORMED, UNQUALIFIED, ABOVE_CAP, BELOW_COST,
    NO_CAPACITY, NO_BOND, ABNORMALLY_LOW; the first that applies is shown; over the staff limit turns a
    qualification/price/capacity reason into MALFORMED."""
    out = run_tender(tender(), {**BASE, 3: bid}, bidders={3: bidder(3, **bd)}, over=frozenset({3}) if over else frozenset())
    assert rec(out, 3).void_reason == expected
    assert T.VOID_REASONS.index(expected) >= 0


def test_every_applicable_void_reason_is_listed_in_checking_order_the_first_as_void_reason():
    """void_checks yields checks 4-7 that apply, in order; a bankrupt, late or malformed bid has that reason alone."""
    t = tender()

    def reasons(bid, **bd):
        return [r for r, _ in T.void_checks(t, bid, bidder(3, **bd), 1.0, t.period, 40.0)]

    assert reasons(Bid(500.0, 0.2), load=999.0) == [T.UNQUALIFIED, T.ABOVE_CAP, T.NO_CAPACITY]
    assert reasons(Bid(61.0, 0.9), load=999.0) == [T.BELOW_COST, T.NO_CAPACITY]
    assert reasons(Bid(float("nan"), 0.2), late=True) == [T.LATE]
    assert reasons(Bid(float("nan"), 0.2)) == [T.MALFORMED]
    assert reasons(Bid(89.0, 0.6)) == []
    for bid, bd in ((Bid(500.0, 0.2), {"load": 999.0}), (Bid(61.0, 0.9), {}), (Bid(89.0, 0.6), {})):
        listed = list(T.void_checks(t, bid, bidder(3, **bd), 1.0, t.period, 40.0))
        assert T.void_reason(t, bid, bidder(3, **bd), 1.0, t.period, 40.0) == (listed[0] if listed else (None, ""))


def test_void_bids_are_not_scored_or_ranked():
    """A void bid gets no score, no rank, cannot win and is published with its reason."""
    out = run_tender(tender(), {**BASE, 3: Bid(100.5, 0.6)})
    r = rec(out, 3)
    assert (r.total, r.price_score, r.rank, r.won) == (0.0, 0.0, None, False)
    assert r.void_reason == T.ABOVE_CAP and r.void_detail


# ---------------------------------------------------------------------------
# failed tenders (流标)


def test_tender_with_fewer_valid_bids_than_minimum_fails_and_frees_bonds():
    """流标: 2 valid bids < min_valid_bids 3: no winner, nothing ranked, every bond released."""
    left = {0: 5000.0, 1: 5000.0, 2: 5000.0}
    out = run_tender(tender(), {0: Bid(90.0, 0.6), 1: Bid(92.0, 0.6), 2: Bid(100.5, 0.6)}, bond_left=left)
    assert out.failed and out.winner is None
    assert out.margin_points is None and out.max_winning_price is None
    assert all(not r.won and r.rank is None for r in out.bids)
    assert left == {0: 5000.0, 1: 5000.0, 2: 5000.0}


def test_tender_with_exactly_minimum_valid_bids_is_awarded():
    """A tender with exactly min_valid_bids valid bids does not fail."""
    out = run_tender(tender(min_valid_bids=3), dict(BASE))
    assert not out.failed and out.winner == 0


def test_lone_valid_bid_wins_at_the_cap_when_minimum_is_one():
    """With min_valid_bids 1 a lone bid wins; no runner-up, so no margin, and it would have won at the cap."""
    out = run_tender(tender(min_valid_bids=1), {0: Bid(90.0, 0.6)})
    assert out.winner == 0 and out.margin_points is None
    assert out.max_winning_price == 100.0


# ---------------------------------------------------------------------------
# comprehensive scoring (综合评分法), ties, margins


def test_comprehensive_score_on_hand_computed_numbers():
    """Score = 0.4 x 100 x min/price + 0.3 x 100 x service + 0.3 x 100 x R, worked by hand.

    Bids (price, service, R): A (80, 0.6, 0.2), B (90, 0.8, 0.5), C (85, 0.5, 0.1); lowest valid price 80.
    A: 40 + 18 + 6 = 64. B: 3200/90 + 24 + 15 = 74.5556. C: 3200/85 + 15 + 3 = 55.6471.
    """
    bids = {0: Bid(80.0, 0.6), 1: Bid(90.0, 0.8), 2: Bid(85.0, 0.5)}
    out = run_tender(tender(price_cap=150.0), bids, rel={0: 0.2, 1: 0.5, 2: 0.1})
    a, b, c = rec(out, 0), rec(out, 1), rec(out, 2)
    assert (a.price_score, a.service_score, a.relationship_score) == pytest.approx((40.0, 18.0, 6.0))
    assert a.total == pytest.approx(64.0)
    assert b.price_score == pytest.approx(3200 / 90)
    assert (b.service_score, b.relationship_score) == pytest.approx((24.0, 15.0))
    assert b.total == pytest.approx(3200 / 90 + 39)
    assert c.total == pytest.approx(3200 / 85 + 18)
    assert out.winner == 1 and b.won and not a.won and not c.won
    assert [r.rank for r in (b, a, c)] == [1, 2, 3]
    assert b.points_behind == 0.0
    assert a.points_behind == pytest.approx(3200 / 90 + 39 - 64)
    assert c.points_behind == pytest.approx(3200 / 90 + 39 - 3200 / 85 - 18)


def test_tender_weights_change_the_score():
    """Weights come from the tender (client): price 0.5 / service 0.2 / relationship 0.3 (Wahaha)."""
    out = run_tender(tender(w_price=0.5, w_service=0.2, w_relationship=0.3), dict(BASE), rel={0: 0.1, 1: 0.4, 2: 0.1})
    b = rec(out, 1)
    assert b.price_score == pytest.approx(50 * 90 / 92)
    assert b.service_score == pytest.approx(12.0)
    assert b.relationship_score == pytest.approx(12.0)


def test_winner_margin_and_max_winning_price_on_hand_worked_example():
    """Margin = winner's total - runner-up's; max winning price solves 3200/p + 30 = 64, i.e. p = 94.118.

    A (80, 0.6, R 0.2) scores 64; B (90, 0.7, R 0.3) scores 3200/90 + 21 + 9 = 65.556 and wins by 1.556;
    C (85, 0.5, R 0.1) scores 55.647. Raising B's price (A stays the lowest at 80) costs B
    3200/90 - 3200/p points, so B still wins below p = 3200/34.
    """
    bids = {0: Bid(80.0, 0.6), 1: Bid(90.0, 0.7), 2: Bid(85.0, 0.5)}
    rel = {0: 0.2, 1: 0.3, 2: 0.1}
    out = run_tender(tender(price_cap=150.0), bids, rel=rel)
    assert out.winner == 1
    assert out.margin_points == pytest.approx(3200 / 90 + 30 - 64)
    assert out.max_winning_price == pytest.approx(3200 / 34, abs=1e-6)
    # cross-check: B wins just below 94.118, loses just above
    below = run_tender(tender(price_cap=150.0), {**bids, 1: Bid(94.0, 0.7)}, rel=rel)
    above = run_tender(tender(price_cap=150.0), {**bids, 1: Bid(94.2, 0.7)}, rel=rel)
    assert below.winner == 1 and above.winner == 0


def test_max_winning_price_is_capped_at_the_tender_cap():
    """If the winner would still win at the cap, the max winning price is the cap (92 < 94.118)."""
    bids = {0: Bid(80.0, 0.6), 1: Bid(90.0, 0.7), 2: Bid(85.0, 0.5)}
    out = run_tender(tender(price_cap=92.0), bids, rel={0: 0.2, 1: 0.3, 2: 0.1})
    assert out.winner == 1 and out.max_winning_price == 92.0


def test_winner_still_wins_just_below_its_max_winning_price():
    """The published max winning price is a price at which the winner would still have won, others unchanged."""
    bids = {0: Bid(80.0, 0.6), 1: Bid(90.0, 0.8), 2: Bid(85.0, 0.5)}
    rel = {0: 0.2, 1: 0.5, 2: 0.1}
    out = run_tender(tender(price_cap=150.0), bids, rel=rel)
    assert out.winner == 1
    again = run_tender(tender(price_cap=150.0), {**bids, 1: Bid(out.max_winning_price - 1.0, 0.8)}, rel=rel)
    assert again.winner == 1


def test_equal_totals_go_to_the_lower_price_whatever_the_rng():
    """Tie rule: equal totals (75 = 50 + 25 = 40 + 35) go to the lower price, for every rng seed."""
    t = tender(w_price=0.5, w_service=0.5, w_relationship=0.0)
    bids = {0: Bid(100.0, 0.7), 1: Bid(80.0, 0.5), 2: Bid(90.0, 0.5)}
    for seed in range(20):
        out = run_tender(t, bids, seed=seed)
        assert rec(out, 0).total == rec(out, 1).total == 75.0
        assert out.winner == 1 and out.tie_break == "price"
        assert out.margin_points == 0.0


def test_identical_bids_are_broken_by_the_rng_deterministically():
    """Tie rule: identical total and price go to a draw of the run's rng; same seed, same winner."""
    bids = {0: Bid(90.0, 0.6), 1: Bid(90.0, 0.6), 2: Bid(90.0, 0.6)}
    winners = []
    for seed in range(40):
        first = run_tender(tender(), bids, seed=seed)
        again = run_tender(tender(), bids, seed=seed)
        assert first.tie_break == "lot"
        assert first.winner == again.winner
        assert [r.rank for r in first.bids] == [r.rank for r in again.bids]
        winners.append(first.winner)
    assert set(winners) == {0, 1, 2}  # each firm wins some draws: the rng, not the index, decides


def test_totals_within_tie_tolerance_go_to_the_lower_price():
    """Tie rule: totals within TIE_TOLERANCE (1e-9) are a tie, so the lower price wins."""
    a = T.BidRecord("t-01", "t", 0, 100.0, 0.5)
    b = T.BidRecord("t-01", "t", 1, 80.0, 0.5)
    a.total, b.total = 50.0000000006, 50.0000000004
    assert abs(a.total - b.total) <= T.TIE_TOLERANCE
    ranked, tie = T.rank_bids([a, b], np.random.default_rng(0))
    assert ranked[0].firm == 1 and tie == "price"


def _ranking_by_tie_groups(valid, draws):
    """The ranking rule as section 6.6 states it: the best total's group (totals within TIE_TOLERANCE of it) first,
    by lower price, then by the draw; then the next group among the rest."""
    remaining, ranked = list(range(len(valid))), []
    while remaining:
        best = max(valid[i].total for i in remaining)
        group = sorted((i for i in remaining if best - valid[i].total <= T.TIE_TOLERANCE), key=lambda i: (valid[i].price, draws[i]))
        ranked += group
        remaining = [i for i in remaining if i not in group]
    return [valid[i] for i in ranked]


@pytest.mark.parametrize("case", range(200))
def test_ranking_follows_the_tie_groups_whether_or_not_totals_tie(case):
    """Ranking rule: rank_bids orders bids as the tie groups do, when every total stands apart (ranked by total
    alone) and when some fall within TIE_TOLERANCE of each other or are equal; it draws the rng once per bid."""
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 7))
    base = rng.uniform(40.0, 80.0, n)
    if case % 2:  # near ties: some totals a few tolerances apart, some equal
        base = base[0] + rng.integers(-3, 4, n) * T.TIE_TOLERANCE * rng.choice([0.4, 1.0, 1.5])
    valid = []
    for i in range(n):
        r = T.BidRecord("t-01", "t", i, float(rng.choice([80.0, 90.0, 100.0])), 0.5)
        r.total = float(base[i])
        valid.append(r)
    draws = np.random.default_rng(case).random(n + 1).tolist()  # rank_bids' draws, then the rng's next one
    rank_rng = np.random.default_rng(case)
    ranked, _ = T.rank_bids(valid, rank_rng)
    assert [r.firm for r in ranked] == [r.firm for r in _ranking_by_tie_groups(valid, draws[:n])]
    assert rank_rng.random() == draws[n]  # one draw per bid, whether or not totals tied


# ---------------------------------------------------------------------------
# contracts and delivery


def _contract(**kw) -> Contract:
    base = dict(tender_id="acme-01", client="acme", firm=0, volume=1000.0, price=90.0, promised_service=0.6,
                deliver_period=2, load=20.0, bond=1800.0)
    base.update(kw)
    return Contract(**base)


def test_award_contract_delivers_next_period_at_the_bid_price():
    """Contract: the winner delivers the tender volume next period at its own bid price."""
    out = run_tender(tender(), dict(BASE))
    c = T.award_contract(out, SC, 1)
    assert (c.firm, c.price, c.volume, c.promised_service, c.deliver_period) == (0, 90.0, 1000.0, 0.6, 2)
    assert c.load == pytest.approx(20.0) and c.bond == pytest.approx(1800.0)
    assert T.award_contract(run_tender(tender(), {0: Bid(90.0, 0.6)}), SC, 1) is None  # failed: no contract


def test_full_delivery_books_revenue_at_bid_price_and_no_penalty():
    """Delivery at full capacity: revenue 90 x 1000, goods 60 x 1000, service 10 x 0.6 x 1000, no penalty."""
    d = T.deliver(_contract(), UNIT_COST, 1.0, 1.0, SC)
    assert (d.share, d.service) == (1.0, 0.6)
    assert d.revenue == pytest.approx(90_000)
    assert d.cost_of_goods == pytest.approx(60_000)
    assert d.service_cost == pytest.approx(6_000)
    assert d.penalty == 0.0 and d.outcome == 1.0


def test_capacity_shortfall_delivery_penalty_on_hand_worked_numbers():
    """Shortfall: half the volume at half the promised service: revenue 45,000 and penalty
    0.2 x 90,000 x (0.5 missing volume + 0.3 missing service) = 14,400; outcome 0.5 x 0.5."""
    d = T.deliver(_contract(), UNIT_COST, 0.5, 0.5, SC)
    assert d.revenue == pytest.approx(45_000)
    assert d.cost_of_goods == pytest.approx(30_000)
    assert d.service == pytest.approx(0.3)
    assert d.penalty == pytest.approx(14_400)
    assert d.outcome == pytest.approx(0.25)


ACME = _client("acme", volume=1000, every=100)  # one tender, in period 1


@pytest.fixture(scope="module")
def awarded():
    """Period 1 of a 4-firm game: firms 0-2 bid on acme-01, firm 0 wins at 90 (lowest price)."""
    sc = scenario([ACME], **{"firms.count": 4, "firms.names": ["A", "B", "C", "D"]})
    st = initial_state(sc, 7)
    dec = {i: check_decision(st, i, {"bids": {"acme-01": {"price": p, "promised_service": 0.6}}}) for i, p in ((0, 90), (1, 92), (2, 94))}
    st2, res = resolve_period(st, dec, period_rng(7, 1))
    return sc, st, st2, res


def test_won_tender_becomes_an_open_contract_for_next_period(awarded):
    """Award: the winner gets a contract due next period; no contract revenue yet this period."""
    sc, st, st2, res = awarded
    (out,) = res.tenders
    assert out.winner == 0 and not out.failed
    (c,) = st2.contracts
    assert (c.firm, c.price, c.volume, c.deliver_period) == (0, 90.0, 1000, 2)
    assert res.ledgers[0].revenue_contracts == 0.0 and res.deliveries == []
    assert st2.tenders == ()  # acme issues only once


def test_contract_delivered_next_period_with_revenue_at_bid_price(awarded):
    """Delivery: next period the winner books 90 x 1000 of contract revenue and 60 x 1000 of goods on top of its market."""
    sc, st, st2, res = awarded
    st3, res2 = resolve_period(st2, {}, period_rng(7, 2))
    (d,) = res2.deliveries
    assert d.contract.firm == 0 and d.share == 1.0 and d.penalty == 0.0
    lg = res2.ledgers[0]
    assert lg.revenue_contracts == pytest.approx(90_000)
    row = res2.firm_rows[0]
    assert lg.cost_of_goods == pytest.approx(row["units_sold"] * UNIT_COST + 60_000)
    assert lg.penalties == 0.0
    assert st3.contracts == ()
    # a kept promise raises the relationship: R <- 0.95 R + 0.08 x 1 x (1 - 0.95 R)
    r0 = st2.relationship[0, 0]
    r = 0.95 * r0
    assert st3.relationship[0, 0] == pytest.approx(r + 0.08 * (1 - r))
    assert st3.relationship[0, 0] > r0
    assert st3.relationship[1, 0] == pytest.approx(0.95 * st2.relationship[1, 0])  # no delivery: decay only


def test_capacity_shortfall_gives_penalty_and_lowers_relationship(awarded):
    """Shortfall: the winner fires 9 of 10 service staff before delivery; it delivers 1/utilisation of the volume
    at degraded service, pays 20% of contract value per missing share, and the client's relationship drops."""
    sc, st, st2, res = awarded
    dec = {0: check_decision(st2, 0, {"fire_service": 9})}
    st3, res2 = resolve_period(st2, dec, period_rng(7, 2))
    (d,) = res2.deliveries
    u = res2.firm_rows[0]["utilisation"]
    assert u > 1
    q = capacity_effect(u, sc.market)
    assert d.share == pytest.approx(1 / u)
    assert d.service == pytest.approx(0.6 * q)
    assert d.revenue == pytest.approx(90 * 1000 / u)
    expected_penalty = 0.2 * 90_000 * ((1 - 1 / u) + (0.6 - 0.6 * q))
    assert d.penalty == pytest.approx(expected_penalty) and d.penalty > 0
    lg = res2.ledgers[0]
    assert lg.penalties == pytest.approx(expected_penalty)
    assert lg.revenue_contracts == pytest.approx(d.revenue)
    assert any(e["kind"] == "delivery_shortfall" and e["firm"] == 0 for e in res2.events)
    # R <- 0.95 R + 0.08 o (1 - 0.95 R) - 0.25 (1 - o), o = share x delivered/promised service
    o = (1 / u) * q
    r = 0.95 * st2.relationship[0, 0]
    assert st3.relationship[0, 0] == pytest.approx(max(0.0, r + 0.08 * o * (1 - r) - 0.25 * (1 - o)))
    assert st3.relationship[0, 0] < st2.relationship[0, 0]
    assert st3.client_satisfaction[0, 0] == pytest.approx(0.7 * 7.0 + 0.3 * 10 * o)
    assert st3.client_satisfaction[0, 0] < 7.0


# ---------------------------------------------------------------------------
# relationships and cultivation (顾客培养)


def test_cultivation_gain_formula_on_hand_numbers():
    """gain = (1 - R) (1 - exp(-spend / scale)) (1 - rivalry x strongest rival R): 0.9 x 0.63212 x 0.36 = 0.20481."""
    rel = np.array([[0.1], [0.8]])
    spend = np.array([[20_000.0], [0.0]])
    g = T.cultivation_gain(rel, spend, 20_000.0, 0.8)
    assert g[0, 0] == pytest.approx(0.9 * (1 - math.exp(-1)) * (1 - 0.8 * 0.8))
    assert g[0, 0] == pytest.approx(0.20481, abs=1e-5)
    assert g[1, 0] == 0.0  # no spend, no gain


def test_cultivation_has_diminishing_returns_in_spend():
    """Diminishing returns: each extra 10,000 buys less relationship than the one before."""
    spends = np.array([0.0, 10_000, 20_000, 30_000, 40_000])
    gains = np.array([T.cultivation_gain(np.array([[0.1]]), np.array([[s]]), 20_000.0, 0.8)[0, 0] for s in spends])
    steps = np.diff(gains)
    assert np.all(steps > 0)
    assert np.all(np.diff(steps) < 0)
    assert gains[2] < 2 * gains[1]


def test_rivals_strong_hold_blunts_a_newcomers_gain():
    """Share of attention: against a rival at R 0.8 a newcomer's spend buys (1 - 0.64)/(1 - 0.08) of what it buys
    against a rival at 0.1."""
    spend = np.array([[20_000.0], [0.0]])
    weak = T.cultivation_gain(np.array([[0.1], [0.1]]), spend, 20_000.0, 0.8)[0, 0]
    strong = T.cultivation_gain(np.array([[0.1], [0.8]]), spend, 20_000.0, 0.8)[0, 0]
    assert strong == pytest.approx(weak * (1 - 0.64) / (1 - 0.08))
    assert strong < 0.5 * weak


def test_incumbents_rival_is_the_second_strongest_hold():
    """Share of attention: the client's strongest holder competes only with the runner-up's hold."""
    rel = np.array([[0.8], [0.3], [0.1]])
    spend = np.full((3, 1), 10_000.0)
    g = T.cultivation_gain(rel, spend, 20_000.0, 0.8)
    base = 1 - math.exp(-0.5)
    assert g[0, 0] == pytest.approx(0.2 * base * (1 - 0.8 * 0.3))
    assert g[1, 0] == pytest.approx(0.7 * base * (1 - 0.8 * 0.8))
    assert g[2, 0] == pytest.approx(0.9 * base * (1 - 0.8 * 0.8))


def test_relationships_decay_without_cultivation_or_delivery():
    """R <- (1 - decay) R with no spend and no delivery (decay 0.05)."""
    rel = np.array([[0.4, 0.2], [0.6, 0.0]])
    out = T.update_relationships(rel, np.zeros_like(rel), np.ones_like(rel), np.zeros_like(rel, dtype=bool), SC)
    assert out == pytest.approx(0.95 * rel)


def test_cultivation_through_resolve_period_raises_relationship_by_formula():
    """Whole path: firm 0 spends 20,000 on acme; R = 0.95 x 0.1 + 0.9 (1 - e^-1)(1 - 0.8 x 0.1); firm 1 only decays."""
    sc = scenario([ACME], **{"firms.count": 3, "firms.names": ["A", "B", "C"]})
    st = initial_state(sc, 3)
    dec = {0: check_decision(st, 0, {"cultivation": {"acme": 20_000}})}
    st2, res = resolve_period(st, dec, period_rng(3, 1))
    assert st2.relationship[0, 0] == pytest.approx(0.095 + 0.9 * (1 - math.exp(-1)) * (1 - 0.08))
    assert st2.relationship[1, 0] == pytest.approx(0.095)
    assert res.ledgers[0].cultivation == 20_000
    row = next(r for r in res.relationship_rows if r["firm"] == 0 and r["client"] == "acme")
    assert row["relationship"] == pytest.approx(st2.relationship[0, 0])


def test_newcomer_cultivating_a_client_held_by_a_rival_gains_less():
    """Whole path: the same 20,000 buys firm 0 far less against a rival already at R 0.8 ("goes for nothing")."""
    sc = scenario([ACME], **{"firms.count": 3, "firms.names": ["A", "B", "C"]})
    st = initial_state(sc, 3)
    held = replace(st, relationship=np.array([[0.1], [0.8], [0.1]]))
    dec = {0: check_decision(st, 0, {"cultivation": {"acme": 20_000}})}
    free, _ = resolve_period(st, dec, period_rng(3, 1))
    taken, _ = resolve_period(held, dec, period_rng(3, 1))
    gain_free = free.relationship[0, 0] - 0.095
    gain_taken = taken.relationship[0, 0] - 0.095
    assert gain_taken == pytest.approx(gain_free * (1 - 0.64) / (1 - 0.08))
    assert taken.relationship[1, 0] == pytest.approx(0.95 * 0.8)


# ---------------------------------------------------------------------------
# the whole path: every void reason shown in the bid rows of resolve_period

CLUB = _client("club", closed=True, min_relationship=0.3)
# acme: 10,000 units (load 200, bond 1,800 x 10 at price 90); club: an invited tender
BIG = _client("acme", volume=10_000)
EXPECTED_VOID = {
    3: T.ABOVE_CAP,
    4: T.BELOW_COST,
    5: T.UNQUALIFIED,
    6: T.NO_CAPACITY,
    7: T.NO_BOND,
    8: T.ABNORMALLY_LOW,
    9: T.LATE,
    10: T.MALFORMED,
    11: T.MALFORMED,
}


@pytest.fixture(scope="module")
def void_period():
    """Period 1 with twelve firms: 0-2 bid validly on acme-01, each of 3-11 earns one void reason.

    Firms start with cash 50,000 and debt 45,000, so a firm that repays its debt keeps 5,000 of cash, less
    than the 18,000 bond on a 90 x 10,000 bid.
    """
    sc = scenario(
        [BIG, CLUB],
        **{"firms.count": 12, "firms.names": [f"F{i}" for i in range(12)], "firms.cash": 50_000, "firms.debt": 45_000, "market.customers": 3000},
    )
    st = initial_state(sc, 11)
    # firm 1 has cultivated the club enough to be invited
    rel = st.relationship.copy()
    rel[1, 1] = 0.3
    st = replace(st, relationship=rel)

    def bid(p, s=0.6):
        return {"price": p, "promised_service": s}

    raw = {
        0: {"bids": {"acme-01": bid(90), "club-01": bid(90)}},
        1: {"bids": {"acme-01": bid(92), "club-01": bid(91)}},
        2: {"bids": {"acme-01": bid(94)}},
        3: {"bids": {"acme-01": bid(100.5)}},
        4: {"bids": {"acme-01": bid(65)}},
        5: {"bids": {"acme-01": bid(90, 0.45)}},
        6: {"fire_service": 9, "bids": {"acme-01": bid(91)}},
        7: {"repay": 45_000, "bids": {"acme-01": bid(93)}},
        8: {"bids": {"acme-01": bid(70)}},
        9: {"late": True, "bids": {"acme-01": bid(90)}},
    }
    dec = {i: check_decision(st, i, r) for i, r in raw.items()}
    # built in code, bypassing validation
    dec[10] = Decision(price=100.0, service_level=0.6, bids={"acme-01": Bid(float("nan"), 0.6)})
    dec[11] = Decision(price=100.0, service_level=0.6, fire_sales=3, bids={"acme-01": Bid(95.0, 0.6)})
    st2, res = resolve_period(st, dec, period_rng(11, 1))
    return st, st2, res


@pytest.mark.parametrize("firm, reason", sorted(EXPECTED_VOID.items()))
def test_void_reason_shown_in_bid_rows_of_resolve_period(void_period, firm, reason):
    """Every void reason reaches the published bid rows (reason and detail), the event log and the firm's counts."""
    st, st2, res = void_period
    (row,) = [r for r in res.bid_rows() if r["tender"] == "acme-01" and r["firm"] == firm]
    assert row["valid"] is False and row["won"] is False
    assert row["void_reason"] == reason
    assert row["void_detail"]
    assert row["total"] == 0.0 and row["rank"] is None
    assert any(e["kind"] == "bid_void" and e["firm"] == firm and reason in e["detail"] for e in res.events)
    frow = res.firm_rows[firm]
    assert frow[f"void_{reason.lower()}"] == 1 and frow["tenders_voided"] == 1 and frow["tenders_won"] == 0


def test_valid_bids_of_the_void_period_are_scored_and_awarded(void_period):
    """The three valid acme bids (90, 92, 94; same service and R) are ranked by price; firm 0 wins."""
    st, st2, res = void_period
    rows = {r["firm"]: r for r in res.bid_rows() if r["tender"] == "acme-01"}
    assert {f for f, r in rows.items() if r["valid"]} == {0, 1, 2}
    assert [rows[f]["rank"] for f in (0, 1, 2)] == [1, 2, 3]
    assert rows[0]["won"] and rows[0]["price_score"] == pytest.approx(40.0)
    assert rows[1]["price_score"] == pytest.approx(40 * 90 / 92)
    assert rows[0]["tender_failed"] is False


def test_closed_tender_voids_uninvited_firm_and_fails_without_enough_bids(void_period):
    """UNQUALIFIED by relationship on the closed club tender (R 0.1 < 0.3); R 0.3 qualifies;
    one valid bid < 3, so club-01 fails (流标) and is re-issued as club-01r1 next period."""
    st, st2, res = void_period
    rows = {r["firm"]: r for r in res.bid_rows() if r["tender"] == "club-01"}
    assert rows[0]["void_reason"] == T.UNQUALIFIED and "invited" in rows[0]["void_detail"]
    assert rows[1]["valid"]
    assert all(r["tender_failed"] for r in rows.values())
    (tr,) = [t for t in res.tender_rows() if t["tender"] == "club-01"]
    assert tr["failed"] and tr["valid_bids"] == 1 and tr["winner"] is None
    ids = {t.id for t in st2.tenders}
    assert "club-01r1" in ids and "club-01" not in ids


def test_bankrupt_firm_bids_no_more_in_resolve_period(void_period):
    """BANKRUPT: a bankrupt firm is skipped; a decision for it is rejected, not resolved."""
    st, st2, res = void_period
    firms = list(st2.firms)
    firms[2] = replace(firms[2], bankrupt=True, bankrupt_period=1)
    dead = replace(st2, firms=tuple(firms))
    with pytest.raises(DecisionError) as exc:
        resolve_period(dead, {2: Decision(price=100.0, service_level=0.6)}, period_rng(11, 2))
    assert exc.value.problems[0].field == "firm"
    _, res2 = resolve_period(dead, {}, period_rng(11, 2))
    assert all(r["firm"] != 2 for r in res2.bid_rows())
    assert 2 not in res2.decisions


# ---------------------------------------------------------------------------
# failed tenders through resolve_period: re-issue with suffix r1, r2, then no more


def test_failed_tender_is_reissued_with_r_suffix_until_the_limit():
    """流标: acme-01 with 2 valid bids (< 3) fails and is re-issued as acme-01r1 (same terms), then acme-01r2;
    after reissue_limit (2) re-issues it is dropped."""
    sc = scenario([ACME], **{"firms.count": 3, "firms.names": ["A", "B", "C"], "tenders.min_valid_bids": 3})
    st = initial_state(sc, 5)
    (t1,) = st.tenders
    dec = {i: check_decision(st, i, {"bids": {"acme-01": {"price": p, "promised_service": 0.6}}}) for i, p in ((0, 90), (1, 92))}
    st2, res = resolve_period(st, dec, period_rng(5, 1))
    (out,) = res.tenders
    assert out.failed and out.winner is None
    assert all(r["tender_failed"] for r in res.bid_rows())
    assert any(e["kind"] == "tender_failed" and "acme-01" in e["detail"] for e in res.events)
    (t2,) = st2.tenders
    assert (t2.id, t2.period, t2.issued, t2.reissue) == ("acme-01r1", 2, 1, 1)
    assert (t2.volume, t2.price_cap, t2.required_service, t2.client) == (t1.volume, t1.price_cap, t1.required_service, "acme")
    assert st2.contracts == ()
    st3, res3 = resolve_period(st2, {}, period_rng(5, 2))
    assert res3.tenders[0].failed and res3.tender_rows()[0]["reissue"] == 1
    (t3,) = st3.tenders
    assert (t3.id, t3.reissue, t3.period) == ("acme-01r2", 2, 3)
    st4, res4 = resolve_period(st3, {}, period_rng(5, 3))
    assert res4.tenders[0].failed
    assert st4.tenders == ()  # reissue_limit 2 reached


def test_min_valid_bids_is_a_scenario_setting():
    """tenders.min_valid_bids = 2: two valid bids are now enough to award."""
    sc = scenario([ACME], **{"firms.count": 3, "firms.names": ["A", "B", "C"], "tenders.min_valid_bids": 2})
    st = initial_state(sc, 5)
    dec = {i: check_decision(st, i, {"bids": {"acme-01": {"price": p, "promised_service": 0.6}}}) for i, p in ((0, 90), (1, 92))}
    st2, res = resolve_period(st, dec, period_rng(5, 1))
    assert not res.tenders[0].failed and res.tenders[0].winner == 0
    assert len(st2.contracts) == 1


def test_bid_for_a_closed_past_tender_is_logged_late():
    """LATE: a bid in period 2 for acme-01 (deadline period 1) is voided LATE in the event log.

    Validation refuses such a bid at submit; one that reaches the engine unchecked
    (a decision built in code, a log recorded before the refusal) is voided here."""
    sc = scenario([_client("acme")], **{"firms.count": 3, "firms.names": ["A", "B", "C"]})
    st = initial_state(sc, 5)
    st2, _ = resolve_period(st, {}, period_rng(5, 1))
    dec = {0: replace(st2.firms[0].standing, bids={"acme-01": Bid(90.0, 0.6)})}
    _, res = resolve_period(st2, dec, period_rng(5, 2))
    assert any(e["kind"] == "bid_void" and e["firm"] == 0 and "acme-01" in e["detail"] and "LATE" in e["detail"] for e in res.events)


def test_bid_for_a_closed_past_tender_shows_late_in_bid_rows():
    """LATE must be shown to everyone after the award: the late bid appears in the bid rows with reason LATE."""
    sc = scenario([_client("acme")], **{"firms.count": 3, "firms.names": ["A", "B", "C"]})
    st = initial_state(sc, 5)
    st2, _ = resolve_period(st, {}, period_rng(5, 1))
    dec = {0: replace(st2.firms[0].standing, bids={"acme-01": Bid(90.0, 0.6)})}
    _, res = resolve_period(st2, dec, period_rng(5, 2))
    rows = [r for r in res.bid_rows() if r["tender"] == "acme-01"]
    assert len(rows) == 1 and rows[0]["void_reason"] == T.LATE
    assert res.firm_rows[0]["void_late"] == 1


def _max_winning_price_by_the_rules(winner, others, weights, relationship, cap, ratio, min_valid):
    """The trial game through the rule functions themselves (abnormally_low_threshold, price_points, outscores),
    bisected as max_winning_price bisects: the reference its written-out arithmetic must equal bit for bit."""
    bids = [winner, *others]
    w_p, w_s, w_r = weights
    fixed = [T.service_points(w_s, b.promised_service) for b in bids]
    ties = [T.relationship_points(w_r, relationship[b.firm]) for b in bids]

    def wins(p):
        prices = [p] + [b.price for b in others]
        n, total = len(prices), sum(prices)
        valid = [n < 2 or not x < T.abnormally_low_threshold(ratio, total, x, n) for x in prices]
        if not valid[0] or sum(valid) < min_valid:
            return False
        low = min(x for x, ok in zip(prices, valid) if ok)
        mine = T.price_points(w_p, low, p) + fixed[0] + ties[0]
        return all(T.outscores(mine, p, T.price_points(w_p, low, prices[k]) + fixed[k] + ties[k], prices[k])
                   for k in range(1, n) if valid[k])

    return T.highest_winning_price(wins, winner.price, cap)


@pytest.mark.parametrize("case", range(200))
def test_max_winning_price_equals_the_trial_through_the_scoring_rules(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 7))
    prices = rng.uniform(60.0, 120.0, n).round(int(rng.integers(0, 3)))
    bids = [T.BidRecord("t-1", "c", i, float(prices[i]), round(float(rng.uniform(0.5, 1.0)), 2)) for i in range(n)]
    relationship = {i: float(rng.uniform(0.0, 1.0)) for i in range(n)}
    w = rng.dirichlet([1.0, 1.0, 1.0])
    weights = (float(w[0]), float(w[1]), float(w[2]))
    ratio, min_valid = float(rng.choice([0.0, 0.7, 0.8, 0.9])), int(rng.integers(1, 4))
    args = (bids[0], bids[1:], weights, relationship, 130.0, ratio, min_valid)
    assert T.max_winning_price(*args) == _max_winning_price_by_the_rules(*args)


@pytest.mark.parametrize("case", range(300))
def test_max_winning_price_equals_the_rules_near_ties_and_the_abnormally_low_line(case):
    """max_winning_price equals the trial through the rules where its shortcuts are tested hardest: prices close
    together and often equal, near-tied totals, winners and rivals on either side of the abnormally-low line as
    the trial price moves (rivals whose validity changes, the steady case where none does), NaN relationships."""
    rng = np.random.default_rng(10_000 + case)
    n = int(rng.integers(1, 8))
    ratio = float(rng.choice([0.0, 0.5, 0.8, 0.9, 0.95, 1.0]))
    base = float(rng.uniform(50.0, 100.0))
    prices = base * (1.0 + rng.choice([0.0, 0.01, 0.05, 0.2], n) * rng.uniform(-1.0, 1.0, n))
    if case % 3 == 0:
        prices = prices.round()  # equal prices
    if case % 5 == 0:
        prices[0] = base * ratio * float(rng.uniform(0.9, 1.1)) or base  # the winner near the abnormally-low line
    bids = [T.BidRecord("t-1", "c", i, float(prices[i]), float(rng.choice([0.5, 0.6, 0.75, 1.0]))) for i in range(n)]
    relationship = {i: float(rng.choice([0.0, 0.25, 0.5, rng.uniform(0.0, 1.0)])) for i in range(n)}
    if case % 17 == 0:
        relationship[int(rng.integers(0, n))] = math.nan
    w = rng.dirichlet([1.0, 1.0, 1.0]) if case % 4 else np.array([0.5, 0.25, 0.25])
    weights = (float(w[0]), float(w[1]), float(w[2]))
    cap = float(max(prices) * rng.choice([1.0, 1.1, 1.5, 2.0]))
    if case % 5 == 0:  # every trial close to the winner's line
        cap = float(prices[0] * rng.choice([1.0001, 1.01, 1.05]))
    args = (bids[0], bids[1:], weights, relationship, cap, ratio, int(rng.integers(1, 5)))
    assert T.max_winning_price(*args) == _max_winning_price_by_the_rules(*args)
