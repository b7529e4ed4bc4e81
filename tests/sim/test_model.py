"""sim/model.py's Mesa conventions: rng= names the game seed (seed= is its alias), the DataCollector exists from
construction and collects at step 0, and firms are collected as agents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.model import CRMModel

SMALL = {"market.customers": 1500, "market.track_customers": 200}
LINEUP = ["balanced", "premium", "price_cutter", "relationship", "adaptive", "random"]


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("classroom-v1", overrides=SMALL)


def test_rng_is_the_game_seed_and_seed_its_alias(scenario):
    by_rng = CRMModel(scenario, rng=7, strategies=LINEUP)
    by_seed = CRMModel(scenario, seed=7, strategies=LINEUP)
    assert by_rng.seed == by_seed.seed == 7
    by_rng.step()
    by_seed.step()
    pd.testing.assert_frame_equal(by_rng.frames()["firms"], by_seed.frames()["firms"])
    assert CRMModel(scenario, seed=7, rng=7).seed == 7  # both, equal: fine
    assert CRMModel(scenario).seed == 0  # neither: game 0, so a game always replays
    drawn = CRMModel(scenario, rng=np.random.default_rng(3)).seed
    assert drawn == CRMModel(scenario, rng=np.random.default_rng(3)).seed and drawn != 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seed": 1, "rng": 2}, r"two different game seeds \(seed=1, rng=2\)"),
    ({"rng": -1}, "rng: the game seed must be a whole number >= 0"),
    ({"seed": 1.5}, "seed: the game seed must be a whole number >= 0"),
    ({"rng": True}, "rng: the game seed must be"),
])
def test_a_bad_or_doubly_given_seed_is_a_clear_error(scenario, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CRMModel(scenario, **kwargs)


def test_the_datacollector_exists_from_construction_and_collects_step_0(scenario):
    model = CRMModel(scenario, rng=4, strategies=LINEUP)
    assert model.datacollector is not None
    start = model.datacollector.get_model_vars_dataframe()
    supplier = model.state.population.supplier
    assert start.to_dict("records") == [{"period": 0, "prospects": int((supplier < 0).sum()), "adopters": 0, "live_firms": 6,
                                         "purchase_factor": 1.0, "open_contracts": 0}]
    firms = model.datacollector.get_agent_vars_dataframe().reset_index()
    assert firms["Step"].tolist() == [0] * 6 and firms["firm"].tolist() == list(range(6))
    assert firms["strategy"].tolist() == LINEUP
    assert firms["cash"].tolist() == [scenario.firms.cash] * 6
    assert firms["customers"].tolist() == np.bincount(supplier[supplier >= 0], minlength=6).tolist()
    assert firms["customers"].sum() + start["prospects"].iloc[0] == scenario.market.customers
    assert firms["score"].isna().all() and firms["rank"].isna().all()
    assert firms["score"].dtype == firms["rank"].dtype == np.float64  # NaN, as in the frame after a run, not None
    assert model.frames() == {}  # no period yet


def test_agent_reporters_follow_the_firm_frame_and_the_market_frame_has_no_step_0(scenario):
    model = CRMModel(scenario, rng=5, strategies=LINEUP).run()
    frames = model.frames()
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    later = agents[agents["Step"] > 0].rename(columns={"Step": "period"}).reset_index(drop=True)
    cols = ["period", "firm", "cash", "customers", "score", "rank", "bankrupt", "strategy"]
    expected = frames["firms"][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(later[cols], expected, check_dtype=False)
    market = model.datacollector.get_model_vars_dataframe()
    assert market["period"].tolist() == list(range(scenario.periods + 1))
    assert list(frames["market"].columns[:2]) == ["run_id", "seed"]  # the game's provenance, then the model reporters
    pd.testing.assert_frame_equal(frames["market"].drop(columns=["run_id", "seed"]), market.iloc[1:].reset_index(drop=True))
    assert frames["market"]["period"].tolist() == list(range(1, scenario.periods + 1))


def test_without_collection_there_is_no_datacollector(scenario):
    model = CRMModel(scenario, rng=1, strategies=LINEUP, collect=False)
    model.step()
    assert model.datacollector is None
