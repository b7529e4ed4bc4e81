"""The reference scorecard (scoring.method = "reference"), on a worked example.

Three firms; Cedar is bankrupt. References: equity against the start (¥300,000, span ¥300,000);
cumulative operating profit, retention, market share and customer equity against the live firms' mean
(spans ¥150,000, 0.05, 1 x mean, 1 x mean); satisfaction against 7.0 (span 3); relationship against 0.2
(span 0.4). Points = clip(50 + 50 (value - reference) / span, 0, 100); weights 40/30/15/15.
"""

from __future__ import annotations

import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.scoring import metric_references, rank_firms, reference_points, scorecard

ROWS = [
    {"firm": 0, "bankrupt": False, "equity": 450_000, "cum_operating_profit": 60_000, "avg_satisfaction": 8.5,
     "retention_rate": 0.95, "market_share_customers": 0.40, "relationship_mean": 0.6, "customer_equity": 200_000},
    {"firm": 1, "bankrupt": False, "equity": 300_000, "cum_operating_profit": 0, "avg_satisfaction": 7.0,
     "retention_rate": 0.90, "market_share_customers": 0.35, "relationship_mean": 0.2, "customer_equity": 100_000},
    {"firm": 2, "bankrupt": True, "bankrupt_period": 5, "equity": -50_000, "cum_operating_profit": -200_000,
     "avg_satisfaction": 0.0, "retention_rate": 0.0, "market_share_customers": 0.25, "relationship_mean": 0.0,
     "customer_equity": 0.0},
]


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("classroom-v1", overrides={"scoring.method": "reference"})


def test_references_are_the_start_the_live_mean_or_fixed(scenario):
    refs = metric_references(ROWS, scenario)
    assert refs["equity"] == (300_000, 300_000)
    assert refs["cum_operating_profit"] == (30_000, 150_000)  # mean of the live firms only
    assert refs["avg_satisfaction"] == (7.0, 3.0)
    assert refs["retention_rate"] == pytest.approx((0.925, 0.05))
    assert refs["market_share_customers"] == pytest.approx((0.375, 0.375))
    assert refs["relationship_mean"] == (0.2, 0.4)
    assert refs["customer_equity"] == (150_000, 150_000)


def test_points_are_50_at_the_reference_and_clipped_at_one_span():
    assert reference_points(300_000, 300_000, 300_000) == 50.0
    assert reference_points(450_000, 300_000, 300_000) == 75.0
    assert reference_points(1e9, 300_000, 300_000) == 100.0
    assert reference_points(-1e9, 300_000, 300_000) == 0.0


def test_worked_example_and_the_worst_live_firm_is_not_zero(scenario):
    s = scorecard(ROWS, scenario.scoring, metric_references(ROWS, scenario))
    # Aurora: financial (75 + 60) / 2 = 67.5; customer (75 + 75 + 53.333) / 3; relationship 100; growth 66.667
    assert s[0]["score_financial"] == pytest.approx(67.5)
    assert s[0]["score_customer"] == pytest.approx((75 + 75 + 50 + 50 * 0.025 / 0.375) / 3)
    assert s[0]["score_relationship"] == pytest.approx(100.0)
    assert s[0]["score_growth"] == pytest.approx(50 + 50 / 3)
    assert s[0]["score"] == pytest.approx(72.3333, abs=1e-4)
    # Beacon, the worst live firm: 0.4 x 45 + 0.3 x 40.556 + 0.15 x 50 + 0.15 x 33.333 = 42.667
    assert s[1]["score"] == pytest.approx(42.6667, abs=1e-4)
    # the bankrupt firm scores 0 and ranks last
    assert s[2]["score"] == 0.0
    rows = [{**r, **x} for r, x in zip(ROWS, s)]
    assert rank_firms(rows) == [1, 2, 3]


def test_minmax_of_v1_still_zeroes_the_worst_live_firm():
    v1 = load_scenario("classroom-v1")
    s = scorecard(ROWS, v1.scoring)
    assert s[1]["score"] == 0.0 and s[0]["score"] == 100.0
