"""Tests for sim/accounts.py and the accounting step of the engine (docs/rules.md section 9).

The cash identity must hold exactly for every firm and period; a firm with
negative cash gets an emergency loan up to its credit line and beyond that
goes bankrupt: it bids no more, its customers become prospects, its open
contracts default and it ranks below every live firm. Checked on full bot
games over several seeds and every shipped scenario (large-market-v1 aside),
and on a hand-built bankruptcy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

from crmsim.agents.bots import Strategy, cultivate, lineup
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.scenarios.schema import Costs
from crmsim.sim.accounts import Ledger, decision_ledger, emergency_loan, interest_due, is_insolvent, service_intensity, staffing_costs
from crmsim.sim.decisions import DecisionError
from crmsim.sim.engine import check_decision, initial_state, period_rng, resolve_period
from crmsim.sim.model import CRMModel

SCENARIOS = [s for s in list_scenarios() if s != "large-market-v1"]
SEEDS = (0, 1, 2)
CUSTOMERS = 3000

# the outflows of docs/rules.md section 9, spelled out here rather than imported
OUTFLOWS = (
    "cost_of_goods",
    "salaries",
    "hiring",
    "severance",
    "service_cost",
    "care",
    "advertising",
    "cultivation",
    "research",
    "retention",
    "bonds_kept",
    "penalties",
    "interest",
)


# ---------------------------------------------------------------------------
# a play-tester that borrows, repays, hires, fires and finally overspends


@dataclass
class Spendthrift(Strategy):
    """Borrows in period 1, repays part in period 2, hires and fires, then burns cash on advertising
    until emergency loans run out and it goes bankrupt."""

    name: ClassVar[str] = "spendthrift"

    def decide(self, obs, rng: np.random.Generator) -> dict[str, Any]:
        f = obs.firm
        d: dict[str, Any] = {"price": 95.0, "service_level": 0.7, "care_budget": 5_000}
        if obs.period == 1:
            d.update(borrow=100_000, hire_sales=1, hire_service=2, **cultivate(obs, {obs.scenario.client_ids[0]: 10_000}, hires=1))
        elif obs.period == 2:
            d.update(repay=min(40_000.0, f.debt, f.cash), fire_service=1)
        else:
            d.update(advertising_budget=150_000, **cultivate(obs, {}))
        bids = {}
        for t in obs.tenders[:2]:
            promised = max(0.7, t.required_service)
            cost = f.unit_cost + obs.scenario.tenders.service_cost_per_unit * promised
            if (not t.closed or obs.relationship[t.client] >= t.min_relationship) and cost * 1.05 <= t.price_cap:
                bids[t.id] = {"price": round(min(t.price_cap, cost * 1.15), 2), "promised_service": promised}
        d["bids"] = bids
        return d


@dataclass
class Game:
    scenario: str
    seed: int
    model: CRMModel
    snaps: list[dict[str, Any]]  # after each period: firms, supplier counts, prospects, contracts


def _play(name: str, seed: int, spend: bool) -> Game:
    sc = load_scenario(name, overrides={"market.customers": CUSTOMERS, "market.track_customers": 200})
    names = lineup(None, sc.firms.count)
    strategies: list[Any] = list(names)
    if spend:
        strategies[0] = Spendthrift()
    model = CRMModel(sc, seed=seed, strategies=strategies)
    snaps = [{"period": 0, "firms": model.state.firms}]
    while not model.finished:
        model.step()
        res = model.results[-1]
        sup = np.asarray(model.state.population.supplier)
        snaps.append(
            {
                "period": res.period,
                "firms": model.state.firms,
                "counts": np.bincount(sup[sup >= 0], minlength=sc.firms.count),
                "prospects": int((sup < 0).sum()),
                "codes": set(np.unique(sup).tolist()),
                "size": int(sup.shape[0]),
                "contracts": model.state.contracts,
            }
        )
    return Game(name, seed, model, snaps)


@pytest.fixture(scope="module")
def games() -> list[Game]:
    """Every shipped scenario (bar large-market-v1) x 3 seeds x {default bots, default bots + a spendthrift}."""
    return [_play(name, seed, spend) for name in SCENARIOS for seed in SEEDS for spend in (False, True)]


def _rows(game: Game):
    for res in game.model.results:
        for row in res.firm_rows:
            yield res, row


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def test_scenarios_under_test_include_the_shipped_ones():
    """The identity is checked on every shipped scenario except large-market-v1."""
    assert "classroom-v1" in SCENARIOS and "price-war-v1" in SCENARIOS
    assert "large-market-v1" not in SCENARIOS


# ---------------------------------------------------------------------------
# the cash identity


def test_cash_identity_holds_for_every_firm_and_period(games):
    """cash_end = cash_start + revenue - outflows + borrowing - repayment + emergency_loan (to 1e-6 relative),
    recomputed from the published firm rows."""
    checked = 0
    for g in games:
        for res, row in _rows(g):
            expected = (
                row["cash_start"]
                + row["revenue_market"]
                + row["revenue_contracts"]
                - sum(row[k] for k in OUTFLOWS)
                + row["borrowing"]
                - row["repayment"]
                + row["emergency_loan"]
            )
            assert _close(row["cash"], expected), (g.scenario, g.seed, res.period, row["firm"], row["cash"], expected)
            assert _close(row["revenue"], row["revenue_market"] + row["revenue_contracts"])
            checked += 1
    assert checked == sum(len(g.model.results) * len(g.model.state.firms) for g in games)


def test_ledger_cash_end_is_the_firms_new_cash(games):
    """The ledger's cash_end is the cash the firm carries into the next period (state and row agree)."""
    for g in games:
        for res, snap in zip(g.model.results, g.snaps[1:]):
            for i, lg in res.ledgers.items():
                assert lg.cash_end == snap["firms"][i].cash
                assert res.firm_rows[i]["cash"] == lg.cash_end


def test_next_cash_start_equals_previous_cash_end(games):
    """Each firm's cash_start equals its previous cash_end; period 1 starts with the scenario's cash."""
    for g in games:
        start_cash = g.model.scenario.firms.cash
        prev = {i: start_cash for i in range(len(g.model.state.firms))}
        for res in g.model.results:
            for i, lg in res.ledgers.items():
                assert lg.cash_start == prev[i], (g.scenario, g.seed, res.period, i)
                prev[i] = lg.cash_end


def test_ledger_lines_follow_the_decisions_and_the_rules(games):
    """Ledger lines: care, advertising and cultivation are the decided spend; borrowing and repayment as decided;
    salaries on staff after hires and fires; hiring and severance per head; interest on debt at the start;
    contract revenue and penalties are the deliveries'."""
    for g in games:
        costs = g.model.scenario.costs
        for res, before, after in zip(g.model.results, g.snaps[:-1], g.snaps[1:]):
            for i, d in res.decisions.items():
                lg = res.ledgers[i]
                f0, f1 = before["firms"][i], after["firms"][i]
                assert lg.care == d.care_budget and lg.advertising == d.advertising_budget
                acts = g.model.scenario.cultivation.activities
                activity_cost = sum(acts[a].cost for plan in d.activities.values() for a in plan)
                assert lg.cultivation == pytest.approx(sum(d.cultivation.values()) + activity_cost)
                assert lg.retention == d.retention_budget
                assert (lg.borrowing, lg.repayment) == (d.borrow, d.repay)
                assert f1.sales_staff == f0.sales_staff + d.hire_sales - d.fire_sales
                assert f1.service_staff == f0.service_staff + d.hire_service - d.fire_service
                assert lg.salaries == pytest.approx(f1.sales_staff * costs.salary_sales + f1.service_staff * costs.salary_service)
                assert lg.hiring == pytest.approx((d.hire_sales + d.hire_service) * costs.hire_cost)
                assert lg.severance == pytest.approx((d.fire_sales + d.fire_service) * costs.severance)
                assert lg.interest == pytest.approx(costs.interest_rate * f0.debt + costs.emergency_rate * f0.emergency_debt)
                assert f1.debt == pytest.approx(f0.debt + d.borrow - d.repay)
                mine = [x for x in res.deliveries if x.contract.firm == i]
                assert lg.revenue_contracts == pytest.approx(sum(x.revenue for x in mine))
                assert lg.penalties == pytest.approx(sum(x.penalty for x in mine))


def test_games_exercise_every_money_flow(games):
    """The games are not vacuous: borrowing, repayment, hiring, severance, cultivation, contracts, emergency
    loans and bankruptcies all occur somewhere."""
    seen = {k: 0.0 for k in ("borrowing", "repayment", "hiring", "severance", "cultivation", "revenue_contracts", "emergency_loan")}
    bankrupt = 0
    for g in games:
        for _, row in _rows(g):
            for k in seen:
                seen[k] += row[k]
        bankrupt += sum(f.bankrupt for f in g.model.state.firms)
    assert all(v > 0 for v in seen.values()), seen
    assert bankrupt > 0


# ---------------------------------------------------------------------------
# emergency loans and the credit line


def test_emergency_loan_covers_negative_cash_up_to_the_credit_line(games):
    """Emergency loan = min(shortfall, credit line - debt - emergency debt); none while cash stays >= 0;
    emergency debt accumulates; total debt never exceeds the credit line."""
    loans = 0
    for g in games:
        line = g.model.scenario.costs.credit_line
        for res, before, after in zip(g.model.results, g.snaps[:-1], g.snaps[1:]):
            for i, lg in res.ledgers.items():
                f0, f1 = before["firms"][i], after["firms"][i]
                if f0.bankrupt:
                    continue
                cash_before = lg.cash_before_emergency
                room = max(0.0, line - f1.debt - f0.emergency_debt)
                assert lg.emergency_loan == pytest.approx(min(max(0.0, -cash_before), room))
                if cash_before >= 0:
                    assert lg.emergency_loan == 0.0
                elif room >= -cash_before:
                    loans += 1
                    assert lg.cash_end == pytest.approx(0.0, abs=1e-6)  # the loan exactly covers the shortfall
                else:
                    assert lg.cash_end < 0  # the line ran out
                assert f1.emergency_debt == pytest.approx(f0.emergency_debt + lg.emergency_loan)
                assert f1.debt + f1.emergency_debt <= line + 1e-6
                if lg.emergency_loan > 0:
                    assert any(e["kind"] == "emergency_loan" and e["firm"] == i for e in res.events)
    assert loans > 0


def test_firm_beyond_the_credit_line_goes_bankrupt(games):
    """Bankrupt exactly when cash is still negative after the emergency loan, i.e. the credit line is used up."""
    for g in games:
        line = g.model.scenario.costs.credit_line
        for res, before, after in zip(g.model.results, g.snaps[:-1], g.snaps[1:]):
            for i, lg in res.ledgers.items():
                f0, f1 = before["firms"][i], after["firms"][i]
                if f0.bankrupt:
                    continue
                assert f1.bankrupt == (lg.cash_end < 0)
                if f1.bankrupt:
                    assert f1.bankrupt_period == res.period
                    assert f1.debt + f1.emergency_debt >= line - 1e-6  # nothing left of the credit line
                    assert any(e["kind"] == "bankruptcy" and e["firm"] == i for e in res.events)


def test_bankrupt_firm_is_frozen_afterwards(games):
    """After bankruptcy a firm's books stop: no flows, cash and debt unchanged, no customers, no decisions."""
    for g in games:
        for res, before, after in zip(g.model.results, g.snaps[:-1], g.snaps[1:]):
            for i, f0 in enumerate(before["firms"]):
                if not f0.bankrupt:
                    continue
                lg = res.ledgers[i]
                assert lg == Ledger(cash_start=f0.cash)
                assert after["firms"][i].cash == f0.cash and after["firms"][i].debt == f0.debt
                assert i not in res.decisions
                assert res.firm_rows[i]["customers"] == 0.0


def test_bankrupt_firms_customers_become_prospects(games):
    """From the period of bankruptcy on, no customer's supplier is a bankrupt firm."""
    for g in games:
        for snap in g.snaps[1:]:
            for i, f in enumerate(snap["firms"]):
                if f.bankrupt:
                    assert snap["counts"][i] == 0, (g.scenario, g.seed, snap["period"], i)


def test_bankrupt_firm_bids_no_more(games):
    """After its bankruptcy period a firm appears in no bid row (or only voided BANKRUPT) and holds no contract."""
    for g in games:
        final = g.model.state.firms
        for res, snap in zip(g.model.results, g.snaps[1:]):
            for i, f in enumerate(final):
                if f.bankrupt and res.period > f.bankrupt_period:
                    rows = [b for o in res.tenders for b in o.bids if b.firm == i]
                    assert all(b.void_reason == "BANKRUPT" for b in rows)
            for c in snap["contracts"]:
                assert not snap["firms"][c.firm].bankrupt


def test_bankrupt_firm_ranks_below_every_live_firm(games):
    """Every period, every bankrupt firm's rank is below (larger than) every live firm's; ranks are 1..n."""
    for g in games:
        for res in g.model.results:
            live = [r["rank"] for r in res.firm_rows if not r["bankrupt"]]
            dead = [r["rank"] for r in res.firm_rows if r["bankrupt"]]
            assert sorted(live + dead) == list(range(1, len(res.firm_rows) + 1))
            if live and dead:
                assert max(live) < min(dead)


# ---------------------------------------------------------------------------
# customers are conserved


def test_customers_conserved_in_the_population_every_period(games):
    """Every customer is with exactly one firm or a prospect: sum over firms + prospects == population size,
    supplier codes are -1 or a firm index, and each live firm's published customers equal its count."""
    for g in games:
        n_f = g.model.scenario.firms.count
        for res, snap in zip(g.model.results, g.snaps[1:]):
            assert snap["size"] == CUSTOMERS
            assert int(snap["counts"].sum()) + snap["prospects"] == CUSTOMERS
            assert snap["codes"] <= {-1, *range(n_f)}
            for i, row in enumerate(res.firm_rows):
                if not row["bankrupt"]:
                    assert row["customers"] == snap["counts"][i]


def test_customers_conserved_in_published_figures_without_new_bankruptcy(games):
    """In every period with no new bankruptcy: sum of firms' customers + market prospects == population size,
    customer shares sum to 1, and each firm's customers = customers_start + acquired - lost."""
    checked = 0
    for g in games:
        market = g.model.frames()["market"].set_index("period")
        for res in g.model.results:
            if any(r["bankrupt_period"] == res.period for r in res.firm_rows):
                continue
            total = sum(r["customers"] for r in res.firm_rows)
            assert total + market.loc[res.period, "prospects"] == CUSTOMERS
            assert sum(r["market_share_customers"] for r in res.firm_rows) == pytest.approx(1.0)
            for r in res.firm_rows:
                if not r["bankrupt"]:
                    assert r["customers"] == r["customers_start"] + r["acquired"] - r["lost"]
            checked += 1
    assert checked > 0


# ---------------------------------------------------------------------------
# a hand-built bankruptcy: firm 0 wins a tender and overspends in the same period


def _acme_scenario():
    clients = [
        {
            "id": "acme",
            "name": {"en": "Acme", "zh": "顶点"},
            "volume": 1000,
            "volume_spread": 0.0,
            "price_cap": 100,
            "required_service": 0.5,
            "every": 100,
            "first_period": 1,
        }
    ]
    return load_scenario(
        "classroom-v1",
        overrides={"clients": clients, "events": [], "market.customers": 2000, "firms.count": 4, "firms.names": ["A", "B", "C", "D"]},
    )


@pytest.fixture(scope="module")
def crash():
    """Period 1: firm 0 wins acme-01 at 90 and spends 1,000,000 on advertising; firms 1-2 bid 92 and 94."""
    sc = _acme_scenario()
    st = initial_state(sc, 4)
    raw = {
        0: {"advertising_budget": 1_000_000, "bids": {"acme-01": {"price": 90, "promised_service": 0.6}}},
        1: {"bids": {"acme-01": {"price": 92, "promised_service": 0.6}}},
        2: {"bids": {"acme-01": {"price": 94, "promised_service": 0.6}}},
    }
    dec = {i: check_decision(st, i, r) for i, r in raw.items()}
    st2, res = resolve_period(st, dec, period_rng(4, 1))
    return sc, st, st2, res


def test_emergency_loan_is_capped_by_the_credit_line_then_bankruptcy(crash):
    """Cash far below zero: the emergency loan is the whole credit line (200,000), cash stays negative, bankrupt."""
    sc, st, st2, res = crash
    lg = res.ledgers[0]
    assert lg.cash_before_emergency < -sc.costs.credit_line
    assert lg.emergency_loan == sc.costs.credit_line
    assert lg.cash_end == pytest.approx(lg.cash_before_emergency + sc.costs.credit_line)
    f = st2.firms[0]
    assert f.bankrupt and f.bankrupt_period == 1 and f.cash == lg.cash_end < 0
    assert f.emergency_debt == sc.costs.credit_line
    assert not any(g.bankrupt for g in st2.firms[1:])


def test_bankrupt_firms_open_contract_defaults_and_relationship_drops(crash):
    """Open contracts default on bankruptcy: the contract is gone and the client's relationship with the firm halves."""
    sc, st, st2, res = crash
    assert res.tenders[0].winner == 0
    assert st2.contracts == ()
    assert any(e["kind"] == "contract_default" and e["firm"] == 0 and "acme-01" in e["detail"] for e in res.events)
    assert st2.relationship[0, 0] == pytest.approx(0.5 * 0.95 * 0.1)
    assert st2.relationship[1, 0] == pytest.approx(0.95 * 0.1)


def test_bankrupt_firms_customers_are_released_to_prospects(crash):
    """No customer's supplier is the bankrupt firm; they are prospects again."""
    sc, st, st2, res = crash
    sup = np.asarray(st2.population.supplier)
    assert (sup == 0).sum() == 0
    assert res.firm_rows[0]["customers_start"] > 0
    assert (sup >= 0).sum() + (sup < 0).sum() == sc.market.customers


def test_bankrupt_firm_ranks_last_and_decides_no_more(crash):
    """The bankrupt firm ranks last; its decisions are rejected; the next period skips it entirely."""
    sc, st, st2, res = crash
    assert res.firm_rows[0]["rank"] == 4
    with pytest.raises(DecisionError) as exc:
        check_decision(st2, 0, {})
    assert exc.value.problems[0].field == "firm"
    with pytest.raises(DecisionError):
        resolve_period(st2, {0: check_decision(st, 0, {})}, period_rng(4, 2))
    st3, res2 = resolve_period(st2, {}, period_rng(4, 2))
    assert 0 not in res2.decisions and res2.ledgers[0] == Ledger(cash_start=st2.firms[0].cash)
    assert st3.firms[0].cash == st2.firms[0].cash
    assert res2.firm_rows[0]["rank"] == 4 and res2.firm_rows[0]["customers"] == 0
    assert (np.asarray(st3.population.supplier) == 0).sum() == 0


def test_model_refuses_a_bankrupt_seat_and_bots_skip_it(crash):
    """CRMModel.submit rejects a bankrupt firm; a bot seat that went bankrupt submits nothing."""
    sc, st, st2, res = crash
    model = CRMModel(sc, seed=4, strategies=["balanced"] * 4)
    model.state = st2
    for a in model.firm_agents:
        a.firm = st2.firms[a.index]
    with pytest.raises(DecisionError):
        model.submit(0, {})
    model.step()
    res2 = model.results[-1]
    assert 0 not in res2.decisions and res2.submitted.get(0, False) is False
    assert set(res2.decisions) == {1, 2, 3}


def test_customers_conserved_in_published_figures_in_the_bankruptcy_period(crash):
    """Even in the bankruptcy period: sum of firms' customers + prospects == population; shares sum to 1."""
    sc, st, st2, res = crash
    total = sum(r["customers"] for r in res.firm_rows) + res.market["prospects"]
    assert total == sc.market.customers
    assert sum(r["market_share_customers"] for r in res.firm_rows) == pytest.approx(1.0)


def test_defaulted_contracts_bond_is_booked_as_kept(crash):
    """A contract that defaults forfeits its 2% bond (0.02 x 90 x 1000 = 1,800), shown as bonds_kept."""
    sc, st, st2, res = crash
    assert res.ledgers[0].bonds_kept == pytest.approx(0.02 * 90 * 1000)


# ---------------------------------------------------------------------------
# the accounts module's small functions, on hand numbers

COSTS = Costs()


def test_ledger_cash_end_on_hand_numbers():
    """cash_end = 100 + (50 + 30) - (10 + 5 + 1 + 2 + 3 + 4 + 6 + 7 + 8 + 9 + 11) + 20 - 15 + 40 = 159."""
    lg = Ledger(
        cash_start=100,
        revenue_market=50,
        revenue_contracts=30,
        cost_of_goods=10,
        salaries=5,
        hiring=1,
        severance=2,
        service_cost=3,
        care=4,
        advertising=6,
        cultivation=7,
        bonds_kept=8,
        penalties=9,
        interest=11,
        borrowing=20,
        repayment=15,
        emergency_loan=40,
    )
    assert lg.cash_before_emergency == 100 + 80 - 66 + 20 - 15
    assert lg.cash_end == 159
    assert lg.operating_costs == 55 and lg.operating_profit == 25 and lg.net_profit == 14
    assert lg.to_dict()["cash_end"] == 159


def test_service_cost_curve_on_hand_numbers():
    """service cost per customer = service_cost × level ** curve: linear (v1) keeps the level itself; a curve of 2
    makes service 0.6 cost 50 × 0.36 = 18 and service 1.0 cost 50 per customer."""
    linear = Costs(service_cost=50)
    level = np.array([0.6, 1.0])
    assert service_intensity(level, linear) is level and service_intensity(0.6, linear) == 0.6
    convex = Costs(service_cost=50, service_cost_curve=2)
    assert (convex.service_cost * service_intensity(level, convex)).tolist() == pytest.approx([18.0, 50.0])
    v1 = load_scenario("classroom-v1")
    v2 = load_scenario("classroom-v2", overrides={"costs.service_cost_curve": 2, "costs.service_cost": 58})
    assert v1.costs.service_cost_curve == 1
    for s in (v1, v2):
        firm = initial_state(s, 1).firms[0]
        ledger = decision_ledger(firm, dataclasses.replace(firm.standing, service_level=0.6), s.costs, 100, 0)
        assert ledger.service_cost == pytest.approx(100 * s.costs.service_cost * 0.6 ** s.costs.service_cost_curve)
    with pytest.raises(ValueError, match="service_cost_curve"):
        Costs(service_cost_curve=0.5)


def test_interest_on_ordinary_and_emergency_debt():
    """Interest = 1% of debt + 4% of emergency debt per period (classroom rates)."""
    assert interest_due(100_000, 50_000, COSTS) == pytest.approx(1_000 + 2_000)


@pytest.mark.parametrize(
    "cash_before, debt, emergency, expected",
    [
        (10.0, 0.0, 0.0, 0.0),  # no shortfall, no loan
        (0.0, 0.0, 0.0, 0.0),
        (-50_000.0, 0.0, 0.0, 50_000.0),  # covers the shortfall
        (-50_000.0, 100_000.0, 80_000.0, 20_000.0),  # only 20,000 of the line is left
        (-50_000.0, 150_000.0, 50_000.0, 0.0),  # the line is used up
        (-50_000.0, 250_000.0, 0.0, 0.0),  # debt beyond the line: no room, not negative
    ],
)
def test_emergency_loan_rule(cash_before, debt, emergency, expected):
    """Emergency loan = min(shortfall, credit line 200,000 - debt - emergency debt), never negative."""
    assert emergency_loan(cash_before, debt, emergency, COSTS) == expected


def test_insolvent_only_when_cash_negative():
    """A firm is insolvent when cash is below zero after the emergency loan; exactly zero is solvent."""
    assert is_insolvent(-0.01) and not is_insolvent(0.0) and not is_insolvent(5.0)


def test_staffing_costs_on_hand_numbers():
    """Salaries 4 x 6,000 + 10 x 3,500; hiring 2 x 3,000; severance 1 x 8,000."""
    assert staffing_costs(4, 10, 2, 1, COSTS) == (59_000, 6_000, 8_000)
