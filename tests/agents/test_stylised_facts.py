"""Stylised facts about customers (docs/validation.md section 1), checked over many seeds.

Each test plays the engine (``resolve_period``) on a test version of
classroom-v1 with no key clients and no events, measures one fact per seed
(the measurements live in research/facts.py, which `crmsim validate`
also reports), and asserts that the 95% confidence band of the mean across
seeds lies inside the design's tolerance (stated in the test's docstring). Seeds are
fixed, so the checks are deterministic; the bands say how firmly each fact
holds, not how often a test would flake.

"Neutral settings": every firm's service level equals the customers' mean
expectation, its price equals the reference price, care and advertising are
zero and service staff are ample (utilisation far below the knee), so the
defection hazard reduces to each customer's own base dropout rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from crmsim.agents.population import RESOLVED, RESOLVED_QUICKLY, SILENT, UNRESOLVED
from crmsim.research.experiments import band, neutral_scenario, show
from crmsim.research.facts import (
    adoption_curve,
    bass_cumulative,
    cohort_survival,
    complaint_outcomes,
    price_change_response,
    quality_change_response,
    retention_by_satisfaction_band,
    top_fifth_revenue_share,
    zero_repeat_share,
)


# ---------------------------------------------------------------------------
# 1. revenue concentration


@pytest.mark.slow
def test_top_fifth_of_customers_brings_55_to_80_percent_of_revenue():
    """Pareto share: among customers who bought at least once in a 12-period game on
    neutral settings, the top 20% by revenue bring 55-80% of it (CDNOW 0.68,
    CPG brands 0.73). Tolerance: the 95% band of the mean over 10 seeds lies in [0.55, 0.80]."""
    seeds = range(10)
    shares = [top_fifth_revenue_share(s) for s in seeds]
    m, lo, hi = band(shares)
    assert 0.55 <= lo and hi <= 0.80, show("top-20% revenue share", shares, len(seeds))


# ---------------------------------------------------------------------------
# 2. cohort retention


@pytest.mark.slow
def test_cohort_retention_rises_with_tenure_and_year_one_retention_is_60_to_90_percent():
    """Newcomers (joined in periods 1-6 on neutral settings) followed for 12 periods.
    Tolerances: year-1 retention's 95% band over 12 seeds lies in [0.6, 0.9]; the
    per-period retention of survivors in months 10-12 exceeds that in months 1-3
    (band of the difference above 0)."""
    seeds = range(12)
    curves = np.array([cohort_survival(s) for s in seeds])
    year_one = curves[:, -1]
    m, lo, hi = band(year_one)
    assert 0.6 <= lo and hi <= 0.9, show("year-1 retention", year_one, len(seeds))
    per_period = curves / np.concatenate([np.ones((len(seeds), 1)), curves[:, :-1]], axis=1)
    rise = per_period[:, 9:].mean(axis=1) - per_period[:, :3].mean(axis=1)
    m, lo, hi = band(rise)
    assert lo > 0, show("retention months 10-12 minus months 1-3", rise, len(seeds)) + f"; curve {per_period.mean(0).round(3)}"


# ---------------------------------------------------------------------------
# 3. convex satisfaction-retention (Jones & Sasser 1995)


@pytest.mark.slow
def test_totally_satisfied_customers_are_retained_at_least_one_and_a_half_times_the_merely_satisfied():
    """Jones & Sasser zones: in a market where firms' service levels differ
    (SPREAD_SERVICE), customers of at least MIN_TENURE periods' standing who are
    totally satisfied (CS >= 9) at the end of periods 10-12 stay with their firm over
    the next 24 periods at least 1.5x as often as the merely satisfied (7 <= CS < 9).
    Tolerance: the 95% band of the per-seed ratio over 12 seeds lies above 1.5.

    Why 24 periods, not 12: the merely satisfied sit in the flat zone of
    indifference, so they keep roughly the year-1 retention of neutral customers,
    which the design puts at 0.6-0.9; over one year a 1.5x gap would need that
    below 0.67, the edge of the band. Over two years (Jones & Sasser's Xerox
    figure was over 18 months) the convexity shows without pinning that rate.
    """
    seeds = range(12)
    pairs = np.array([retention_by_satisfaction_band(s, horizon=24) for s in seeds])
    ratio = pairs[:, 0] / pairs[:, 1]
    m, lo, hi = band(ratio)
    assert lo >= 1.5, (
        show("retention ratio CS>=9 / 7<=CS<9", ratio, len(seeds))
        + f"; survival {pairs.mean(axis=0).round(3)}"
    )


# ---------------------------------------------------------------------------
# 4. asymmetric response to quality (Anderson & Sullivan 1993)


@pytest.mark.slow
def test_a_quality_drop_hurts_at_least_1_3_times_as_much_as_an_equal_rise_helps():
    """Loss aversion in satisfaction: firm 0 moves its service level one s.d. of
    customers' expectations down or up, after a warm-up on neutral settings.
    Tolerances (95% bands over 10 seeds): the fall in firm 0's mean satisfaction is at
    least 1.3x the gain (band of the per-seed ratio above 1.3), and the extra share of
    customers lost over three periods after the drop exceeds 1.3x the share saved by
    the rise (band of the difference above 0)."""
    seeds = range(10)
    sd = neutral_scenario(100, 1).market.expectation_sd
    responses = np.array([quality_change_response(s, (-sd, +sd)) for s in seeds])
    down, up = responses[:, 0], responses[:, 1]
    sat_ratio = -down[:, 0] / up[:, 0]
    m, lo, hi = band(sat_ratio)
    assert lo >= 1.3, show("satisfaction response drop/rise", sat_ratio, len(seeds)) + f"; drop {down[:, 0].mean():.3f}, rise {up[:, 0].mean():.3f}"
    churn_margin = down[:, 1] - 1.3 * -up[:, 1]
    m, lo, hi = band(churn_margin)
    assert lo > 0, show("extra churn after the drop - 1.3 x churn saved by the rise", churn_margin, len(seeds)) + f"; drop {down[:, 1].mean():.4f}, rise {up[:, 1].mean():.4f}"


# ---------------------------------------------------------------------------
# 5. complaints (TARP)


@pytest.mark.slow
def test_complaint_rate_is_4_to_30_percent_and_retention_follows_tarp_ordering():
    """TARP: dissatisfied customers complain 4-30% of the time; retention through the
    period of the complaint is ordered resolved quickly > resolved > unresolved > silent.
    Tolerances: the complaint rate's 95% band over 12 seeds lies in [0.04, 0.30]; each
    gap in the ordering has a band above 0."""
    seeds = range(12)
    out = [complaint_outcomes(s) for s in seeds]
    rate = [o[0] for o in out]
    m, lo, hi = band(rate)
    assert 0.04 <= lo and hi <= 0.30, show("complaint rate among the dissatisfied", rate, len(seeds))
    order = (RESOLVED_QUICKLY, RESOLVED, UNRESOLVED, SILENT)
    kept = np.array([[o[1][c] for c in order] for o in out])
    means = kept.mean(axis=0).round(3)
    for a, b in zip(range(3), range(1, 4)):
        gap = kept[:, a] - kept[:, b]
        m, lo, hi = band(gap)
        assert lo > 0, show(f"retention gap {order[a]}->{order[b]}", gap, len(seeds)) + f"; retention by outcome {means}"


# ---------------------------------------------------------------------------
# 6. price response


@pytest.mark.slow
def test_own_price_elasticity_for_a_5_percent_cut_is_minus_1_5_to_3_5_and_rises_hurt_more():
    """Each firm in turn changes its price by 5% after reference prices settle (neutral
    settings). Tolerances (95% bands over 16 seeds of the mean over the six firms): the
    elasticity of the firm's units sold for a 5% cut lies in [-3.5, -1.5]; the share of
    units lost to a 5% rise is at least 1.5x the share won by the cut (band of
    loss - 1.5 x gain above 0)."""
    seeds = range(16)
    responses = np.array([price_change_response(s, (-0.05, +0.05)).mean(axis=0) for s in seeds])
    cut, rise = responses[:, 0], responses[:, 1]
    elasticity = cut / -0.05
    m, lo, hi = band(elasticity)
    assert -3.5 <= lo and hi <= -1.5, show("elasticity for a 5% cut", elasticity, len(seeds))
    margin = -rise - 1.5 * cut
    m, lo, hi = band(margin)
    assert lo > 0, f"units lost to a rise / won by a cut = {-rise.mean() / cut.mean():.3f}; " + show("loss - 1.5 x gain", margin, len(seeds))


# ---------------------------------------------------------------------------
# 7. Bass diffusion without marketing


@pytest.mark.slow
def test_adoption_without_marketing_follows_a_bass_s_curve():
    """No advertising, 1% initial adopters, 120 periods: a Bass fit (scipy curve_fit) to
    the cumulative adoption curve gives q > p, and new adoptions peak inside the run.
    Tolerances (95% bands over 4 seeds): q - p above 0; the fitted peak
    ln(q/p)/(p+q) and the observed peak of 9-period moving-average new adoptions
    both between periods 12 and 108."""
    seeds = range(4)
    fits, observed = [], []
    for s in seeds:
        curve = adoption_curve(s)
        t = np.arange(1, len(curve) + 1)
        (m, p, q), _ = curve_fit(bass_cumulative, t, curve, p0=(1.0, 0.01, 0.1), bounds=([0.05, 1e-6, 1e-6], [1.0, 1.0, 2.0]))
        fits.append((m, p, q, np.log(q / p) / (p + q)))
        new = np.convolve(np.diff(curve, prepend=0.0), np.ones(9) / 9, mode="same")
        observed.append(np.argmax(new[4:-4]) + 5)
    fits = np.array(fits)
    m, lo, hi = band(fits[:, 2] - fits[:, 1])
    assert lo > 0, show("Bass q - p", fits[:, 2] - fits[:, 1], len(seeds)) + f"; (m, p, q) = {fits[:, :3].mean(0).round(4)}"
    for name, peak in (("fitted peak", fits[:, 3]), ("observed peak", observed)):
        m, lo, hi = band(peak)
        assert 12 <= lo and hi <= 108, show(name, peak, len(seeds))


# ---------------------------------------------------------------------------
# 8. purchase histories (BG/NBD, CDNOW)


@pytest.mark.slow
def test_share_of_a_cohort_with_no_repeat_purchase_in_39_weeks_is_50_to_70_percent():
    """Newcomers of periods 1-3 on neutral settings, followed 9 periods (about 39 weeks):
    the share making no repeat purchase from the firm that won them is 0.5-0.7
    (CDNOW: 0.60). Tolerance: the 95% band over 12 seeds lies in [0.5, 0.7]."""
    seeds = range(12)
    shares = [zero_repeat_share(s) for s in seeds]
    m, lo, hi = band(shares)
    assert 0.5 <= lo and hi <= 0.7, show("zero-repeat share", shares, len(seeds))
