"""Financial statements of a firm for a period: income statement, cash flow statement and balance sheet.

Read from the firm's ledger as its row of the firm table holds it (docs/rules.md sections 9 and 10), so
they can be drawn for any period from stored rows. The model books every flow in cash in the period it
happens (no receivables, payables, stock or depreciation): the operating cash flow equals the net profit,
and equity is the firm's net cash, cash less debt and emergency debt. Amounts are signed: money in and
revenues are positive, money out and costs negative, and each subtotal is the sum of the lines above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crmsim.scenarios.schema import Scenario
from crmsim.sim.accounts import OPERATING_COSTS
from crmsim.sim.engine import PeriodResult
from crmsim.sim.notices import Notice, json_ready
from crmsim.sim.state import Contract
from crmsim.sim.tenders import award_contract

LineKind = Literal["line", "subtotal", "total"]
#: operating expenses below the gross profit, in the ledger's order (cost of goods sits above it)
EXPENSES = tuple(k for k in OPERATING_COSTS if k != "cost_of_goods")


@dataclass(frozen=True)
class Line:
    """One line of a statement: a key (a ledger line's name where it is one), a signed amount and its kind."""

    key: str
    amount: float
    kind: LineKind = "line"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "amount": self.amount, "kind": self.kind}


@dataclass(frozen=True)
class Statements:
    """A firm's statements for one period.

    Attributes:
        income: revenue, cost of goods, gross profit, operating expenses, operating profit, interest, net profit.
        cash_flow: operating receipts and payments, the instructor's adjustment, financing, the net change,
            cash at the start and at the end of the period.
        balance: at the end of the period: cash (the only asset), debt, emergency debt, equity.
        equity_change: equity at the start, the net profit, the adjustment, equity at the end.
        memo: bonds pledged on contracts not yet delivered (part of the cash, returned on delivery), the number
            of those contracts and their value (the order book).
        notes: what the figures mean (the cash basis, what equity is).
    """

    period: int
    firm: int
    name: str
    income: tuple[Line, ...]
    cash_flow: tuple[Line, ...]
    balance: tuple[Line, ...]
    equity_change: tuple[Line, ...]
    memo: dict[str, float]
    notes: tuple[Notice, ...]

    def amount(self, statement: str, key: str) -> float:
        """The amount of line `key` of `statement` ("income", "cash_flow", "balance" or "equity_change")."""
        for line in getattr(self, statement):
            if line.key == key:
                return line.amount
        raise KeyError(f"{statement}.{key}")

    def to_dict(self) -> dict[str, Any]:
        return json_ready({
            "period": self.period, "firm": self.firm, "name": self.name,
            "income": [x.to_dict() for x in self.income], "cash_flow": [x.to_dict() for x in self.cash_flow],
            "balance": [x.to_dict() for x in self.balance], "equity_change": [x.to_dict() for x in self.equity_change],
            "memo": self.memo, "notes": [n.to_dict() for n in self.notes],
        })


def statements(row: Mapping[str, Any], contracts: Sequence[Contract] = ()) -> Statements:
    """The statements of the firm and period of `row` (a row of ``PeriodResult.firm_rows``, or one stored as JSON).

    Args:
        row: the firm's row: its ledger lines, ``cash_start`` and its books at the end of the period.
        contracts: the firm's contracts still to deliver at the end of the period (for the memo).
    """
    g = {k: float(row.get(k) or 0.0) for k in ("revenue_market", "revenue_contracts", "cost_of_goods", *EXPENSES, "interest",
                                               "adjustment", "borrowing", "repayment", "emergency_loan", "cash_start", "cash",
                                               "debt", "emergency_debt")}
    income = income_statement(g)
    return Statements(
        period=int(row["period"]),
        firm=int(row["firm"]),
        name=str(row.get("name", "")),
        income=income,
        cash_flow=cash_flow_statement(g),
        balance=balance_sheet(g),
        equity_change=equity_change(g, income[-1].amount),
        memo={"bonds_pledged": sum(c.bond for c in contracts), "contracts": float(len(contracts)),
              "order_book": sum(c.value for c in contracts)},
        notes=(Notice("STATEMENT_CASH_BASIS", "info"), Notice("STATEMENT_EQUITY", "info")),
    )


def income_statement(g: Mapping[str, float]) -> tuple[Line, ...]:
    """Revenue less cost of goods (gross profit), less operating expenses (operating profit), less interest (net profit)."""
    revenue = g["revenue_market"] + g["revenue_contracts"]
    gross = revenue - g["cost_of_goods"]
    expenses = sum(g[k] for k in EXPENSES)
    operating = gross - expenses
    return (
        Line("revenue_market", g["revenue_market"]),
        Line("revenue_contracts", g["revenue_contracts"]),
        Line("revenue", revenue, "subtotal"),
        Line("cost_of_goods", -g["cost_of_goods"]),
        Line("gross_profit", gross, "subtotal"),
        *(Line(k, -g[k]) for k in EXPENSES),
        Line("operating_expenses", -expenses, "subtotal"),
        Line("operating_profit", operating, "subtotal"),
        Line("interest", -g["interest"]),
        Line("net_profit", operating - g["interest"], "total"),
    )


def cash_flow_statement(g: Mapping[str, float]) -> tuple[Line, ...]:
    """Operating receipts and payments (interest included), the instructor's adjustment, financing, and cash
    from the start of the period to its end."""
    payments = ("cost_of_goods", *EXPENSES, "interest")
    operating = g["revenue_market"] + g["revenue_contracts"] - sum(g[k] for k in payments)
    financing = g["borrowing"] - g["repayment"] + g["emergency_loan"]
    change = operating + g["adjustment"] + financing
    return (
        Line("receipts_market", g["revenue_market"]),
        Line("receipts_contracts", g["revenue_contracts"]),
        *(Line(k, -g[k]) for k in payments),
        Line("operating_cash_flow", operating, "subtotal"),
        Line("adjustment", g["adjustment"]),
        Line("borrowing", g["borrowing"]),
        Line("repayment", -g["repayment"]),
        Line("emergency_loan", g["emergency_loan"]),
        Line("financing_cash_flow", financing, "subtotal"),
        Line("net_change_in_cash", change, "subtotal"),
        Line("cash_start", g["cash_start"]),
        Line("cash_end", g["cash_start"] + change, "total"),
    )


def balance_sheet(g: Mapping[str, float]) -> tuple[Line, ...]:
    """At the end of the period: cash is the only asset, debt and emergency debt the only liabilities, and
    equity what is left (the model's equity: cash - debt - emergency debt)."""
    liabilities = g["debt"] + g["emergency_debt"]
    equity = g["cash"] - liabilities
    return (
        Line("cash", g["cash"]),
        Line("total_assets", g["cash"], "total"),
        Line("debt", g["debt"]),
        Line("emergency_debt", g["emergency_debt"]),
        Line("total_liabilities", liabilities, "subtotal"),
        Line("equity", equity, "subtotal"),
        Line("total_liabilities_and_equity", liabilities + equity, "total"),
    )


def equity_change(g: Mapping[str, float], net_profit: float) -> tuple[Line, ...]:
    """Equity at the start of the period, plus the net profit and the instructor's adjustment, is equity at the end.

    The debts at the start are the end's less this period's borrowing and emergency loan, plus its repayment
    (a repayment clears emergency debt first, but the total falls by it either way).
    """
    debts_start = g["debt"] + g["emergency_debt"] - g["borrowing"] - g["emergency_loan"] + g["repayment"]
    start = g["cash_start"] - debts_start
    return (
        Line("equity_start", start),
        Line("net_profit", net_profit),
        Line("adjustment", g["adjustment"]),
        Line("equity_end", start + net_profit + g["adjustment"], "total"),
    )


def open_contracts(result: PeriodResult, firm: int, scenario: Scenario) -> list[Contract]:
    """The contracts `firm` won in the period of `result`: delivered next period, so still open
    at its end; none for a firm that went bankrupt (it defaulted on them)."""
    row = result.firm_rows[firm]
    if row["bankrupt"]:
        return []
    won = (award_contract(o, scenario, result.period) for o in result.tenders if o.winner == firm)
    return [c for c in won if c is not None]


def period_statements(result: PeriodResult, firm: int, scenario: Scenario) -> Statements:
    """The statements of `firm` for the period of `result`."""
    return statements(result.firm_rows[firm], open_contracts(result, firm, scenario))


def statements_history(results: Sequence[PeriodResult], firm: int, scenario: Scenario) -> list[Statements]:
    """The statements of `firm` for every resolved period, in order."""
    return [period_statements(r, firm, scenario) for r in results]
