"""The vectorised customer population: rules over whole arrays, purity, the array namespace, individual view."""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import numpy as np
import pytest

import crmsim.agents.population as popmod
from crmsim.agents.population import (
    PROSPECT,
    MarketInputs,
    complaint_probability,
    defection_hazard,
    init_population,
    purchase_probability,
    step_population,
    transaction_satisfaction,
    value_tiers,
)
from crmsim.scenarios.schema import Market

M = Market()


def inputs(n_firms=4, **kw):
    base = dict(
        price=np.full(n_firms, 100.0), quality=np.full(n_firms, 0.6), reputation=np.full(n_firms, 0.6),
        awareness=np.full(n_firms, 0.5), wom=np.zeros(n_firms), care=np.full(n_firms, 0.3),
        complaint_capacity=np.full(n_firms, 1e9), alive=np.ones(n_firms, bool), margin_per_unit=np.full(n_firms, 40.0),
        service_cost=np.full(n_firms, 15.0), scandal=np.zeros(n_firms), market_price=100.0,
    )
    base.update(kw)
    return MarketInputs(**base)


def test_no_python_loop_over_customers_in_the_rules():
    """Every rule is array code: step_population and the rule functions contain no for/while loops
    except over firms or tiers (range(3)) in aggregation."""
    tree = ast.parse(inspect.getsource(popmod))
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While, ast.comprehension)):
            src = ast.unparse(node.iter if hasattr(node, "iter") else node)
            assert "range(3)" in src or "fields(self)" in src or "panel" in src or ".items()" in src, src


def test_rules_use_the_array_namespace_passed_in():
    """Only init_population (drawing traits) may call numpy directly; the rules use `xp`."""
    src = Path(popmod.__file__).read_text()
    tree = ast.parse(src)
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name != "init_population"]:
        body = ast.Module(body=fn.body, type_ignores=[])  # annotations and defaults may name numpy types
        names = {n.value.id for n in ast.walk(body) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
        assert "np" not in names, f"{fn.name} calls np. directly"


class CountingNamespace(types.SimpleNamespace):
    """Wraps numpy and records which functions the rules call through `xp`."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "calls", set())

    def __getattr__(self, name):
        self.calls.add(name)
        return getattr(np, name)


def test_step_through_another_namespace_gives_identical_results():
    xp = CountingNamespace()
    pop = init_population(M.model_copy(update={"customers": 2000}), 4, np.random.default_rng(1))
    a, oa = step_population(pop, inputs(), M, np.random.default_rng(2), np)
    b, ob = step_population(pop, inputs(), M, np.random.default_rng(2), xp)
    assert {"where", "clip", "bincount", "exp"} <= xp.calls
    assert np.array_equal(a.supplier, b.supplier) and np.array_equal(a.satisfaction, b.satisfaction)
    assert np.array_equal(oa.revenue, ob.revenue)


def test_step_is_pure_and_deterministic():
    pop = init_population(M.model_copy(update={"customers": 3000}), 4, np.random.default_rng(1))
    before = {k: v.copy() for k, v in pop.__dict__.items()}
    a, _ = step_population(pop, inputs(), M, np.random.default_rng(5))
    b, _ = step_population(pop, inputs(), M, np.random.default_rng(5))
    for k, v in before.items():
        assert np.array_equal(getattr(pop, k), v), k
    assert np.array_equal(a.satisfaction, b.satisfaction) and np.array_equal(a.supplier, b.supplier)


def test_every_customer_is_with_one_firm_or_a_prospect():
    pop = init_population(M.model_copy(update={"customers": 5000}), 4, np.random.default_rng(1))
    new, out = step_population(pop, inputs(alive=np.array([True, True, False, True])), M, np.random.default_rng(3))
    assert set(np.unique(new.supplier)) <= {PROSPECT, 0, 1, 3}
    assert out.customers_end.sum() + out.prospects_end == 5000
    assert out.customers_end[2] == 0


def test_disconfirmation_is_loss_averse():
    """A shortfall of 0.1 below expectation costs more satisfaction than an equal surplus adds (Anderson & Sullivan)."""
    e = np.full(3, M.expectation_mean)
    s = transaction_satisfaction(e + np.array([0.1, 0.0, -0.1]), e, np.zeros(3), M)
    gain, loss = s[0] - s[1], s[1] - s[2]
    assert gain > 0 and loss >= 1.3 * gain


def test_defection_hazard_is_the_base_rate_at_neutral_settings():
    p = np.array([0.02, 0.05])
    h = defection_hazard(p, np.full(2, M.satisfaction_neutral), np.full(2, M.loyalty_neutral),
                         np.full(2, M.switching_cost_mean), np.zeros(2), np.ones(2), M)
    assert h == pytest.approx(p)


def test_defection_hazard_falls_steeply_with_satisfaction():
    """Jones & Sasser: hazard falls with satisfaction; the totally satisfied (9.5) defect far less than the merely satisfied (7.5)."""
    cs = np.linspace(3.0, 10.0, 15)
    h = defection_hazard(np.full(15, 0.02), cs, np.full(15, M.loyalty_neutral), np.full(15, M.switching_cost_mean), np.zeros(15), np.ones(15), M)
    assert np.all(np.diff(h) <= 0)
    at = dict(zip(cs.round(1), h))
    assert at[9.5] * 2.0 <= at[7.5]


def test_complaint_probability_stays_in_the_tarp_band():
    s = np.linspace(0, 4.99, 50)
    p = complaint_probability(s, M)
    assert p.min() >= 0.04 - 1e-12 and p.max() <= 0.30 + 1e-12


def test_price_rise_cuts_purchases_more_than_an_equal_cut_adds():
    base = np.full(3, 0.3)
    lr = np.log(np.array([0.95, 1.0, 1.05]))
    p = purchase_probability(base, lr, np.ones(3), 1.0, M)
    assert (p[1] - p[2]) > 1.5 * (p[0] - p[1])


def test_abc_tiers_are_20_30_50():
    t = value_tiers(np.random.default_rng(0).lognormal(size=10_000), M)
    assert [(t == k).mean() for k in range(3)] == pytest.approx([0.2, 0.3, 0.5], abs=1e-4)


def test_individual_view_of_one_customer():
    from crmsim.sim.model import CRMModel
    from crmsim.scenarios import load_scenario

    m = CRMModel(load_scenario("classroom-v1"), seed=1)  # standing decisions stay solvent at 10,000 customers
    m.run()
    assert len(m.results) == 12
    h = m.customer_history(17)
    assert list(h.period) == list(range(1, 13))
    assert {"supplier", "satisfaction", "bought", "spend", "complaint"} <= set(h.columns)
    assert m.state.population.customer(17)["supplier"] == h.supplier.iloc[-1]
    with pytest.raises(IndexError, match="must be in"):
        m.customer_history(10_000)
