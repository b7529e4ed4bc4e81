"""research.experiments: neutral games follow the base scenario's market, and the band across seeds is the t band."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crmsim.research.experiments import band, neutral_scenario, newcomers, show

T_975_2DF = 4.302653  # Student's t, 97.5% quantile, 2 degrees of freedom (tables)
T_975_1DF = 12.706205  # the same, 1 degree of freedom


def test_band_is_the_mean_and_its_95_percent_t_band_over_the_finite_values():
    """Seeds 1, 2, 3: mean 2, s.d. 1, half-width t(0.975, 2) / sqrt(3); NaN and inf seeds are left out
    (1, 3: mean 2, s.d. sqrt 2, half-width t(0.975, 1)); one value has no band, none has no mean."""
    half = T_975_2DF / math.sqrt(3)
    assert band([1.0, 2.0, 3.0]) == pytest.approx((2.0, 2.0 - half, 2.0 + half), rel=1e-6)
    assert band([1.0, math.nan, 3.0, math.inf]) == pytest.approx((2.0, 2.0 - T_975_1DF, 2.0 + T_975_1DF), rel=1e-6)
    m, lo, hi = band([5.0])
    assert m == 5.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in band([]))
    assert show("share", [1.0, 2.0, 3.0], 3) == "share = 2.000, 95% band [-0.484, 4.484] over 3 seeds"


def test_newcomers_are_the_customers_with_a_supplier_and_no_tenure_in_that_period():
    supplier = np.array([[0, -1, 1, 2], [0, 0, 1, -1]])
    tenure = np.array([[0, 0, 3, 0], [1, 0, 4, 0]])
    assert newcomers(supplier, tenure, 0).tolist() == [True, False, False, True]
    assert newcomers(supplier, tenure, 1).tolist() == [False, True, False, False]


def test_a_neutral_scenario_prices_at_the_reference_and_serves_at_the_mean_expectation_of_its_base():
    """service-economy-v1 (reference price 110, expectation 0.72, key clients and an event): every firm at
    110 and 0.72, no clients or events, no care or advertising, 200 service staff, cash 1e10, every customer
    tracked; `extra` overrides reach the base before the neutral settings are read, keyword overrides come last."""
    s = neutral_scenario(500, 4, "service-economy-v1")
    assert (s.firms.price, s.firms.service_level) == (110.0, 0.72)
    assert (s.clients, s.events, s.periods) == ((), (), 4)
    assert (s.firms.care_budget, s.firms.advertising_budget, s.firms.service_staff, s.firms.cash) == (0, 0, 200, 1e10)
    assert (s.market.customers, s.market.track_customers) == (500, 500)
    moved = neutral_scenario(500, 4, "service-economy-v1", {"market.reference_price": 90}, **{"market.track_customers": 0})
    assert (moved.firms.price, moved.market.reference_price, moved.market.track_customers) == (90.0, 90.0, 0)
