"""Scenario files: every shipped one loads and plays; bad files fail with file, key, rule and value."""

from __future__ import annotations

import pytest

from crmsim.scenarios import ScenarioError, list_scenarios, load_scenario
from crmsim.sim.engine import initial_state, period_rng, resolve_period

REQUIRED = {"classroom-v1", "price-war-v1", "service-economy-v1", "large-market-v1"}


def test_the_four_required_scenarios_ship():
    assert REQUIRED <= set(list_scenarios())


@pytest.mark.parametrize("name", list_scenarios())
def test_shipped_scenario_is_valid_and_versioned(name):
    s = load_scenario(name)
    assert s.name == name
    assert s.name.rsplit("-", 1)[1].startswith("v")
    assert s.title.en and s.title.zh


def test_classroom_matches_the_design():
    """classroom-v1: 6 firms, 12 periods, ~10,000 customers, 5-8 named clients with Chinese and English names."""
    s = load_scenario("classroom-v1")
    assert s.firms.count == 6 and s.periods == 12 and s.market.customers == 10_000
    assert 5 <= len(s.clients) <= 8
    names = {c.name.en for c in s.clients}
    assert {"Mengniu Dairy", "Motorola", "Wahaha"} <= names
    assert any(c.closed for c in s.clients) and any(not c.closed for c in s.clients)


def test_large_market_has_a_million_customers():
    assert load_scenario("large-market-v1").market.customers == 1_000_000


@pytest.mark.parametrize("name", sorted(set(list_scenarios()) - {"large-market-v1"}))
def test_every_scenario_smoke_runs_a_period(name):
    s = load_scenario(name, overrides={"market.customers": 2000})
    state, result = resolve_period(initial_state(s, 1), {}, period_rng(1, 1))
    assert state.period == 2 and len(result.firm_rows) == s.firms.count


def write(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_error_names_file_key_rule_and_value(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "bad-v1"\n[market]\ncustomers = -5\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    msg = str(err.value)
    assert str(p) in msg and "market.customers" in msg and "greater than or equal to 10" in msg and "-5" in msg


def test_every_problem_is_reported_at_once(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "bad-v1"\n[firms]\ncash = -1\n[tenders]\nbond_rate = 7\n[market]\ncolour = "red"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    keys = " ".join(err.value.problems)
    assert "firms.cash" in keys and "tenders.bond_rate" in keys and "market.colour" in keys
    assert len(err.value.problems) == 3


def test_weights_must_sum_to_one(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "bad-v1"\n[scoring]\nfinancial = 0.9\n')
    with pytest.raises(ScenarioError, match="scoring: scorecard weights must sum to 1; got 1.5"):
        load_scenario(p)


def test_price_weight_floor_of_chinese_procurement(tmp_path):
    p = write(tmp_path, '''extends = "classroom-v1"
name = "bad-v1"
[[clients]]
id = "acme"
name = { en = "Acme", zh = "阿克米" }
volume = 100
price_cap = 90
weights = { price = 0.05, service = 0.5, relationship = 0.45 }
''')
    with pytest.raises(ScenarioError, match=r"clients.0.weights.price: Input should be greater than or equal to 0.1; got 0.05"):
        load_scenario(p)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "name = \n"))
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario("no-such-scenario-v9")


def test_extends_inherits_and_overrides(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "tiny-v1"\n[market]\ncustomers = 500\n')
    s = load_scenario(p)
    base = load_scenario("classroom-v1")
    assert s.market.customers == 500 and s.clients == base.clients and s.firms == base.firms


def test_scandal_must_name_a_firm(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "bad-v1"\n[[events]]\nperiod = 2\nkind = "scandal"\nmagnitude = 1\nfirm = 9\n')
    with pytest.raises(ScenarioError, match=r"events.0.firm must name a firm index in \[0, 5\]"):
        load_scenario(p)


@pytest.mark.parametrize(
    "body, key",
    [
        ('[tenders]\nmin_valid_bids = 7\n', "tenders.min_valid_bids must be <= firms.count=6"),
        ('[[events]]\nperiod = 13\nkind = "boom"\nmagnitude = 1.1\n', "events.0.period must be <= periods=12"),
        ('[[events]]\nperiod = 3\nkind = "cost_shock"\nmagnitude = 0\n', "events.0.magnitude must be > 0 for a cost_shock"),
    ],
)
def test_cross_field_rules(tmp_path, body, key):
    p = write(tmp_path, 'extends = "classroom-v1"\nname = "bad-v1"\n' + body)
    with pytest.raises(ScenarioError, match=key):
        load_scenario(p)


def test_a_child_scenario_needs_its_own_name(tmp_path):
    p = write(tmp_path, 'extends = "classroom-v1"\n[market]\ncustomers = 500\n')
    with pytest.raises(ScenarioError, match="name: required key is missing"):
        load_scenario(p)


def test_unknown_parent_is_reported_against_the_child(tmp_path):
    p = write(tmp_path, 'extends = "nope-v1"\nname = "child-v1"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert err.value.source == str(p) and "extends: no such scenario" in str(err.value)
