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
        ("[market]\ntier_a_share = 0.6\ntier_b_share = 0.5\n", "tier_a_share \\+ tier_b_share must be <= 1"),
        ("[market]\ntenure_start_min = 5\ntenure_start_max = 4\n", "tenure_start_max must be >= tenure_start_min=5"),
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


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_behavioural_settings_that_were_code_constants_keep_their_values(name):
    """The complaint tables, value tiers, newcomer loyalty, starting spreads and tenure (population), starting
    awareness and client satisfaction, the client-satisfaction weight, the relationship kept on default, the
    scandal's reputation loss and the quality floor (engine) are scenario settings with the old values."""
    sc = load_scenario(name)
    m, f, t = sc.market, sc.firms, sc.tenders
    assert (m.quick_resolution_satisfaction, m.resolution_satisfaction, m.unresolved_satisfaction, m.silent_satisfaction) == (1.0, 0.3, -0.3, 0.0)
    assert (m.quick_resolution_hazard, m.resolution_hazard, m.unresolved_hazard, m.silent_hazard) == (0.35, 0.65, 0.9, 2.2)
    assert (m.tier_a_share, m.tier_b_share, m.new_customer_loyalty) == (0.2, 0.3, 0.5)
    assert (m.satisfaction_start_sd, m.loyalty_start_sd, m.reference_price_sd, m.tenure_start_min, m.tenure_start_max) == (0.8, 0.1, 0.05, 1, 24)
    assert (f.awareness, f.client_satisfaction, t.client_satisfaction_weight, t.default_relationship_factor) == (0.5, 7.0, 0.3, 0.5)
    assert (m.scandal_reputation_loss, m.min_quality_factor) == (0.3, 0.1)


@pytest.mark.parametrize(
    "key, value, rule",
    [
        ("market.silent_hazard", -1, "Input should be greater than or equal to 0"),
        ("market.tenure_start_max", 1001, "Input should be less than or equal to 1000"),
        ("tenders.client_satisfaction_weight", 1.5, "Input should be less than or equal to 1"),
        ("firms.client_satisfaction", 11, "Input should be less than or equal to 10"),
    ],
)
def test_behavioural_settings_have_bounds(key, value, rule):
    with pytest.raises(ScenarioError, match=f"{key}: {rule}; got {value}"):
        load_scenario("classroom-v1", overrides={key: value})


def test_per_scenario_works_a_value_out_once_per_scenario_object():
    from crmsim.scenarios import load_scenario, per_scenario

    calls = []

    @per_scenario
    def name_length(sc):
        calls.append(sc)
        return len(sc.name)

    a, b = load_scenario("classroom-v1"), load_scenario("classroom-v1")  # equal content, two objects
    assert name_length(a) == name_length(a) == len(a.name)
    assert calls == [a]
    assert name_length(b) == len(b.name) and len(calls) == 2 and calls[1] is b
    name_length.cache_clear()
    name_length(a)
    assert len(calls) == 3
