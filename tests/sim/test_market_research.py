"""Market research, the tender calendar and the forecast, with hand-worked values on classroom-v1's clients
(Mengniu every 2 periods from 1, Motorola every 3 from 2, Wahaha every 2 from 2, Haier every 3 from 1,
Lenovo every 4 from 3, Yili every 3 from 3, China Mobile every 4 from 4; 12 periods)."""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Research
from crmsim.sim.lifecycle import band
from crmsim.sim.decisions import ResearchOrder
from crmsim.sim.market_research import research_fee, rival_bands, score_band, survey, tender_calendar, tender_forecast


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("classroom-v1")


def test_fee_is_per_client_plus_survey_responses_plus_forecast():
    s = Research(offered=True)
    assert research_fee(ResearchOrder(), s) == 0
    # 2 clients x 3,000 + (1,000 + 300 x 10) + 2,000
    assert research_fee(ResearchOrder(rivals=("mengniu", "motorola"), survey=300, forecast=True), s) == 12_000


def test_calendar_announces_next_periods_scheduled_tenders(scenario):
    cal = tender_calendar(scenario, 3)  # period 4 opens wahaha (2, 4, ...), haier (1, 4, ...) and china mobile (4, 8)
    assert [a["client"] for a in cal] == ["wahaha", "haier", "chinamobile"]
    wahaha = cal[0]
    assert (wahaha["period"], wahaha["volume_low"], wahaha["volume_high"], wahaha["closed"]) == (4, 1440, 2160, False)
    assert tender_calendar(scenario, 11) == []  # nothing opens in the last period


def test_forecast_covers_the_horizon_with_terms(scenario):
    fc = tender_forecast(scenario, 1, 2)  # periods 2 and 3
    assert [(a["period"], a["client"]) for a in fc] == [(2, "motorola"), (2, "wahaha"), (3, "mengniu"), (3, "lenovo"), (3, "yili")]
    moto = fc[0]
    assert moto["closed"] and moto["price_cap"] == 95 and moto["min_valid_bids"] == 3
    assert moto["weights"] == {"price": 0.3, "service": 0.3, "relationship": 0.4}


def test_rival_bands_name_each_live_rival():
    stage = np.array([[0, 4], [4, 2], [2, 0]])  # firms x clients (mengniu, motorola)
    out = rival_bands(stage, 0, ["mengniu"], ["mengniu", "motorola"], ["A", "B", "C"], [True, True, False], band)
    assert out == {"mengniu": [{"firm": 1, "name": "B", "band": "strong"}]}  # firm 2 is bankrupt: not reported
    by_score = score_band(Research())
    assert [by_score(r) for r in (0.1, 0.3, 0.59, 0.6)] == ["weak", "medium", "medium", "strong"]


def test_survey_samples_own_customers_and_its_noise_shrinks_with_size():
    rng = np.random.default_rng(0)
    n = 20_000
    supplier = np.where(np.arange(n) % 2 == 0, 0, 1)
    tier = np.arange(n) % 3
    satisfaction = np.where(supplier == 0, 8.0, 2.0) + rng.normal(0, 1, n)
    loyalty = np.full(n, 0.5)
    small = survey(supplier, satisfaction, loyalty, tier, 0, 60, np.random.default_rng(1))
    large = survey(supplier, satisfaction, loyalty, tier, 0, 3000, np.random.default_rng(1))
    assert small.sample == 60 and sum(t.sampled for t in small.tiers) == 60
    assert [t.customers for t in large.tiers] == [3334, 3333, 3333]
    for t in large.tiers:
        assert t.satisfaction == pytest.approx(8.0, abs=0.15)  # only firm 0's customers were asked
        assert t.loyalty == 0.5
    assert large.tiers[0].satisfaction_ci < small.tiers[0].satisfaction_ci / 5
    # asking for more customers than the firm has surveys them all
    assert survey(supplier, satisfaction, loyalty, tier, 0, 10**6, np.random.default_rng(2)).sample == 10_000
