"""A firm's decision for one period, and its validation.

Validation checks every field and returns every problem at once; each names
the field, the rule and the value given. A rejected decision changes nothing:
validation reads the game state, never writes it.

Bids (docs/rules.md section 3.1): what the form can know is refused here, at
submit: a bid on an unknown tender, on a tender that is no longer open (LATE),
a malformed bid, and more bids than the sales staff can prepare
(:meth:`DecisionContext.bid_limit`, the only bid limit). What depends on the
other bids or on the period's outcome is voided at the award by the tender
office (crmsim.sim.tenders).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

import numpy as np

ClientId = str
TenderId = str
Record = TypeVar("Record")  # a frozen dataclass

MAX_MONEY = 1e12  # no single spend, loan or price in a classroom game is larger
MAX_STAFF_CHANGE = 100_000
TIER_NAMES = ("A", "B", "C")


def frozen_record(cls: type[Record], values: dict[str, Any]) -> Record:
    """``cls(**values)`` for a frozen dataclass with no ``__post_init__``, `values` holding every field in field
    order: the same instance, its fields set in one step rather than by the generated ``__init__``'s
    ``object.__setattr__`` per field (a few µs for twenty fields; the bots' turn builds three such per seat)."""
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def bid_limit(sales_after: int, bids_per_sales_staff: int) -> int:
    """The bid limit: tenders `sales_after` sales staff (after the period's hires and fires) can bid in a period.
    Validation reads it through :meth:`DecisionContext.bid_limit`, the tender office directly."""
    return sales_after * bids_per_sales_staff


@dataclass(frozen=True)
class Bid:
    """A sealed bid on one tender: unit price and promised service level."""

    price: float
    promised_service: float


@dataclass(frozen=True)
class ResearchOrder:
    """The market research (市场调研) a firm buys this period (docs/rules.md section 7.3)."""

    rivals: tuple[ClientId, ...] = ()  # clients: every rival's relationship band with each
    survey: int = 0  # own customers to survey (0: none)
    forecast: bool = False  # the tender forecast

    @property
    def empty(self) -> bool:
        return not (self.rivals or self.survey or self.forecast)

    def to_dict(self) -> dict[str, Any]:
        return {"rivals": list(self.rivals), "survey": self.survey, "forecast": self.forecast}


NO_RESEARCH = ResearchOrder()


@dataclass(frozen=True)
class Decision:
    """What one firm decides for one period.

    Standing fields (kept when a firm submits nothing): price, service_level,
    care_budget, care_split, advertising_budget, retention_budget, cultivation.
    One-off fields (reset to zero): hires, fires, bids, borrow, repay, activities, research.
    """

    price: float
    service_level: float
    care_budget: float = 0.0
    advertising_budget: float = 0.0
    hire_sales: int = 0
    fire_sales: int = 0
    hire_service: int = 0
    fire_service: int = 0
    cultivation: Mapping[ClientId, float] = field(default_factory=dict)
    bids: Mapping[TenderId, Bid] = field(default_factory=dict)
    borrow: float = 0.0
    repay: float = 0.0
    late: bool = False  # set by the caller when the decision arrived after the deadline
    # the second version's levers (docs/rules.md section 7); their defaults change nothing
    activities: Mapping[ClientId, tuple[str, ...]] = field(default_factory=dict)  # lifecycle cultivation: client -> activities
    research: ResearchOrder = NO_RESEARCH
    retention_budget: float = 0.0  # aimed at the customers the churn warning flags
    care_split: Mapping[str, float] = field(default_factory=dict)  # tier -> share of the care budget (empty: per customer)

    def standing(self) -> Decision:
        """The decision a silent firm keeps next period: standing fields only."""
        return Decision(
            price=self.price,
            service_level=self.service_level,
            care_budget=self.care_budget,
            advertising_budget=self.advertising_budget,
            cultivation=dict(self.cultivation),
            retention_budget=self.retention_budget,
            care_split=dict(self.care_split),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (the decision log stores this)."""
        d = asdict(self)
        d["cultivation"] = dict(self.cultivation)
        d["bids"] = {t: {"price": b.price, "promised_service": b.promised_service} for t, b in self.bids.items()}
        d["activities"] = {c: list(a) for c, a in self.activities.items()}
        d["research"] = self.research.to_dict()
        d["care_split"] = dict(self.care_split)
        return d


DECISION_FIELDS = tuple(f.name for f in fields(Decision))
_FIELD_SET = frozenset(DECISION_FIELDS)
_BID_KEYS = frozenset({"price", "promised_service"})
MAPPING = (dict, Mapping)  # isinstance(x, MAPPING) is isinstance(x, Mapping), without the ABC's look-up for a dict


#: the rule a bid on a tender id not published (yet) breaks: a forecast's tender opens in its own period
UNPUBLISHED_TENDER = "not a published tender (a scheduled one opens in its period)"


def unknown_field_rule(allowed: Sequence[str]) -> str:
    """The rule a decision field that is not one of `allowed` breaks (the caller's allowed fields, listed)."""
    return f"unknown field; allowed: {', '.join(allowed)}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submitted decision."""

    field: str
    rule: str
    value: Any

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}; got {self.value!r}"


class DecisionError(ValueError):
    """A decision was rejected; `problems` lists every reason."""

    def __init__(self, problems: list[Problem], firm: str | None = None):
        self.problems = problems
        self.firm = firm
        who = f"decision of {firm}" if firm else "decision"
        super().__init__(f"{who} rejected:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class DecisionContext:
    """What validation needs to know about the firm and the game right now."""

    price_cap: float
    sales_staff: int
    service_staff: int
    max_hire: int
    clients_per_sales_staff: int
    bids_per_sales_staff: int
    client_ids: frozenset[ClientId]
    tender_ids: frozenset[TenderId]  # every tender published in this game so far
    open_tender_ids: frozenset[TenderId]  # the tenders open this period (their deadline is its end)
    cash: float
    debt: float
    credit_line: float
    previous: Decision  # the standing decision, for fields left out
    emergency_debt: float = 0.0
    # the second version's levers: what the scenario offers and where the firm stands
    cultivation_mode: str = "spend"  # "spend" (¥ per client) or "lifecycle" (sales activities)
    hours_per_sales_staff: float = 0.0
    activity_hours: Mapping[str, float] = field(default_factory=dict)  # activity -> sales hours
    activity_stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # activity -> stages where it counts
    stages: Mapping[ClientId, str] = field(default_factory=dict)  # the firm's stage with each client
    research_offered: bool = False
    survey_max: int = 0
    retention_offered: bool = False
    tier_care: bool = False

    @property
    def borrow_room(self) -> float:
        """Most the firm may borrow: what the credit line leaves after ordinary and emergency debt."""
        return max(0.0, self.credit_line - self.debt - self.emergency_debt)

    @property
    def repay_limit(self) -> float:
        """Most the firm may repay: its whole debt, out of the cash it has."""
        return min(self.debt + self.emergency_debt, max(0.0, self.cash))

    def max_fire(self, kind: str) -> int:
        """Staff of `kind` ("sales" or "service") the firm can let go."""
        return self.sales_staff if kind == "sales" else self.service_staff

    def client_limit(self, sales_after: int) -> int:
        """Key clients `sales_after` sales staff can cultivate."""
        return sales_after * self.clients_per_sales_staff

    def bid_limit(self, sales_after: int) -> int:
        """Tenders `sales_after` sales staff can bid in a period (:func:`bid_limit`)."""
        return bid_limit(sales_after, self.bids_per_sales_staff)

    def hours_limit(self, sales_after: int) -> float:
        """Sales hours (工时) `sales_after` sales staff have for activities in a period."""
        return sales_after * self.hours_per_sales_staff


class _Checker:
    """Collects problems while converting raw values."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, name: str, rule: str, value: Any) -> None:
        self.problems.append(Problem(name, rule, value))

    def number(self, name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float | None:
        x = value if type(value) is float else self._as_float(name, value)  # a float, as bots and JSON send, as it is
        if x is None:
            return None
        if not math.isfinite(x):
            self.fail(name, "must be a finite number", value)
            return None
        if (x <= lo if lo_open else x < lo) or x > hi:
            bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
            self.fail(name, f"must be {bound} and <= {hi:g}", value)
            return None
        return x

    def _as_float(self, name: str, value: Any) -> float | None:
        """Anything but a float: a number (not a bool) or a numeric string as a float, else None and a problem."""
        if type(value) is not int and (isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, str))):
            self.fail(name, "must be a number", value)
            return None
        try:
            return float(value.strip()) if isinstance(value, str) else float(value)
        except (ValueError, OverflowError):
            self.fail(name, "must be a number", value)
            return None

    def integer(self, name: str, value: Any, lo: int, hi: int) -> int | None:
        if type(value) is int and lo <= value <= hi:  # an int in range, as bots and JSON send, as it is
            return value
        x = self.number(name, value, lo, hi)
        if x is None:
            return None
        if x != int(x):
            self.fail(name, "must be a whole number", value)
            return None
        return int(x)


def validate_decision(raw: Mapping[str, Any] | Decision, ctx: DecisionContext) -> Decision:
    """Check a submitted decision against the rules and the firm's position.

    Fields left out keep the standing decision (price, service, budgets,
    cultivation) or default to zero (hires, fires, bids, loans).

    Args:
        raw: a mapping (form or JSON data) or a Decision built in code.
        ctx: the firm's position, from :func:`crmsim.sim.engine.decision_context`.

    Returns:
        The validated Decision.

    Raises:
        DecisionError: listing every problem (field, rule, value).
    """
    if isinstance(raw, Decision):
        raw = _as_raw(raw)
    c = _Checker()
    if not isinstance(raw, MAPPING):
        raise DecisionError([Problem("(decision)", "must be a mapping of field names to values", raw)])
    if not _FIELD_SET.issuperset(raw):
        for key in raw:
            if key not in _FIELD_SET:
                c.fail(str(key), unknown_field_rule(DECISION_FIELDS), raw[key])
    prev = ctx.previous

    def get(name: str, default: Any) -> Any:
        value = raw.get(name)
        return default if value is None else value

    price = c.number("price", get("price", prev.price), 0, min(ctx.price_cap, MAX_MONEY), lo_open=True)
    service = c.number("service_level", get("service_level", prev.service_level), 0, 1)
    care = c.number("care_budget", get("care_budget", prev.care_budget), 0, MAX_MONEY)
    ads = c.number("advertising_budget", get("advertising_budget", prev.advertising_budget), 0, MAX_MONEY)
    hire_sales = c.integer("hire_sales", get("hire_sales", 0), 0, ctx.max_hire)
    hire_service = c.integer("hire_service", get("hire_service", 0), 0, ctx.max_hire)
    fire_sales = c.integer("fire_sales", get("fire_sales", 0), 0, ctx.max_fire("sales"))
    fire_service = c.integer("fire_service", get("fire_service", 0), 0, ctx.max_fire("service"))
    if hire_sales and fire_sales:
        c.fail("fire_sales", "cannot hire and fire sales staff in the same period", fire_sales)
    if hire_service and fire_service:
        c.fail("fire_service", "cannot hire and fire service staff in the same period", fire_service)
    sales_after = ctx.sales_staff + (hire_sales or 0) - (fire_sales or 0)

    cultivation: dict[ClientId, float] = {}
    raw_cult = get("cultivation", prev.cultivation)
    if not isinstance(raw_cult, MAPPING):
        c.fail("cultivation", "must be a mapping of client id to spend", raw_cult)
    else:
        for cid, spend in raw_cult.items():
            name = f"cultivation.{cid}"
            if cid not in ctx.client_ids:
                c.fail(name, f"unknown client; clients: {', '.join(sorted(ctx.client_ids))}", cid)
                continue
            x = c.number(name, spend, 0, MAX_MONEY)
            if x is not None and x > 0:
                cultivation[cid] = x
        limit = ctx.client_limit(sales_after)
        if len(cultivation) > limit:
            c.fail(
                "cultivation",
                f"{sales_after} sales staff can cultivate at most {limit} clients",
                len(cultivation),
            )

    if ctx.cultivation_mode == "lifecycle" and cultivation:
        c.fail("cultivation", "this scenario cultivates key clients through sales activities (activities), not a budget", dict(cultivation))
    activities = _check_activities(c, get("activities", {}), ctx, sales_after)
    research = _check_research(c, get("research", None), ctx)
    retention = c.number("retention_budget", get("retention_budget", prev.retention_budget), 0, MAX_MONEY)
    if retention and not ctx.retention_offered:
        c.fail("retention_budget", "this scenario offers no retention budget (must be 0)", retention)
    care_split = _check_care_split(c, get("care_split", prev.care_split), ctx)

    bids: dict[TenderId, Bid] = {}
    raw_bids = get("bids", {})
    if not isinstance(raw_bids, MAPPING):
        c.fail("bids", "must be a mapping of tender id to {price, promised_service}", raw_bids)
    else:
        for tid, bid in raw_bids.items():
            name = f"bids.{tid}"
            if tid not in ctx.open_tender_ids:
                why = UNPUBLISHED_TENDER if tid not in ctx.tender_ids else "the tender is closed (LATE)"
                c.fail(name, f"{why}; open now: {', '.join(sorted(ctx.open_tender_ids)) or 'none'}", tid)
                continue
            if isinstance(bid, Bid):
                bid = {"price": bid.price, "promised_service": bid.promised_service}
            if not isinstance(bid, MAPPING):
                c.fail(name, "must be {price, promised_service}", bid)
                continue
            if not _BID_KEYS.issuperset(bid):
                c.fail(name, "allowed keys are price and promised_service", sorted(map(str, set(bid) - _BID_KEYS)))
            bp = c.number(f"{name}.price", bid.get("price"), 0, MAX_MONEY, lo_open=True)
            bs = c.number(f"{name}.promised_service", bid.get("promised_service"), 0, 1)
            if bp is not None and bs is not None:
                bids[tid] = Bid(bp, bs)
        limit = ctx.bid_limit(sales_after)
        if len(raw_bids) > limit:
            c.fail("bids", f"{sales_after} sales staff can bid at most {limit} tenders per period", len(raw_bids))

    borrow = c.number("borrow", get("borrow", 0), 0, ctx.borrow_room)
    repay = c.number("repay", get("repay", 0), 0, ctx.repay_limit)
    late = get("late", False)
    if not isinstance(late, bool):
        c.fail("late", "must be true or false", late)
    if c.problems:
        raise DecisionError(c.problems)
    return frozen_record(Decision, {
        "price": price,
        "service_level": service,
        "care_budget": care,
        "advertising_budget": ads,
        "hire_sales": hire_sales,
        "fire_sales": fire_sales,
        "hire_service": hire_service,
        "fire_service": fire_service,
        "cultivation": cultivation,
        "bids": bids,
        "borrow": borrow,
        "repay": repay,
        "late": late,
        "activities": activities,
        "research": research,
        "retention_budget": retention or 0.0,
        "care_split": care_split,
    })


def _check_activities(c: _Checker, raw: Any, ctx: DecisionContext, sales_after: int) -> dict[ClientId, tuple[str, ...]]:
    """Sales activities per client (lifecycle cultivation): known clients and activities, each at most once
    per client, each at a stage where it counts, within the sales staff's hours (docs/rules.md section 7.1)."""
    if not isinstance(raw, MAPPING):
        c.fail("activities", "must be a mapping of client id to a list of activities", raw)
        return {}
    if raw and ctx.cultivation_mode != "lifecycle":
        c.fail("activities", "this scenario cultivates key clients with a budget per client (cultivation), not sales activities", dict(raw))
        return {}
    out: dict[ClientId, tuple[str, ...]] = {}
    hours = 0.0
    for cid, acts in raw.items():
        name = f"activities.{cid}"
        if cid not in ctx.client_ids:
            c.fail(name, f"unknown client; clients: {', '.join(sorted(ctx.client_ids))}", cid)
            continue
        if isinstance(acts, str):
            acts = [acts]
        if not isinstance(acts, (list, tuple)):
            c.fail(name, "must be a list of activities", acts)
            continue
        stage = ctx.stages.get(cid, "potential")
        kept: list[str] = []
        for a in acts:
            if a not in ctx.activity_hours:
                c.fail(name, f"unknown activity; activities: {', '.join(ctx.activity_hours)}", a)
            elif a in kept:
                c.fail(name, "each activity at most once per client and period", a)
            elif stage not in ctx.activity_stages[a]:
                c.fail(f"{name}.{a}", f"{a} counts at the {' or '.join(ctx.activity_stages[a])} stage; {cid} is at the {stage} stage", a)
            else:
                kept.append(a)
                hours += ctx.activity_hours[a]
        if kept:
            out[cid] = tuple(kept)
    limit = ctx.hours_limit(sales_after)
    if hours > limit + 1e-9:
        c.fail("activities", f"need {hours:g} sales hours; {sales_after} sales staff have {limit:g} ({ctx.hours_per_sales_staff:g} each)", hours)
    return out


def _check_research(c: _Checker, raw: Any, ctx: DecisionContext) -> ResearchOrder:
    """A research order: known clients, a survey of 0..survey_max customers, the forecast or not."""
    if raw is None or (isinstance(raw, Mapping) and not raw):
        return NO_RESEARCH
    if isinstance(raw, ResearchOrder):
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        c.fail("research", "must be {rivals: [client ids], survey: customers, forecast: true/false}", raw)
        return NO_RESEARCH
    extra = set(raw) - {"rivals", "survey", "forecast"}
    if extra:
        c.fail("research", "allowed keys are rivals, survey and forecast", sorted(map(str, extra)))
    rivals_raw = raw.get("rivals") or []
    rivals: list[ClientId] = []
    if not isinstance(rivals_raw, (list, tuple)):
        c.fail("research.rivals", "must be a list of client ids", rivals_raw)
    else:
        for cid in rivals_raw:
            if cid not in ctx.client_ids:
                c.fail("research.rivals", f"unknown client; clients: {', '.join(sorted(ctx.client_ids))}", cid)
            elif cid not in rivals:
                rivals.append(cid)
    survey = c.integer("research.survey", raw.get("survey") or 0, 0, max(ctx.survey_max, 0))
    forecast = raw.get("forecast", False)
    if not isinstance(forecast, bool):
        c.fail("research.forecast", "must be true or false", forecast)
        forecast = False
    order = ResearchOrder(tuple(rivals), survey or 0, forecast)
    if not order.empty and not ctx.research_offered:
        c.fail("research", "this scenario offers no market research", order.to_dict())
        return NO_RESEARCH
    return order


def _check_care_split(c: _Checker, raw: Any, ctx: DecisionContext) -> dict[str, float]:
    """Shares of the care budget by ABC tier, adding up to 1 (empty: care spread per customer)."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        c.fail("care_split", "must be a mapping of tier (A, B, C) to a share of the care budget", raw)
        return {}
    if not ctx.tier_care:
        c.fail("care_split", "this scenario does not split care by tier", dict(raw))
        return {}
    out: dict[str, float] = {}
    for tier, share in raw.items():
        if tier not in TIER_NAMES:
            c.fail(f"care_split.{tier}", "unknown tier; tiers: A, B, C", tier)
            continue
        x = c.number(f"care_split.{tier}", share, 0, 1)
        if x is not None:
            out[tier] = x
    if out and abs(sum(out.values()) - 1.0) > 1e-6:
        c.fail("care_split", "shares must add up to 1", round(sum(out.values()), 6))
    return {t: out[t] for t in TIER_NAMES if out.get(t)}


def _as_raw(d: Decision) -> dict[str, Any]:
    """A Decision built in code, as a raw mapping for validation (wrongly typed parts are kept for the checker)."""
    raw = {f.name: getattr(d, f.name) for f in fields(Decision)}
    if isinstance(d.research, ResearchOrder):
        raw["research"] = d.research.to_dict()
    if isinstance(d.bids, Mapping):
        raw["bids"] = {
            t: {"price": b.price, "promised_service": b.promised_service} if isinstance(b, Bid) else b for t, b in d.bids.items()
        }
    return raw


def decision_from_dict(d: Mapping[str, Any]) -> Decision:
    """Rebuild a Decision stored by :meth:`Decision.to_dict` (no validation)."""
    kw = {k: v for k, v in d.items() if k in DECISION_FIELDS}
    kw["bids"] = {t: Bid(float(b["price"]), float(b["promised_service"])) for t, b in d.get("bids", {}).items()}
    kw["cultivation"] = dict(d.get("cultivation", {}))
    kw["activities"] = {c: tuple(a) for c, a in (d.get("activities") or {}).items()}
    r = d.get("research") or {}
    kw["research"] = ResearchOrder(tuple(r.get("rivals", ())), int(r.get("survey", 0)), bool(r.get("forecast", False)))
    kw["care_split"] = dict(d.get("care_split") or {})
    return Decision(**kw)
