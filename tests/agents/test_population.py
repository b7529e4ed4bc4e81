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
    RESOLVED,
    RESOLVED_QUICKLY,
    SILENT,
    UNRESOLVED,
    Cohort,
    MarketInputs,
    adoption_hazard,
    advocacy_of,
    choice_utility,
    complaint_handling,
    complaint_hazard,
    complaint_probability,
    complaint_satisfaction,
    cumulative_satisfaction,
    customer_equity,
    equity_multiple,
    join_firm,
    memory_weight,
    newcomer_expectation,
    perceive_quality,
    reference_price,
    sample_choice,
    update_expectation,
    update_loyalty,
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
    """TARP: 4% just below the dissatisfaction threshold (5), 5 points more per satisfaction point below it,
    capped at 30%: worked by hand for the defaults and for a slope of 10 points, which reaches the cap."""
    s = np.array([4.99, 4.0, 2.0, 0.0])
    assert complaint_probability(s, M) == pytest.approx([0.0405, 0.09, 0.19, 0.29], abs=1e-12)
    steep = M.model_copy(update={"complaint_slope": 0.1})
    assert complaint_probability(s, steep) == pytest.approx([0.041, 0.14, 0.30, 0.30], abs=1e-12)


def test_price_rise_cuts_purchases_more_than_an_equal_cut_adds():
    base = np.full(3, 0.3)
    lr = np.log(np.array([0.95, 1.0, 1.05]))
    p = purchase_probability(base, lr, np.ones(3), 1.0, M)
    assert (p[1] - p[2]) > 1.5 * (p[0] - p[1])


def test_abc_tiers_are_20_30_50():
    t = value_tiers(np.random.default_rng(0).lognormal(size=10_000), M)
    assert [(t == k).mean() for k in range(3)] == pytest.approx([0.2, 0.3, 0.5], abs=1e-4)


def test_abc_tiers_follow_the_scenarios_shares():
    t = value_tiers(np.arange(1000.0), M.model_copy(update={"tier_a_share": 0.1, "tier_b_share": 0.6}))
    assert [(t == k).sum() for k in range(3)] == [100, 600, 300]
    assert t[-1] == 0 and t[0] == 2  # the highest expected spend is A, the lowest C


def test_complaint_outcomes_shift_satisfaction_and_hazard_as_the_scenario_sets():
    """Codes none, quick, resolved, unresolved, silent: +0, +1, +0.3, -0.3, +0 points; hazard x1, 0.35, 0.65, 0.9, 2.2."""
    codes = np.array([0, RESOLVED_QUICKLY, RESOLVED, UNRESOLVED, SILENT])
    assert complaint_satisfaction(codes, M).tolist() == pytest.approx([0.0, 1.0, 0.3, -0.3, 0.0])
    assert complaint_hazard(codes, M).tolist() == pytest.approx([1.0, 0.35, 0.65, 0.9, 2.2])
    harsh = M.model_copy(update={"silent_hazard": 3.0, "unresolved_satisfaction": -1.0})
    assert complaint_hazard(codes, harsh)[SILENT] == 3.0 and complaint_satisfaction(codes, harsh)[UNRESOLVED] == -1.0


def test_complaint_handling_resolves_up_to_capacity_and_care_makes_it_quick():
    """Capacity 8 for 16 complaints resolves half; care 0.5 makes half of those quick. No complaints: all resolvable."""
    p_quick, p_resolve = complaint_handling(np.array([16.0, 0.0]), np.array([8.0, 8.0]), np.array([0.5, 0.2]))
    assert p_resolve.tolist() == pytest.approx([0.0, 0.5, 1.0]) and p_quick.tolist() == pytest.approx([0.0, 0.25, 0.2])


def test_customer_equity_worked_by_hand():
    """One firm: a stayer (2 units, multiple 10) and a newcomer (1 unit, multiple 20); margin 30 per unit,
    service cost 5: 30 x (2 x 10 + 1 x 20) - 5 x (10 + 20) = 1,050. Bin 0 (not the firm's) counts nothing."""
    stayers = Cohort(bins=np.array([1, 0]), expected_units=np.array([2.0, 9.0]), multiple=np.array([10.0, 99.0]))
    joiners = Cohort(bins=np.array([1]), expected_units=np.array([1.0]), multiple=np.array([20.0]))
    one = np.ones(1)
    inputs = MarketInputs(price=one * 90, quality=one, reputation=one, awareness=one, wom=one, care=one, complaint_capacity=one,
                          alive=np.ones(1, bool), margin_per_unit=one * 30, service_cost=one * 5, scandal=one * 0)
    assert customer_equity(stayers, joiners, inputs, 1).tolist() == pytest.approx([1050.0])


def test_a_newcomer_starts_fresh():
    """join_firm: tenure 0, satisfaction_start, new_customer_loyalty, the firm as supplier; others untouched."""
    m = M.model_copy(update={"customers": 50, "new_customer_loyalty": 0.4})
    pop = init_population(m, 3, np.random.default_rng(0))
    who = np.array([3, 7])
    new = join_firm(pop, 2, m, who=who)
    assert new.supplier[who].tolist() == [2, 2] and new.tenure[who].tolist() == [0, 0]
    assert new.satisfaction[who].tolist() == [7.0, 7.0] and new.loyalty[who].tolist() == pytest.approx([0.4, 0.4])
    rest = np.setdiff1d(np.arange(50), who)
    assert np.array_equal(new.supplier[rest], pop.supplier[rest]) and np.array_equal(new.loyalty[rest], pop.loyalty[rest])
    assert (join_firm(pop, 1, m).supplier == 1).all()


def test_perceived_quality_is_delivered_quality_plus_noise_in_0_1():
    """0.6 + 0.03 x (0, 1, -30, 20) = 0.6, 0.63, clipped 0, clipped 1."""
    assert perceive_quality(np.full(4, 0.6), np.array([0.0, 1.0, -30.0, 20.0]), M).tolist() == pytest.approx([0.6, 0.63, 0.0, 1.0])


def test_memory_grows_with_tenure_and_blends_satisfaction():
    """w = 0.85 - 0.35 exp(-t / 12): 0.5 for a newcomer, 0.85 - 0.35/e = 0.7212 after a year; CS = w x 8 + (1 - w) x 6."""
    w = memory_weight(np.array([0, 12]), M)
    assert w.tolist() == pytest.approx([0.5, 0.85 - 0.35 / np.e])
    assert cumulative_satisfaction(np.array([8.0, 8.0, 9.5]), np.array([6.0, 6.0, 12.0]), np.array([0.5, 0.75, 0.0])).tolist() == [7.0, 7.5, 10.0]


def test_expectations_move_toward_experience_and_a_newcomers_toward_its_firms_reputation():
    """E 0.6, P 0.8: 0.6 + 0.2 x 0.2 = 0.64; with wom_expectation 0.5 and wom 0.1, 0.69. A newcomer: 0.5 x 0.6 + 0.5 x 0.8 = 0.7."""
    assert update_expectation(np.array([0.6]), np.array([0.8]), 0.0, M).tolist() == pytest.approx([0.64])
    talk = M.model_copy(update={"wom_expectation": 0.5})
    assert update_expectation(np.array([0.6]), np.array([0.8]), np.array([0.1]), talk).tolist() == pytest.approx([0.69])
    assert newcomer_expectation(np.array([0.6]), np.array([0.8]), M).tolist() == pytest.approx([0.7])


def test_adoption_hazard_worked_by_hand():
    """Bass: 0.003 + 0.04 x 0.6 served + 0.03 x 0.5 awareness = 0.042; capped at 1."""
    assert adoption_hazard(0.6, 0.5, M) == pytest.approx(0.042)
    assert adoption_hazard(1.0, 1.0, M.model_copy(update={"bass_q": 0.99})) == 1.0


def test_choice_utility_worked_by_hand():
    """Firm 0: 4 x 0.6 + 1.5 x 0.5 = 3.15; firm 1: 4 x 0.8 - 2.5 ln 1.2 + 2 x 0.1 + 1.5 x 0.2 = 3.7 - 2.5 ln 1.2."""
    firms = inputs(2, price=np.array([100.0, 120.0]), reputation=np.array([0.6, 0.8]), wom=np.array([0.0, 0.1]),
                   awareness=np.array([0.5, 0.2]))
    u = choice_utility(firms, np.ones(1), np.ones(1), np.log(np.array([100.0])), M)
    assert u.ravel().tolist() == pytest.approx([3.15, 3.7 - 2.5 * np.log(1.2)])


def test_sample_choice_follows_logit_probabilities():
    """A column with one finite option always takes it; utilities 0 and ln 3 are taken 1:3 (20,000 draws, within 0.01)."""
    rng = np.random.default_rng(0)
    only = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    assert sample_choice(only, rng).tolist() == [0, 1]
    picks = sample_choice(np.tile(np.array([[0.0], [np.log(3.0)]]), (1, 20_000)), rng)
    assert abs(picks.mean() - 0.75) < 0.01


def test_word_of_mouth_loyalty_reference_price_and_equity_multiple_worked_by_hand():
    """Promoter from CS 9, detractor below 6, prospects passive; loyalty 0.8 x 0.7 + 0.2 x 0.9 = 0.74;
    reference 0.8 x 100 + 0.2 x 110 = 102; equity multiple (1 - 0.04) / (0.01 + 0.04) = 19.2."""
    cs = np.array([9.0, 8.99, 6.0, 5.99, 9.5])
    assert advocacy_of(cs, np.array([True, True, True, True, False]), M).tolist() == [1, 0, 0, -1, 0]
    assert update_loyalty(np.array([0.7]), np.array([9.0]), M).tolist() == pytest.approx([0.74])
    assert reference_price(np.array([100.0]), np.array([110.0]), M).tolist() == pytest.approx([102.0])
    assert equity_multiple(np.array([0.04]), M).tolist() == pytest.approx([19.2])


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


def _partitioned_tiers(spend: np.ndarray, m: Market) -> np.ndarray:
    """The tiers as value_tiers always cut them before its faster sort path: by argpartition alone."""
    n = spend.shape[0]
    a_from, b_from = n - int(round(m.tier_a_share * n)), n - int(round((m.tier_a_share + m.tier_b_share) * n))
    tier = np.full(n, 2, dtype=np.int8)
    if n == 0 or b_from >= n:
        return tier
    order = np.argpartition(spend, (min(b_from, n - 1), min(a_from, n - 1)))
    tier[order[b_from:]] = 1
    tier[order[a_from:]] = 0
    return tier


@pytest.mark.parametrize("case", range(300))
def test_value_tiers_cut_the_same_sets_as_the_partition_with_ties_and_nan(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(0, 400))
    kind = case % 4
    if kind == 0:
        spend = rng.lognormal(size=n)
    elif kind == 1:  # heavy ties: few distinct values, so cuts often fall inside a tie
        spend = rng.integers(0, 5, n).astype(float)
    elif kind == 2:  # ties and NaN
        spend = rng.integers(0, 8, n).astype(float)
        spend[rng.random(n) < 0.05] = np.nan
    else:  # float32, as the population keeps expected spend
        spend = rng.gamma(2.0, 1.0, n).astype(np.float32).round(1)
    shares = sorted(rng.uniform(0.0, 1.0, 2))
    m = M.model_copy(update={"tier_a_share": float(shares[0]), "tier_b_share": float(shares[1] - shares[0])})
    np.testing.assert_array_equal(value_tiers(spend, m), _partitioned_tiers(spend, m))
