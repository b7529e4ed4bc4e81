"""Accounts: each firm's ledger for a period, emergency loans and bankruptcy.

The cash identity holds exactly for every firm and period:
cash_end = cash_start + inflows - outflows + adjustment + borrowing - repayment + emergency_loan.
(`adjustment` is an instructor's logged bonus or penalty; zero in bot games.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter

from crmsim.scenarios.schema import Costs
from crmsim.sim import libm
from crmsim.sim.decisions import Decision
from crmsim.sim.state import FirmState

INFLOWS = ("revenue_market", "revenue_contracts")
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
OPERATING_COSTS = tuple(o for o in OUTFLOWS if o != "interest")
MAX_ADJUSTMENT = 1e9  # largest instructor bonus or penalty, in yuan either way


@dataclass(frozen=True)
class Ledger:
    """One firm's cash flows in one period."""

    cash_start: float
    revenue_market: float = 0.0
    revenue_contracts: float = 0.0
    cost_of_goods: float = 0.0
    salaries: float = 0.0
    hiring: float = 0.0
    severance: float = 0.0
    service_cost: float = 0.0
    care: float = 0.0
    advertising: float = 0.0
    cultivation: float = 0.0
    research: float = 0.0  # market research fees (市场调研)
    retention: float = 0.0  # retention budget aimed at the customers the churn warning flags
    bonds_kept: float = 0.0
    penalties: float = 0.0
    interest: float = 0.0
    adjustment: float = 0.0
    borrowing: float = 0.0
    repayment: float = 0.0
    emergency_loan: float = 0.0

    @property
    def revenue(self) -> float:
        return self.revenue_market + self.revenue_contracts

    @property
    def operating_costs(self) -> float:
        return sum(_operating_lines(self))

    @property
    def operating_profit(self) -> float:
        return self.revenue - self.operating_costs

    @property
    def net_profit(self) -> float:
        return self.operating_profit - self.interest

    @property
    def cash_before_emergency(self) -> float:
        inflow = sum(_inflow_lines(self))
        outflow = sum(_outflow_lines(self))
        return self.cash_start + inflow - outflow + self.adjustment + self.borrowing - self.repayment

    @property
    def cash_end(self) -> float:
        return self.cash_before_emergency + self.emergency_loan

    def to_dict(self) -> dict[str, float]:
        return {"cash_start": self.cash_start, **self.flows(), "cash_end": self.cash_end}

    def flows(self) -> dict[str, float]:
        """The lines after ``cash_start``, in order, then revenue, operating costs, operating and net profit: the
        firm table's ledger columns (:meth:`to_dict` without the cash at either end)."""
        d = dict(zip(FLOW_FIELDS, _flow_lines(self)))
        revenue, costs = self.revenue, self.operating_costs  # the properties' values, each summed once
        d.update(
            revenue=revenue,
            operating_costs=costs,
            operating_profit=revenue - costs,
            net_profit=(revenue - costs) - self.interest,
        )
        return d


#: the ledger's lines, in order (the firm table's columns)
LEDGER_FIELDS = tuple(f.name for f in fields(Ledger))
FLOW_FIELDS = tuple(k for k in LEDGER_FIELDS if k != "cash_start")  # every line but the cash at the start
# each reads its lines as one tuple, in the order above, for sum() to add left to right as before
_flow_lines = attrgetter(*FLOW_FIELDS)
_inflow_lines = attrgetter(*INFLOWS)
_outflow_lines = attrgetter(*OUTFLOWS)
_operating_lines = attrgetter(*OPERATING_COSTS)


def interest_due(debt: float, emergency_debt: float, costs: Costs) -> float:
    """Interest for the period on ordinary and emergency debt at the start of the period."""
    return costs.interest_rate * debt + costs.emergency_rate * emergency_debt


def credit_room(debt: float, emergency_debt: float, costs: Costs) -> float:
    """What is left of the credit line (``costs.credit_line``) after ordinary and emergency debt."""
    return max(0.0, costs.credit_line - debt - emergency_debt)


def emergency_loan(cash_before: float, debt_after: float, emergency_debt: float, costs: Costs) -> float:
    """Loan that covers a cash shortfall, up to what is left of the credit line."""
    if cash_before >= 0:
        return 0.0
    return min(-cash_before, credit_room(debt_after, emergency_debt, costs))


def is_insolvent(cash_end: float) -> bool:
    """A firm whose cash is still negative after the emergency loan is bankrupt."""
    return cash_end < 0


def service_intensity(level, costs: Costs):
    """The service level as a multiplier of ``costs.service_cost`` (per customer served): ``level ** service_cost_curve``.

    A curve of 1 (the default, and v1's rule) is linear and returns `level` itself, so old games keep their exact
    numbers; above 1 the last steps toward service 1.0 cost the most. `level` is a number or an array of firms' levels.
    """
    curve = costs.service_cost_curve
    return level if curve == 1 else libm.power(level, curve)


def staffing_costs(sales: int, service: int, hires: int, fires: int, costs: Costs) -> tuple[float, float, float]:
    """(salaries, hiring, severance) for a period, salaries on the staff after hires and fires."""
    return (
        sales * costs.salary_sales + service * costs.salary_service,
        hires * costs.hire_cost,
        fires * costs.severance,
    )


def decision_ledger(firm: FirmState, decision: Decision, costs: Costs, customers: float, cultivation: float,
                    research: float = 0.0) -> Ledger:
    """The ledger lines a decision fixes before any sale: staff, budgets, cultivation, interest and loans.

    The form's cost preview and the period's accounts both start from it.

    Args:
        firm: the firm at the start of the period.
        decision: its decision; salaries are paid on the staff after its hires and fires.
        costs: the scenario's costs.
        customers: customers served, for the service cost (the preview: now; the accounts: at the end of the period).
        cultivation: total cultivation spend (¥ budgets, or the sales activities' cost).
        research: the fees of the research the decision orders.
    """
    return Ledger(**decision_lines(firm, decision, costs, customers, cultivation, research))


def decision_lines(firm: FirmState, decision: Decision, costs: Costs, customers: float, cultivation: float,
                   research: float = 0.0) -> dict[str, float]:
    """:func:`decision_ledger`'s lines as keyword arguments of :class:`Ledger`, for a caller that adds the period's
    sales to them before building the ledger once."""
    salaries, hiring, severance = staffing_costs(
        firm.sales_staff + decision.hire_sales - decision.fire_sales,
        firm.service_staff + decision.hire_service - decision.fire_service,
        decision.hire_sales + decision.hire_service,
        decision.fire_sales + decision.fire_service,
        costs,
    )
    return dict(
        cash_start=firm.cash,
        salaries=salaries,
        hiring=hiring,
        severance=severance,
        service_cost=customers * costs.service_cost * service_intensity(decision.service_level, costs),
        care=decision.care_budget,
        advertising=decision.advertising_budget,
        cultivation=cultivation,
        research=research,
        retention=decision.retention_budget,
        interest=interest_due(firm.debt, firm.emergency_debt, costs),
        borrowing=decision.borrow,
        repayment=decision.repay,
    )
