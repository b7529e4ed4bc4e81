"""Strategy bots: distinct behaviour, valid decisions, and the classroom game's texture over 20 seeds."""

from __future__ import annotations

import collections

import pytest

from crmsim.agents.bots import BOTS, DEFAULT_LINEUP, lineup, make_bot
from crmsim.sim.model import CRMModel

SEEDS = range(20)


def test_at_least_six_documented_bots():
    assert len(BOTS) >= 6
    for name, cls in BOTS.items():
        assert cls.name == name and len(cls.description) > 20


def test_unknown_bot_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown bot 'nope'; known bots: .*price_cutter"):
        make_bot("nope")


def test_lineup_fills_every_seat_in_order():
    assert lineup(["premium", "random"], 5) == ["premium", "random", "premium", "random", "premium"]
    assert lineup(None, 6) == list(DEFAULT_LINEUP)


@pytest.mark.parametrize("name", sorted(BOTS))
def test_every_bot_decision_passes_validation_all_game(name, small_classroom):
    """Bots double as play-testers: each period's decision validates (model.step raises otherwise)."""
    model = CRMModel(small_classroom, seed=7, strategies=[name] * 6)
    model.run()
    assert len(model.results) == small_classroom.periods or not any(f.live for f in model.state.firms)
    for r in model.results:  # every live seat's bot decided every period (the standing bot by submitting nothing)
        assert r.submitted and all(was == (name != "standing") for was in r.submitted.values())


def test_bots_behave_distinctly(small_classroom):
    """Price cutter prices lowest, premium highest with the best service; relationship cultivates most."""
    model = CRMModel(small_classroom, seed=3, strategies=lineup(["price_cutter", "premium", "relationship", "balanced", "adaptive", "standing"], 6))
    model.run()
    d = model.frames()["decisions"]
    by = d.assign(strategy=d.firm.map({a.index: a.label for a in model.firm_agents})).groupby("strategy").mean(numeric_only=True)
    assert by.loc["price_cutter", "price"] < by.loc["balanced", "price"] < by.loc["premium", "price"]
    assert by.loc["premium", "service_level"] == by.service_level.max()
    assert by.loc["relationship", "cultivation_total"] == by.cultivation_total.max()
    assert "standing" not in by.index or by.loc["standing", "submitted"] == 0


@pytest.mark.slow
def test_classroom_texture_over_20_seeds():
    """With the shipped bots over 20 seeds: some bids voided, some tender fails, some firm goes bankrupt
    in some seed, and no single bot wins every seed."""
    winners = collections.Counter()
    voided = failed = bankrupt_games = 0
    for seed in SEEDS:
        model = CRMModel("classroom-v1", seed=seed, strategies=lineup(["balanced", "price_cutter", "premium", "relationship", "adaptive", "random"], 6))
        model.run()
        f = model.frames()
        winners[model.standings().strategy.iloc[0]] += 1
        voided += int((~f["bids"].valid).sum())
        failed += int(f["tenders"].failed.sum())
        bankrupt_games += bool(f["firms"].bankrupt.any())
    assert voided > 0
    assert failed >= 1
    assert bankrupt_games >= 1
    assert max(winners.values()) < len(SEEDS), f"one bot won every seed: {winners}"


def test_adaptive_bot_reads_public_results_only(small_classroom):
    """The adaptive bot's observation carries last period's public rows, never a rival's ledger."""
    model = CRMModel(small_classroom, seed=1, strategies=lineup(None, 6))
    model.step()
    obs = model.observation(4)
    assert obs.market and all("cash" not in row and "cost_of_goods" not in row for row in obs.market)
    assert obs.own_last["firm"] == 4 and "cash" in obs.own_last


def test_bots_mean_is_numpys_mean_to_the_bit():
    """agents.bots.mean (the price-cutter's mean rival price) is float(np.mean(values)): lists of 1 to 40 prices,
    rounded to cents or not, ints among them, across eleven orders of magnitude."""
    import numpy as np

    from crmsim.agents.bots import mean

    rng = np.random.default_rng(3)
    for n in range(1, 41):
        for _ in range(100):
            values = (rng.random(n) * 10.0 ** int(rng.integers(-3, 8))).tolist()
            if rng.random() < 0.3:
                values = [round(v, 2) for v in values]
            if rng.random() < 0.2:
                values[0] = int(values[0])
            assert mean(values) == float(np.mean(values)), values
