"""research/parameters.py: every sweepable setting, read from the scenario schema, with its type, value, default,
bounds and description; each key listed can be set through load_scenario's overrides."""

from __future__ import annotations

import pytest

from crmsim.cli import main
from crmsim.research.parameters import parameter_table, sweepable
from crmsim.scenarios import load_scenario
from crmsim.scenarios.schema import Market


def _value(scenario, key):
    node = scenario
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def test_market_customers_is_listed_with_its_type_value_default_and_bounds():
    params = {p.key: p for p in sweepable("large-market-v1")}
    p = params["market.customers"]
    assert (p.type, p.default, p.low, p.high, p.bounds) == ("int", 10_000, 10, 50_000_000, "[10, 50000000]")
    assert p.value == load_scenario("large-market-v1").market.customers != p.default
    assert params["crm.tier_memory"].bounds == "[0, 1)" and params["firms.unit_cost"].bounds == "(0, 1000000]"
    assert params["scoring.method"].choices == ("minmax", "reference") and params["scoring.method"].type == "choice"
    assert params["scoring.metrics.equity.span"].default == 300_000  # a default entry's own default
    assert "purchase propensity" in params["market.purchase_alpha"].description


def test_the_list_is_complete_every_market_setting_and_no_lists_or_text():
    keys = {p.key for p in sweepable()}
    assert {f"market.{name}" for name in Market.model_fields} <= keys
    assert not keys & {"name", "title.en", "clients", "events", "firms.names", "cultivation.stage_relationship"}


def test_every_listed_key_can_be_set_by_an_override_to_its_value():
    sc = load_scenario("classroom-v1")
    for p in sweepable(sc):
        assert _value(load_scenario("classroom-v1", overrides={p.key: p.value}), p.key) == p.value, p.key


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("market.customers", 5, "must be >= 10"),
    ("market.customers", 1500.5, "must be a whole number"),
    ("crm.tier_memory", 1.0, "must be < 1"),
    ("scoring.method", "median", "must be one of 'minmax', 'reference'"),
    ("crm.tier_care", 1, "must be true or false"),
    ("market.customers", 2000, None),
])
def test_a_value_is_checked_against_the_declared_bounds(key, value, problem):
    assert {p.key: p for p in sweepable()}[key].problem(value) == problem


def test_the_params_command_lists_keys_with_bounds(capsys):
    assert main(["params", "classroom-v1", "--match", "market.cust"]) == 0
    text = capsys.readouterr().out
    assert "market.customers" in text and "[10, 50000000]" in text and "10000" in text
    assert len(parameter_table("classroom-v1")) == len(sweepable("classroom-v1"))


@pytest.mark.parametrize("scenario", ["classroom-v2", "large-market-v1"])
def test_the_seat_count_is_not_listed_as_sweepable_but_can_be_asked_for(scenario):
    """firms.count is the number of seats every point of a sweep fills with one line-up (and, where the scenario lists
    firms.names, must match them): params leaves it out; experiment files ask for it to check a fixed value."""
    assert "firms.count" not in {p.key for p in sweepable(scenario)}
    assert "firms.count" not in set(parameter_table(scenario)["key"])
    count = {p.key: p for p in sweepable(scenario, with_seat_count=True)}["firms.count"]
    assert count.value == load_scenario(scenario).firms.count and count.bounds == "[2, 16]"


def test_the_params_command_leaves_the_seat_count_out_and_a_sweep_refuses_to_vary_it(capsys):
    from crmsim import InputError
    from crmsim.research.sweep import sweep

    assert main(["params", "classroom-v2", "--match", "firms."]) == 0
    text = capsys.readouterr().out
    assert "firms.cash" in text and "firms.count" not in text
    rule = r"param firms.count: the number of seats cannot vary across a sweep's points, which all play one line-up"
    with pytest.raises(InputError, match=rule):
        sweep("large-market-v1", {"firms.count": [4, 6]}, progress=False)
    with pytest.raises(InputError, match=rule):
        sweep("large-market-v1", bounds={"firms.count": (4, 8)}, design="lhs", samples=2, progress=False)


def test_the_sweep_command_names_the_seat_count_rule_before_checking_the_values(capsys):
    """classroom-v1 lists six firm names, so 4 would break its own names rule; the sweep's rule comes first."""
    assert main(["sweep", "classroom-v1", "--param", "firms.count=4,6", "--seeds", "1", "--quiet"]) == 2
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "error: --param firms.count=4,6: the number of seats cannot vary across a sweep's points" in out
    assert "names must list" not in out
