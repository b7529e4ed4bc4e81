"""Tests for sim/scoring.py: the balanced scorecard and the ranking (docs/rules.md section 11), on numbers
worked out by hand here."""

from __future__ import annotations

import pytest

from crmsim.scenarios.schema import Scoring
from crmsim.sim.scoring import min_max_points, rank_firms, scorecard


def firm(equity, cum_op, satisfaction, retention, share, relationship, equity_of_customers, bankrupt=False, bankrupt_period=None):
    return {
        "equity": equity,
        "cum_operating_profit": cum_op,
        "avg_satisfaction": satisfaction,
        "retention_rate": retention,
        "market_share_customers": share,
        "relationship_mean": relationship,
        "customer_equity": equity_of_customers,
        "bankrupt": bankrupt,
        "bankrupt_period": bankrupt_period,
    }


# Three live firms. Scaled 0-100 across them (worst 0, best 100):
#   equity 100/300/200 -> 0/100/50; cumulative operating profit 50/10/30 -> 100/0/50: financial 50/50/50
#   satisfaction 8/6/7 -> 100/0/50; retention 0.9/0.7/0.8 -> 100/0/50; share 0.5/0.3/0.2 -> 100/33.33/0:
#   customer 100/11.11/33.33
#   relationship 0.4/0.2/0.3 -> 100/0/50; customer equity 1000/3000/2000 -> 0/100/50
# Score (0.40/0.30/0.15/0.15): A 20+30+15+0 = 65; B 20+3.33+0+15 = 38.33; C 20+10+7.5+7.5 = 45.
A = firm(100.0, 50.0, 8.0, 0.9, 0.5, 0.4, 1000.0)
B = firm(300.0, 10.0, 6.0, 0.7, 0.3, 0.2, 3000.0)
C = firm(200.0, 30.0, 7.0, 0.8, 0.2, 0.3, 2000.0)


def test_min_max_points_map_the_worst_live_firm_to_0_and_the_best_to_100():
    out = min_max_points([100.0, 300.0, 200.0, 9e9], [True, True, True, False])
    assert out == [0.0, 100.0, 50.0, 0.0]


def test_min_max_points_give_100_to_all_when_every_live_firm_is_equal():
    assert min_max_points([5.0, 5.0, 1.0], [True, True, False]) == [100.0, 100.0, 0.0]
    assert min_max_points([5.0, 7.0], [False, False]) == [0.0, 0.0]


def test_scorecard_components_and_weighted_score_worked_by_hand():
    s = scorecard([A, B, C], Scoring())
    assert [r["score_financial"] for r in s] == pytest.approx([50.0, 50.0, 50.0])
    assert [r["score_customer"] for r in s] == pytest.approx([100.0, 100 / 9, 100 / 3])
    assert [r["score_relationship"] for r in s] == pytest.approx([100.0, 0.0, 50.0])
    assert [r["score_growth"] for r in s] == pytest.approx([0.0, 100.0, 50.0])
    assert [r["score"] for r in s] == pytest.approx([65.0, 38.0 + 1 / 3, 45.0])


def test_scorecard_weights_come_from_the_scenario():
    """All weight on growth: the score is the growth component (0 / 100 / 50)."""
    s = scorecard([A, B, C], Scoring(financial=0.0, customer=0.0, relationship=0.0, growth=1.0))
    assert [r["score"] for r in s] == pytest.approx([0.0, 100.0, 50.0])


def test_a_bankrupt_firm_scores_0_and_does_not_move_the_live_firms_scale():
    dead = firm(9e9, 9e9, 10.0, 1.0, 0.9, 1.0, 9e9, bankrupt=True, bankrupt_period=3)
    s = scorecard([A, B, dead, C], Scoring())
    assert [r["score"] for r in s] == pytest.approx([65.0, 38.0 + 1 / 3, 0.0, 45.0])
    assert all(v == 0.0 for k, v in s[2].items())


def test_ranking_live_by_score_then_bankrupt_the_later_above_the_earlier():
    rows = [
        {"score": 45.0, "bankrupt": False},
        {"score": 0.0, "bankrupt": True, "bankrupt_period": 3},
        {"score": 65.0, "bankrupt": False},
        {"score": 0.0, "bankrupt": True, "bankrupt_period": 5},
        {"score": 45.0, "bankrupt": False},  # tied with firm 0: the lower index ranks first
    ]
    assert rank_firms(rows) == [2, 5, 1, 4, 3]
