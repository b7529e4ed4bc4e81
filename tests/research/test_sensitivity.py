"""research.sensitivity: how a parameter is moved, which names the sweep accepts, and what `drivers` reports."""

from __future__ import annotations

import pandas as pd
import pytest

from crmsim.research.sensitivity import SENSITIVITY, drivers, sensitivity
from crmsim.scenarios import load_scenario


def parameter(name: str):
    return next(p for p in SENSITIVITY if p.name == name)


def test_a_beta_mean_moves_by_the_factor_and_keeps_its_concentration():
    """Dropout Beta(2, 70): mean 2/72, concentration 72. At 0.5x the mean is 1/72: Beta(1, 71); at 1.5x,
    3/72: Beta(3, 69). A plain parameter is scaled: loss aversion 2.5 gives 1.25 and 3.75."""
    s = load_scenario("classroom-v1", overrides={"market.dropout_alpha": 2.0, "market.dropout_beta": 70.0,
                                                 "market.loss_aversion": 2.5})
    dropout = parameter("dropout_mean")
    assert dropout.overrides(0.5, s) == pytest.approx({"market.dropout_alpha": 1.0, "market.dropout_beta": 71.0})
    assert dropout.overrides(1.5, s) == pytest.approx({"market.dropout_alpha": 3.0, "market.dropout_beta": 69.0})
    loss = parameter("loss_aversion")
    assert loss.overrides(0.5, s) == pytest.approx({"market.loss_aversion": 1.25})
    assert loss.overrides(1.5, s) == pytest.approx({"market.loss_aversion": 3.75})


def test_a_name_that_is_no_real_valued_market_parameter_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"--params: 'nope' is not a real-valued market parameter; known: loss_aversion, "):
        sensitivity(params=["nope"])


def test_drivers_lists_only_outputs_moved_beyond_noise_strongest_first():
    sens = pd.DataFrame({
        "parameter": ["a", "a", "a", "b"],
        "output": ["x", "y", "z", "w"],
        "sensitivity": [0.5, -1.2, 3.0, 2.0],
        "drives": [True, True, False, False],
    })
    assert drivers(sens).to_dict("records") == [
        {"parameter": "a", "drives": "y (-1.20), x (+0.50)"},
        {"parameter": "b", "drives": "nothing beyond noise"},
    ]
    assert drivers(sens, top=1)["drives"].tolist() == ["y (-1.20)", "nothing beyond noise"]
