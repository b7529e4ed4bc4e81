"""Notices: the engine's messages to a team, each a code, its numbers and an English sentence.

Every item the decision preview and the debrief counterfactuals report is a :class:`Notice`: a machine
``code``, a ``severity``, the ``params`` it is about (plain numbers and names) and, rendered from them,
an English ``message``. The English text of every code lives here, in :data:`MESSAGES`, and nowhere else;
a translation (the web layer's Chinese) keeps the same codes and ``%(name)s`` placeholders and formats
the same params (:data:`PARAM_KINDS` says what each one is: money, a share, a service level...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
#: error: the decision would be refused; warning: something will go wrong or cost the firm; info: a rule or an assumption
SEVERITIES = ("error", "warning", "info")

#: English text of every notice code, with ``%(param)s`` placeholders
MESSAGES: dict[str, str] = {
    # validation (refused at submit)
    "INVALID": "%(field)s: %(rule)s; got %(value)s",
    # a bid the tender office would void, whatever the other teams bid
    "VOID_LATE": "%(tender)s: the decision is late, so the bid would be void (LATE)",
    "VOID_OVER_BID_LIMIT": "%(tender)s: %(sales_staff)s sales staff can prepare %(limit)s bids a period; this one would be void (MALFORMED)",
    "VOID_SERVICE_BELOW_REQUIRED": "%(tender)s: promised service %(promised_service)s is below the required %(required_service)s (UNQUALIFIED)",
    "VOID_NOT_INVITED_STAGE": "%(tender)s is an invited tender for firms at the %(stage_needed)s stage or beyond; you are at the %(stage)s stage (UNQUALIFIED)",
    "VOID_NOT_INVITED_RELATIONSHIP": "%(tender)s is an invited tender for firms with a relationship of at least %(relationship_needed)s; yours is %(relationship)s (UNQUALIFIED)",
    "VOID_ABOVE_CAP": "%(tender)s: price %(price)s is above the price cap %(cap)s (ABOVE_CAP)",
    "VOID_BELOW_COST": "%(tender)s: price %(price)s is below your own cost of %(cost)s a unit at promised service %(promised_service)s (BELOW_COST)",
    "VOID_NO_CAPACITY": "%(tender)s: your load %(load)s plus this contract's %(need)s exceeds your service capacity %(capacity)s (NO_CAPACITY)",
    "VOID_NO_BOND": "%(tender)s: the bid bond %(bond)s exceeds the cash available for bonds, %(cash)s (NO_BOND)",
    # a bid that depends on the firm's own earlier tenders this period
    "RISK_NO_CAPACITY_IF_WON": "%(tender)s: if you also win %(earlier)s (opened before it), your load %(load)s plus this contract's %(need)s would exceed your capacity %(capacity)s (NO_CAPACITY)",
    "RISK_NO_BOND_IF_WON": "%(tender)s: if you also win %(earlier)s (opened before it), their bonds leave %(cash)s for bonds, less than this bond %(bond)s (NO_BOND)",
    # the rules that depend on the other teams' bids, with this tender's numbers
    "RULE_MIN_VALID_BIDS": "%(tender)s fails (流标) unless it gets at least %(min_valid_bids)s valid bids",
    "RULE_ABNORMALLY_LOW": "%(tender)s: a price below %(ratio)s of the other valid bids' mean is void (ABNORMALLY_LOW); yours, %(price)s, is void if they average more than %(others_mean_above)s",
    "RULE_LOWEST_PRICE": "%(tender)s goes to the lowest valid price (最低价中标); service and relationship do not score",
    "RULE_SCORING": "%(tender)s is scored %(w_price)s price, %(w_service)s service, %(w_relationship)s relationship: your bid scores %(service_score)s for service, %(relationship_score)s for relationship and at most %(price_score_max)s for price (if it is the lowest valid price)",
    # what the projection assumes
    "ASSUME_LAST_UNITS": "Sales assumed as last period: %(units)s units at your price %(price)s (last period's %(units_last)s units, times %(purchase_change)s for this period's market events); a new price changes sales too, which this projection leaves out",
    "ASSUME_EXPECTED_UNITS": "No sales yet: sales assumed at your customers' usual buying, %(units)s units at your price %(price)s",
    "ASSUME_CUSTOMERS": "Service cost assumed for your %(customers)s customers now",
    "ASSUME_NO_NEW_CONTRACTS": "Contracts won this period are delivered, and paid, next period: they are not in this period's projection",
    # warnings
    "UTILISATION_ABOVE_KNEE": "Service staff utilisation %(utilisation)s is above %(knee)s (load %(load)s, capacity %(capacity)s): you deliver %(quality_factor)s of your service level, %(delivered_quality)s",
    "NO_SERVICE_CAPACITY": "You have no service staff: your customers and contracts (load %(load)s) get the least service, %(quality_factor)s of your service level",
    "DELIVERY_SHORTFALL": "%(tender)s is delivered now with too few service staff: %(share)s of the volume at service %(service)s, penalty %(penalty)s",
    "CASH_NEGATIVE": "Cash would end the period at %(cash)s: an emergency loan of %(loan)s at %(rate)s a period would cover it (credit room %(room)s)",
    "BANKRUPTCY_RISK": "Cash would end the period at %(cash)s even after the emergency loan: the firm would be bankrupt (破产)",
    "PRICE_BELOW_UNIT_COST": "Your price %(price)s is below your unit cost %(unit_cost)s: every unit sold loses money",
    "COST_RISE_ANNOUNCED": "Unit cost rises from %(unit_cost)s to %(unit_cost_next)s in period %(period)s (announced): contracts won now are delivered at that cost",
    "SALES_HOURS": "Sales activities use %(hours)s of your %(hours_available)s sales hours (%(sales_staff)s sales staff)",
    "SALES_HOURS_OVER": "Sales activities need %(hours)s sales hours; your %(sales_staff)s sales staff have %(hours_available)s",
    "CULTIVATE_NO_TENDER_LEFT": "%(client)s: no tender is awarded after this period (%(reason)s), so cultivating it now helps no bid",
    "CULTIVATE_STAGE_OUT_OF_REACH": "%(client)s invites firms from the %(stage_needed)s stage; you are at the %(stage)s stage and rise at most one stage a period, so you cannot bid on its tenders before the last tenders (period %(last_period)s)",
    "CULTIVATE_STAGE_TOO_LATE": "%(client)s invites firms from the %(stage_needed)s stage; you are at the %(stage)s stage and rise at most one stage a period: too late for its tender in period %(tender_period)s; the earliest period you can bid for it is %(earliest)s",
    "CULTIVATE_STAGE_NEEDED": "%(client)s invites firms from the %(stage_needed)s stage; you are at the %(stage)s stage: the earliest period you can bid for it is %(earliest)s",
    "CULTIVATE_RELATIONSHIP_NEEDED": "%(client)s invites firms with a relationship of at least %(relationship_needed)s; yours is %(relationship)s",
    # the financial statements
    "STATEMENT_CASH_BASIS": "Every flow is booked in cash in the period it happens (no receivables, payables, stock or depreciation), so the operating cash flow equals the net profit",
    "STATEMENT_EQUITY": "Equity is the firm's net cash: cash less debt and emergency debt. The model books no other assets or liabilities; staff, customers and client relationships are not on the balance sheet",
    # the debrief's counterfactuals
    "RESCORE_CAPACITY_BOND_UNCHECKED": "Your capacity and cash at the time were not given: the changed bid is not checked for NO_CAPACITY or NO_BOND",
    "RESCORE_COST_UNCHECKED": "Your unit cost at the time was not given: the changed bid is not checked for BELOW_COST",
    "RESCORE_RELATIONSHIP_UNKNOWN": "The relationship of %(firms)s was not published (their bids were void): scored with relationship 0",
    "RESCORE_TIE_BY_LOT": "The totals tie and so do the prices: the lot is drawn with a fixed generator, which may differ from the real draw",
    "RESCORE_OTHER_TENDERS": "Only this tender is re-run: a different result here could also have changed your capacity and cash for the tenders opened after it",
    "REPLAY_BOTS_REACT": "Bots %(bots)s decide again after period %(period)s from what they observe; the teams' decisions are kept as logged",
    "REPLAY_DECISION_ADJUSTED": "Period %(period)s: %(firm_name)s's logged decision no longer fits the changed game; %(fields)s left at their standing values",
    "REPLAY_BANKRUPT_SKIPPED": "Period %(period)s: %(firms)s went bankrupt in the changed game, so their logged decisions are not replayed",
}

#: what each param is, so that every language formats it alike
PARAM_KINDS: dict[str, str] = {
    # money (¥)
    "price": "money", "cap": "money", "cost": "money", "bond": "money", "cash": "money", "loan": "money", "room": "money",
    "penalty": "money", "unit_cost": "money", "unit_cost_next": "money", "others_mean_above": "money",
    # shares and rates, shown as percentages
    "utilisation": "percent", "knee": "percent", "quality_factor": "percent", "share": "percent", "ratio": "percent",
    "rate": "percent", "w_price": "percent", "w_service": "percent", "w_relationship": "percent", "purchase_change": "percent",
    # service levels and relationships in [0, 1]
    "promised_service": "level", "required_service": "level", "service": "level", "delivered_quality": "level",
    "relationship": "level", "relationship_needed": "level",
    # tender score points
    "service_score": "points", "relationship_score": "points", "price_score_max": "points",
    # counts and quantities
    "units": "number", "units_last": "number", "customers": "number", "load": "number", "need": "number",
    "capacity": "number", "hours": "number", "hours_available": "number", "sales_staff": "count", "limit": "count",
    "min_valid_bids": "count", "period": "count", "last_period": "count", "tender_period": "count", "earliest": "count",
    # names and words
    "tender": "text", "client": "text", "stage": "text", "stage_needed": "text", "field": "text", "rule": "text",
    "value": "value", "reason": "text", "firm_name": "text", "earlier": "list", "firms": "list", "bots": "list", "fields": "list",
}


def _trim(text: str) -> str:
    """A decimal without trailing zeros: "0.40" -> "0.4", "12.0" -> "12"."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_param(name: str, value: Any) -> str:
    """A param as English text: ¥ with thousands separators, percentages, levels to at most two decimals and
    points to at most one (no trailing zeros: 0.4, not 0.40), lists joined."""
    kind = PARAM_KINDS.get(name, "value")
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "value":
        return repr(value)
    if kind == "text":
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return "∞" if x > 0 else "-∞" if x < 0 else "n/a"
    if kind == "money":
        return f"-¥{-x:,.2f}" if x < 0 else f"¥{x:,.2f}"
    if kind == "percent":
        return f"{100 * x:.0f}%" if abs(100 * x - round(100 * x)) < 1e-9 else f"{100 * x:.1f}%"
    if kind == "level":
        return _trim(f"{x:.2f}")
    if kind == "points":
        return _trim(f"{x:.1f}")
    if kind == "count":
        return f"{x:.0f}"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.1f}"


def message(code: str, params: Mapping[str, Any]) -> str:
    """The English sentence of a notice (:data:`MESSAGES`), its params formatted by :func:`format_param`."""
    return MESSAGES[code] % {k: format_param(k, v) for k, v in params.items()}


@dataclass(frozen=True)
class Notice:
    """One thing the engine tells a team: a code, how serious, its numbers, the form field it belongs to."""

    code: str
    severity: Severity
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    field: str | None = None  # e.g. "price", "bids.mengniu-01", "activities.haier"; None for the whole decision

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise ValueError(f"code: unknown notice code; got {self.code!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity: must be one of {', '.join(SEVERITIES)}; got {self.severity!r}")

    @property
    def message(self) -> str:
        return message(self.code, self.params)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: code, severity, field, params (numbers as floats, non-finite ones as None) and the English message."""
        return {"code": self.code, "severity": self.severity, "field": self.field, "params": json_ready(dict(self.params)),
                "message": self.message}


def json_ready(obj: Any) -> Any:
    """Plain JSON values: mappings and sequences copied, NumPy scalars to Python, NaN and infinities to None,
    objects with ``to_dict`` through it."""
    if hasattr(obj, "to_dict"):
        return json_ready(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) or (isinstance(obj, Sequence) and not isinstance(obj, (str, bytes))):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
