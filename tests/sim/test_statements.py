"""Tests for sim/statements.py: the income statement, cash flow statement and balance sheet tie out to the ledger."""

from __future__ import annotations

import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.accounts import Ledger
from crmsim.sim.model import CRMModel
from crmsim.sim.statements import period_statements, statements, statements_history

TO_THE_CENT = 1e-6


def hand_row() -> dict:
    """A period booked by hand: revenue 120,000 + 30,000; cost of goods 70,000; salaries 48,000; service 5,000;
    care 4,000; advertising 3,000; activities 2,500; research 2,000; penalty 500; interest 1% of 50,000 = 500;
    instructor bonus 1,000; borrowed 10,000, repaid 4,000; no emergency loan. Debt 50,000 at the start."""
    ledger = Ledger(cash_start=100_000, revenue_market=120_000, revenue_contracts=30_000, cost_of_goods=70_000, salaries=48_000,
                    service_cost=5_000, care=4_000, advertising=3_000, cultivation=2_500, research=2_000, penalties=500, interest=500,
                    adjustment=1_000, borrowing=10_000, repayment=4_000)
    debt = 50_000 + 10_000 - 4_000
    return {"period": 3, "firm": 1, "name": "Beacon", **ledger.to_dict(), "cash": ledger.cash_end, "debt": debt, "emergency_debt": 0.0,
            "equity": ledger.cash_end - debt}


def test_statements_worked_by_hand():
    """Gross profit 150,000 - 70,000 = 80,000; operating expenses 48,000 + 5,000 + 4,000 + 3,000 + 2,500 + 2,000 + 500
    = 65,000; operating profit 15,000; net profit 14,500. Cash 100,000 + 14,500 + 1,000 + 10,000 - 4,000 = 121,500.
    Equity: 100,000 - 50,000 = 50,000 at the start, + 14,500 + 1,000 = 65,500 = 121,500 - 56,000 at the end."""
    s = statements(hand_row())
    assert (s.amount("income", "revenue"), s.amount("income", "gross_profit")) == (150_000, 80_000)
    assert s.amount("income", "operating_expenses") == -65_000 and s.amount("income", "operating_profit") == 15_000
    assert s.amount("income", "net_profit") == 14_500
    assert s.amount("cash_flow", "operating_cash_flow") == 14_500 and s.amount("cash_flow", "financing_cash_flow") == 6_000
    assert s.amount("cash_flow", "net_change_in_cash") == 21_500 and s.amount("cash_flow", "cash_end") == 121_500
    assert [(x.key, x.amount) for x in s.balance] == [
        ("cash", 121_500), ("total_assets", 121_500), ("debt", 56_000), ("emergency_debt", 0), ("total_liabilities", 56_000),
        ("equity", 65_500), ("total_liabilities_and_equity", 121_500)]
    assert [(x.key, x.amount) for x in s.equity_change] == [
        ("equity_start", 50_000), ("net_profit", 14_500), ("adjustment", 1_000), ("equity_end", 65_500)]
    assert [n.code for n in s.notes] == ["STATEMENT_CASH_BASIS", "STATEMENT_EQUITY"]
    assert s.to_dict()["income"][0] == {"key": "revenue_market", "amount": 120_000, "kind": "line"}


def test_each_subtotal_is_the_sum_of_the_lines_above_it():
    s = statements(hand_row())
    lines = [x.amount for x in s.income]
    keys = [x.key for x in s.income]
    assert s.amount("income", "operating_expenses") == sum(lines[keys.index("gross_profit") + 1:keys.index("operating_expenses")])
    flows = [x for x in s.cash_flow]
    ops = sum(x.amount for x in flows[:[x.key for x in flows].index("operating_cash_flow")])
    assert ops == s.amount("cash_flow", "operating_cash_flow")


@pytest.fixture(scope="module")
def played():
    """classroom-v2 (3,000 customers) with a reckless bot that goes bankrupt, and instructor adjustments."""
    sc = load_scenario("classroom-v2", overrides={"market.customers": 3000, "market.track_customers": 10})
    m = CRMModel(sc, seed=11, strategies=["balanced", "reckless", "premium", "relationship", "price_cutter", "retention"])
    while not m.finished:
        if m.period == 2:
            m.adjust(0, 5000)
            m.adjust(2, -2500)
        m.step()
    return m


def test_the_statements_tie_out_for_every_firm_and_period(played):
    """The cash flow ends at the ledger's cash, the income statement's profits are the ledger's, the balance sheet
    balances, and equity moves from the last period's by the net profit and the adjustment."""
    sc = played.scenario
    assert any(r["bankrupt"] for r in played.results[-1].firm_rows), "the test wants a bankruptcy"
    for firm in range(sc.firms.count):
        equity = sc.firms.cash - sc.firms.debt
        for result, s in zip(played.results, statements_history(played.results, firm, sc)):
            ledger, row = result.ledgers[firm], result.firm_rows[firm]
            assert s.amount("cash_flow", "cash_end") == pytest.approx(ledger.cash_end, abs=TO_THE_CENT) == pytest.approx(row["cash"])
            assert s.amount("income", "operating_profit") == pytest.approx(ledger.operating_profit, abs=TO_THE_CENT)
            assert s.amount("income", "net_profit") == pytest.approx(ledger.net_profit, abs=TO_THE_CENT)
            assert s.amount("cash_flow", "operating_cash_flow") == pytest.approx(ledger.net_profit, abs=TO_THE_CENT)
            assert s.amount("balance", "total_assets") == pytest.approx(s.amount("balance", "total_liabilities_and_equity"), abs=TO_THE_CENT)
            assert s.amount("balance", "equity") == pytest.approx(row["equity"], abs=TO_THE_CENT)
            assert s.amount("equity_change", "equity_start") == pytest.approx(equity, abs=TO_THE_CENT)
            assert s.amount("equity_change", "equity_end") == pytest.approx(row["equity"], abs=TO_THE_CENT)
            equity = row["equity"]
    assert statements(played.results[1].firm_rows[0]).amount("cash_flow", "adjustment") == 5000


def test_the_memo_lists_the_bonds_pledged_on_contracts_won(played):
    """A contract won this period is delivered next period; its bond (2% x price x volume) stays pledged till then."""
    sc = played.scenario
    for result in played.results:
        for o in result.tenders:
            if o.winner is None or result.firm_rows[o.winner]["bankrupt"]:
                continue
            win = next(b for b in o.bids if b.won)
            memo = period_statements(result, o.winner, sc).memo
            assert memo["bonds_pledged"] >= 0.02 * win.price * o.tender.volume - TO_THE_CENT
            mine = [(next(b for b in x.bids if b.won), x.tender) for x in result.tenders if x.winner == o.winner]
            assert memo["contracts"] == len(mine)
            assert memo["bonds_pledged"] == pytest.approx(sum(0.02 * b.price * t.volume for b, t in mine))
            assert memo["order_book"] == pytest.approx(sum(b.price * t.volume for b, t in mine))
            return
    pytest.fail("no contract was won")
