"""research.holdout: crmsim's neutral population is the BG/BB its parameters name, and the CDNOW holdout is
forecast from the 39-week calibration (and rendered in the report).

The CDNOW data ship inside the ``lifetimes`` wheel (the test extra); without it the CDNOW test skips with
the reason, except under CI=true, where it fails (the ``cdnow`` fixture of conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.research import calibration as cal
from crmsim.research.holdout import cdnow_holdout, crmsim_histories
from crmsim.research.report import _holdout_markdown, plot_holdout


# ---------------------------------------------------------------------------
# verification: the cohort the holdout simulates


def test_crmsims_neutral_population_is_the_bgbb_its_market_parameters_name():
    """Design section 5, rule 6: on neutral settings the defection hazard is the customer's base dropout, and
    purchases follow the purchase propensity, so a fresh crmsim cohort (20,000 customers, 12 periods,
    step_population) is a BG/BB with the market's Betas. Tolerances: the BG/BB fitted to its histories gives
    the mean purchase propensity within 10% and the mean dropout within 15% (crmsim's reference-price noise
    and switching-cost spread move them by about -5% and +8%)."""
    market = {"purchase_alpha": 0.62, "purchase_beta": 3.2, "dropout_alpha": 1.5, "dropout_beta": 13.0}
    bought = crmsim_histories(market, 20_000, 12, seed=0)
    fit = cal.fit_bgbb(bought.sum(axis=1), (bought * np.arange(1, 13)).max(axis=1), np.full(20_000, 12))
    q = fit.params
    assert q["alpha"] / (q["alpha"] + q["beta"]) == pytest.approx(0.62 / 3.82, rel=0.10), q
    assert q["gamma"] / (q["gamma"] + q["delta"]) == pytest.approx(1.5 / 14.5, rel=0.15), q


# ---------------------------------------------------------------------------
# empirical output: the CDNOW holdout


def test_cdnow_holdout_is_forecast_by_bgnbd_and_by_crmsim_calibrated_on_the_first_39_weeks(tmp_path, cdnow):
    """Calibrated on weeks 1-39, forecasting the 1,882 repeat purchases of weeks 40-78 with no marketing
    change. Tolerances: the BG/NBD conditional forecast's MAPE of the weekly cumulative curve < 20%, crmsim
    with the default (projected) mapping < 25%, and the moment-matched mapping, which cannot carry BG/NBD's
    purchase-dropout coupling, at least twice as far off as the projection (it over-forecasts)."""
    h = cdnow(lambda: cdnow_holdout(replicates=3))
    err = h.errors.set_index("forecast")
    assert h.holdout["actual"].iloc[-1] == 1882 and len(h.holdout) == 39 and len(h.weekly) == 78
    assert err.loc["bgnbd_conditional", "holdout_mape"] < 0.20, err
    assert err.loc["crmsim_bgnbd", "holdout_mape"] < 0.25, err
    assert err.loc["crmsim_moments", "total_error"] > 0
    assert err.loc["crmsim_moments", "holdout_mape"] > 2 * err.loc["crmsim_bgnbd", "holdout_mape"], err
    text = "\n".join(_holdout_markdown(h))
    assert "holdout MAPE" in text and "crmsim_bgnbd" in text and "0.243" in text
    assert plot_holdout(h, tmp_path / "holdout.png").read_bytes()[:4] == b"\x89PNG"
