"""Tests for sim/decisions.py: validating a firm's decision (docs/rules.md section 3, style principle 12).

A bad value is rejected with a message naming the field, the allowed range and
the value given; every problem is reported at once; a rejected submission
changes nothing. Property tests throw random and hostile decisions at
``CRMModel.submit`` and at ``resolve_period``.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, fields, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsim.scenarios import load_scenario
from crmsim.sim.decisions import (
    DECISION_FIELDS,
    MAX_MONEY,
    UNPUBLISHED_TENDER,
    Bid,
    Decision,
    DecisionContext,
    DecisionError,
    validate_decision,
)
from crmsim.sim.engine import check_decision, decision_context, initial_state, period_rng, resolve_period
from crmsim.sim.model import CRMModel
from crmsim.sim.observation import Observation
from crmsim.sim.tenders import LATE, MALFORMED

# ---------------------------------------------------------------------------
# a fixed context: 3 sales staff, 10 service staff, cash 300,000, debt 50,000,
# credit line 200,000 (room 150,000), 7 clients a-g, two published tenders

CLIENTS = frozenset("abcdefg")
PREVIOUS = Decision(price=100.0, service_level=0.6, care_budget=10_000.0, advertising_budget=8_000.0, cultivation={"a": 5_000.0})
CTX = DecisionContext(
    price_cap=200.0,
    sales_staff=3,
    service_staff=10,
    max_hire=50,
    clients_per_sales_staff=2,
    bids_per_sales_staff=2,
    client_ids=CLIENTS,
    tender_ids=frozenset({"a-01", "b-01", "c-01", "d-01", "e-01", "f-01", "g-01"}),
    open_tender_ids=frozenset({"a-01", "b-01", "c-01", "d-01", "e-01", "f-01", "g-01"}),
    cash=300_000.0,
    debt=50_000.0,
    credit_line=200_000.0,
    previous=PREVIOUS,
)


def problems(raw, ctx: DecisionContext = CTX):
    with pytest.raises(DecisionError) as exc:
        validate_decision(raw, ctx)
    return exc.value.problems


def fields_of(probs) -> list[str]:
    return [p.field for p in probs]


def test_a_validated_decision_is_the_frozen_decision_its_fields_make():
    """Validation sets every field at once (frozen_record): the same Decision the constructor builds, every
    field set in field order, and as frozen."""
    d = validate_decision({"price": 120.0, "hire_sales": 1, "bids": {"a-01": {"price": 90.0, "promised_service": 0.7}}}, CTX)
    assert list(vars(d)) == list(DECISION_FIELDS) == [f.name for f in fields(Decision)]
    assert d == Decision(**vars(d))
    assert repr(d) == repr(Decision(**vars(d)))
    with pytest.raises(FrozenInstanceError):
        d.price = 1.0
    for cls in (Decision, DecisionContext, Observation):  # the records built this way: no __post_init__ to skip
        assert cls.__dataclass_params__.frozen and not hasattr(cls, "__post_init__")


# ---------------------------------------------------------------------------
# bounds of every field: (field, value just outside, value on the bound)

BOUNDS = [
    ("price", 0, 1e-9, "> 0 and <= 200"),
    ("price", -5, 200, "> 0 and <= 200"),
    ("price", 200.01, 200, "> 0 and <= 200"),
    ("service_level", -0.01, 0, ">= 0 and <= 1"),
    ("service_level", 1.01, 1, ">= 0 and <= 1"),
    ("care_budget", -1, 0, ">= 0 and <= 1e+12"),
    ("care_budget", MAX_MONEY * 1.01, MAX_MONEY, ">= 0 and <= 1e+12"),
    ("advertising_budget", -0.5, 0, ">= 0 and <= 1e+12"),
    ("advertising_budget", 2e12, MAX_MONEY, ">= 0 and <= 1e+12"),
    ("hire_sales", 51, 50, ">= 0 and <= 50"),
    ("hire_sales", -1, 0, ">= 0 and <= 50"),
    ("hire_service", 51, 50, ">= 0 and <= 50"),
    ("fire_sales", 4, 3, ">= 0 and <= 3"),  # cannot fire more than the 3 sales staff
    ("fire_service", 11, 10, ">= 0 and <= 10"),  # cannot fire more than the 10 service staff
    ("borrow", 150_000.01, 150_000, ">= 0 and <= 150000"),  # credit line 200,000 less debt 50,000
    ("borrow", -1, 0, ">= 0 and <= 150000"),
    ("repay", 50_000.01, 50_000, ">= 0 and <= 50000"),  # cannot repay more than the debt
    ("repay", -1, 0, ">= 0 and <= 50000"),
]


@pytest.mark.parametrize("name, bad, good, rule", BOUNDS, ids=[f"{b[0]}={b[1]}" for b in BOUNDS])
def test_field_bounds_reject_outside_and_accept_on_the_bound(name, bad, good, rule):
    """Each numeric field has a declared range: a value outside is rejected naming field, range and value;
    the bound itself is accepted."""
    extra = {"cultivation": {}} if name == "fire_sales" else {}  # no sales staff left to cultivate with
    (p,) = problems({name: bad, **extra})
    assert p.field == name and p.value == bad
    assert rule in p.rule
    msg = str(p)
    assert msg.startswith(f"{name}: ") and rule in msg and repr(bad) in msg
    d = validate_decision({name: good, **extra}, CTX)
    assert getattr(d, name) == good


@pytest.mark.parametrize("name", ["hire_sales", "fire_sales", "hire_service", "fire_service"])
def test_staff_counts_must_be_whole_numbers(name):
    """Hires and fires are head counts: 1.5 is rejected as 'must be a whole number'; 2.0 is read as 2."""
    (p,) = problems({name: 1.5})
    assert (p.field, p.rule, p.value) == (name, "must be a whole number", 1.5)
    d = validate_decision({name: 2.0}, CTX)
    assert getattr(d, name) == 2 and isinstance(getattr(d, name), int)


@pytest.mark.parametrize(
    "value, rule",
    [
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (-float("inf"), "must be a finite number"),
        ("cheap", "must be a number"),
        ("nan", "must be a finite number"),
        ([100], "must be a number"),
        ({"v": 100}, "must be a number"),
        (True, "must be a number"),
        (10**400, "must be a number"),
    ],
    ids=["nan", "inf", "-inf", "text", "text-nan", "list", "dict", "bool", "int-too-big-for-float"],
)
def test_non_numbers_are_rejected_with_the_value_shown(value, rule):
    """A price that is not a finite number is rejected, and the message shows the value given."""
    (p,) = problems({"price": value})
    assert (p.field, p.rule) == ("price", rule)
    assert p.value is value


def test_numeric_strings_from_a_form_are_read_as_numbers():
    """Form data arrives as text: ' 120 ' is a price of 120 and '2' hires two sales staff."""
    d = validate_decision({"price": " 120 ", "hire_sales": "2", "care_budget": "1e4"}, CTX)
    assert (d.price, d.hire_sales, d.care_budget) == (120.0, 2, 10_000.0)


def test_late_must_be_a_boolean():
    """late is true or false; 'yes' or 1 are rejected."""
    assert validate_decision({"late": True}, CTX).late is True
    for v in ("yes", 1, 0.0):
        (p,) = problems({"late": v})
        assert (p.field, p.rule, p.value) == ("late", "must be true or false", v)


def test_unknown_field_is_rejected_listing_the_allowed_fields():
    """An unknown field is named, with the list of allowed fields and the value given."""
    (p,) = problems({"colour": "red"})
    assert p.field == "colour" and p.value == "red"
    assert "unknown field" in p.rule and all(f in p.rule for f in DECISION_FIELDS)


def test_hiring_and_firing_the_same_staff_in_one_period_is_rejected():
    """One cannot hire and fire sales (or service) staff in the same period; the fire field is named."""
    probs = problems({"hire_sales": 1, "fire_sales": 1, "hire_service": 2, "fire_service": 3})
    assert [(p.field, p.value) for p in probs] == [("fire_sales", 1), ("fire_service", 3)]
    assert all("cannot hire and fire" in p.rule for p in probs)


# ---------------------------------------------------------------------------
# cultivation and bids: unknown ids and sales-staff limits


def test_cultivation_of_unknown_client_is_rejected():
    """cultivation.<client> must name a key client; the message lists the clients."""
    (p,) = problems({"cultivation": {"nobody": 1000}})
    assert (p.field, p.value) == ("cultivation.nobody", "nobody")
    assert "unknown client" in p.rule and "a, b, c, d, e, f, g" in p.rule


def test_cultivation_spend_bounds():
    """cultivation spend is >= 0; zero spend is dropped and does not use a sales head."""
    (p,) = problems({"cultivation": {"a": -1}})
    assert (p.field, p.value) == ("cultivation.a", -1)
    d = validate_decision({"cultivation": {"a": 0, "b": 1000}}, CTX)
    assert d.cultivation == {"b": 1000.0}


def test_cultivation_limited_by_sales_staff():
    """3 sales staff cultivate at most 6 clients: 7 is rejected, 6 accepted; hiring one more allows 8,
    firing one allows only 4."""
    seven = {c: 1000 for c in "abcdefg"}
    (p,) = problems({"cultivation": seven})
    assert (p.field, p.value) == ("cultivation", 7)
    assert "3 sales staff can cultivate at most 6 clients" in p.rule
    assert len(validate_decision({"cultivation": dict(list(seven.items())[:6])}, CTX).cultivation) == 6
    assert len(validate_decision({"cultivation": seven, "hire_sales": 1}, CTX).cultivation) == 7
    (p,) = problems({"cultivation": dict(list(seven.items())[:5]), "fire_sales": 1})
    assert "2 sales staff can cultivate at most 4 clients" in p.rule


def test_firing_every_sales_head_requires_dropping_standing_cultivation():
    """The standing cultivation (client a) counts against the sales-staff limit: firing all 3 sales staff
    without clearing it is rejected on 'cultivation'; clearing it is accepted."""
    (p,) = problems({"fire_sales": 3})
    assert (p.field, p.value) == ("cultivation", 1) and "0 sales staff can cultivate at most 0" in p.rule
    assert validate_decision({"fire_sales": 3, "cultivation": {}}, CTX).fire_sales == 3


def test_cultivation_must_be_a_mapping():
    """cultivation is a mapping of client to spend."""
    (p,) = problems({"cultivation": [("a", 100)]})
    assert p.field == "cultivation" and "mapping" in p.rule


def test_bid_on_unknown_tender_is_rejected():
    """bids.<tender> must name a published tender."""
    (p,) = problems({"bids": {"zz-99": {"price": 90, "promised_service": 0.6}}})
    assert (p.field, p.value) == ("bids.zz-99", "zz-99")
    assert p.rule == f"{UNPUBLISHED_TENDER}; open now: {', '.join(sorted(CTX.open_tender_ids))}"
    assert UNPUBLISHED_TENDER == "not a published tender (a scheduled one opens in its period)"


def test_bid_on_a_tender_no_longer_open_is_refused_late():
    """A bid on a tender published earlier in the game but closed now is refused at submit, naming LATE and the open tenders."""
    ctx = replace(CTX, tender_ids=CTX.tender_ids | {"a-00"})
    (p,) = problems({"bids": {"a-00": {"price": 90, "promised_service": 0.6}}}, ctx)
    assert (p.field, p.value) == ("bids.a-00", "a-00")
    assert p.rule == "the tender is closed (LATE); open now: a-01, b-01, c-01, d-01, e-01, f-01, g-01"
    past = sorted(MCTX.tender_ids - MCTX.open_tender_ids)
    assert past, "the model's period 2 should have past tenders"
    with pytest.raises(DecisionError) as exc:
        MODEL.submit(0, {"bids": {past[0]: {"price": 90, "promised_service": 0.6}}})
    assert [(q.field, q.rule.split(";")[0]) for q in exc.value.problems] == [(f"bids.{past[0]}", "the tender is closed (LATE)")]


def test_bids_limited_by_sales_staff():
    """3 sales staff bid at most 6 tenders: 7 bids are rejected; firing all sales staff allows none."""
    bid = {"price": 90, "promised_service": 0.6}
    all7 = {t: bid for t in sorted(CTX.tender_ids)}
    (p,) = problems({"bids": all7})
    assert (p.field, p.value) == ("bids", 7)
    assert "3 sales staff can bid at most 6 tenders" in p.rule
    assert len(validate_decision({"bids": all7, "hire_sales": 1}, CTX).bids) == 7
    (p,) = problems({"bids": {"a-01": bid}, "fire_sales": 3, "cultivation": {}})
    assert (p.field, p.value) == ("bids", 1) and "0 sales staff can bid at most 0" in p.rule


@pytest.mark.parametrize(
    "bid, field",
    [
        ({"price": 0, "promised_service": 0.6}, "bids.a-01.price"),
        ({"price": -90, "promised_service": 0.6}, "bids.a-01.price"),
        ({"price": float("nan"), "promised_service": 0.6}, "bids.a-01.price"),
        ({"promised_service": 0.6}, "bids.a-01.price"),
        ({"price": 90, "promised_service": 1.01}, "bids.a-01.promised_service"),
        ({"price": 90, "promised_service": -0.01}, "bids.a-01.promised_service"),
        ({"price": 90}, "bids.a-01.promised_service"),
        ({"price": 90, "promised_service": 0.6, "discount": 5}, "bids.a-01"),
        (90, "bids.a-01"),
        (None, "bids.a-01"),
    ],
)
def test_malformed_bid_is_rejected_naming_the_bid_field(bid, field):
    """A bid is {price > 0, promised_service in [0, 1]} and nothing else."""
    probs = problems({"bids": {"a-01": bid}})
    assert field in fields_of(probs)


def test_bids_must_be_a_mapping():
    """bids is a mapping of tender id to bid."""
    (p,) = problems({"bids": ["a-01"]})
    assert p.field == "bids" and "mapping" in p.rule


def test_repay_is_limited_by_cash_as_well_as_debt():
    """repay <= min(debt, cash): with 20,000 of cash a firm owing 50,000 repays at most 20,000."""
    poor = replace(CTX, cash=20_000.0)
    (p,) = problems({"repay": 20_000.01}, poor)
    assert p.field == "repay" and "<= 20000" in p.rule
    assert validate_decision({"repay": 20_000}, poor).repay == 20_000


def test_borrow_beyond_credit_line_is_rejected():
    """borrow <= credit line - debt; a firm already at its line borrows nothing more."""
    full = replace(CTX, debt=200_000.0)
    (p,) = problems({"borrow": 1}, full)
    assert p.field == "borrow" and "<= 0" in p.rule


def test_borrow_counts_emergency_debt_against_the_credit_line():
    """The credit line bounds all borrowing: ordinary debt + emergency debt + new borrowing."""
    sc = load_scenario("classroom-v1", overrides={"market.customers": 300})
    state = initial_state(sc, 0)
    firms = list(state.firms)
    firms[0] = replace(firms[0], emergency_debt=150_000.0)
    state = replace(state, firms=tuple(firms))
    with pytest.raises(DecisionError) as exc:
        check_decision(state, 0, {"borrow": 200_000})
    assert exc.value.problems[0].field == "borrow"


# ---------------------------------------------------------------------------
# every problem at once, messages, left-out fields


def test_every_problem_is_reported_at_once():
    """A decision with 16 separate problems is rejected once, listing all 16 (field, rule, value) in field order."""
    raw = {
        "price": -1,
        "service_level": 2,
        "care_budget": "x",
        "advertising_budget": float("inf"),
        "hire_sales": 1.5,
        "fire_sales": True,
        "hire_service": 2,
        "fire_service": 99,
        "cultivation": {"nobody": 5},
        "bids": {"nope": {"price": 1, "promised_service": 0.5}, "a-01": {"price": 0, "promised_service": 1.5, "colour": 1}},
        "borrow": 1e9,
        "repay": 50_000.5,
        "late": "yes",
        "colour": "red",
    }
    probs = problems(raw)
    assert fields_of(probs) == [
        "colour",
        "price",
        "service_level",
        "care_budget",
        "advertising_budget",
        "hire_sales",
        "fire_sales",
        "fire_service",
        "cultivation.nobody",
        "bids.nope",
        "bids.a-01",
        "bids.a-01.price",
        "bids.a-01.promised_service",
        "borrow",
        "repay",
        "late",
    ]
    assert len(probs) == 16
    with pytest.raises(DecisionError) as exc:
        validate_decision(raw, CTX)
    text = str(exc.value)
    assert text.count("\n  - ") == 16
    for p in probs:
        assert f"{p.field}: {p.rule}; got {p.value!r}" in text


def test_decision_error_names_the_firm():
    """check_decision adds the firm's name to the error."""
    sc = load_scenario("classroom-v1", overrides={"market.customers": 300})
    state = initial_state(sc, 0)
    with pytest.raises(DecisionError) as exc:
        check_decision(state, 1, {"price": -1})
    assert exc.value.firm == "Beacon" and "decision of Beacon rejected" in str(exc.value)


def test_unknown_or_bankrupt_firm_is_rejected():
    """Only a live firm index may decide: field 'firm' names the problem."""
    sc = load_scenario("classroom-v1", overrides={"market.customers": 300})
    state = initial_state(sc, 0)
    with pytest.raises(DecisionError) as exc:
        check_decision(state, 6, {})
    assert exc.value.problems[0].field == "firm" and "[0, 5]" in exc.value.problems[0].rule
    firms = list(state.firms)
    firms[2] = replace(firms[2], bankrupt=True)
    with pytest.raises(DecisionError) as exc:
        check_decision(replace(state, firms=tuple(firms)), 2, {})
    assert exc.value.problems[0].field == "firm" and "bankrupt" in exc.value.problems[0].rule


def test_left_out_fields_keep_standing_decision_or_default_to_zero():
    """Fields left out: price, service, budgets and cultivation keep the standing decision; hires, fires,
    bids and loans are zero."""
    d = validate_decision({}, CTX)
    assert (d.price, d.service_level, d.care_budget, d.advertising_budget) == (100.0, 0.6, 10_000.0, 8_000.0)
    assert d.cultivation == {"a": 5_000.0}
    assert (d.hire_sales, d.fire_sales, d.hire_service, d.fire_service, d.borrow, d.repay) == (0, 0, 0, 0, 0.0, 0.0)
    assert d.bids == {} and d.late is False


def test_none_means_left_out():
    """A field given as None (a blank form field) is treated as left out."""
    d = validate_decision({f: None for f in DECISION_FIELDS}, CTX)
    assert d == validate_decision({}, CTX)


def test_decision_object_validates_like_its_dict():
    """A Decision built in code is validated like the same decision as a mapping."""
    d = Decision(price=120.0, service_level=0.7, cultivation={"b": 2000.0}, bids={"a-01": Bid(90.0, 0.6)}, borrow=1000.0)
    assert validate_decision(d, CTX) == validate_decision(d.to_dict(), CTX)
    bad = Decision(price=float("nan"), service_level=0.7)
    assert fields_of(problems(bad)) == ["price"]


def test_non_mapping_decision_is_rejected():
    """A decision must be a mapping (or a Decision)."""
    for raw in ("hello", None, [1, 2], 42):
        (p,) = problems(raw)
        assert p.field == "(decision)" and p.value == raw


def test_numpy_scalars_are_numbers():
    """Research code computing decisions with numpy passes numpy scalars; they are numbers."""
    d = validate_decision({"hire_sales": np.int64(2), "price": np.float32(120.5)}, CTX)
    assert (d.hire_sales, d.price) == (2, 120.5)


# ---------------------------------------------------------------------------
# property tests on CRMModel.submit

SUBMIT_SC = load_scenario("classroom-v1", overrides={"market.customers": 400, "firms.debt": 50_000})
MODEL = CRMModel(SUBMIT_SC, seed=0)
MODEL.step()  # period 2: four open tenders, two past ones, a standing decision
MCTX = decision_context(MODEL.state, 0)
M_CLIENTS = sorted(MCTX.client_ids)
M_TENDERS = sorted(MCTX.open_tender_ids)  # a bid on a tender no longer open is refused (LATE)
ROOM = MCTX.credit_line - MCTX.debt
REPAY_MAX = min(MCTX.debt, MCTX.cash)
assert MCTX.sales_staff == 3 and MCTX.service_staff == 10 and ROOM == 150_000 and REPAY_MAX == 50_000


def _money(hi: float):
    return st.one_of(st.floats(min_value=0, max_value=hi, allow_nan=False), st.integers(0, int(hi)))


@st.composite
def good_decisions(draw) -> dict:
    """Decisions inside every bound, each field present or left out."""
    d: dict = {}

    def maybe(name, strat):
        if draw(st.booleans()):
            d[name] = draw(strat)

    maybe("price", st.one_of(st.floats(min_value=0, max_value=MCTX.price_cap, exclude_min=True), st.integers(1, int(MCTX.price_cap))))
    maybe("service_level", st.floats(min_value=0, max_value=1))
    maybe("care_budget", _money(MAX_MONEY))
    maybe("advertising_budget", _money(MAX_MONEY))
    sales_after = MCTX.sales_staff
    for kind, have in (("sales", MCTX.sales_staff), ("service", MCTX.service_staff)):
        mode = draw(st.sampled_from(["none", "hire", "fire"]))
        if mode == "hire":
            n = draw(st.integers(0, MCTX.max_hire))
            d[f"hire_{kind}"] = n
            sales_after += n if kind == "sales" else 0
        elif mode == "fire":
            n = draw(st.integers(0, have))
            d[f"fire_{kind}"] = n
            sales_after -= n if kind == "sales" else 0
    k = min(len(M_CLIENTS), sales_after * MCTX.clients_per_sales_staff)
    maybe("cultivation", st.dictionaries(st.sampled_from(M_CLIENTS), _money(MAX_MONEY), max_size=k))
    k = min(len(M_TENDERS), sales_after * MCTX.bids_per_sales_staff)
    bid = st.fixed_dictionaries(
        {"price": st.floats(min_value=0, max_value=MAX_MONEY, exclude_min=True), "promised_service": st.floats(min_value=0, max_value=1)}
    )
    maybe("bids", st.dictionaries(st.sampled_from(M_TENDERS), bid, max_size=k))
    maybe("borrow", st.floats(min_value=0, max_value=ROOM))
    maybe("repay", st.floats(min_value=0, max_value=REPAY_MAX))
    maybe("late", st.booleans())
    return d


def _not_a_number_text(s: str) -> bool:
    try:
        float(s.strip())
    except ValueError:
        return True
    return False


WRONG_TYPES = st.one_of(
    st.text(max_size=8).filter(_not_a_number_text),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(-float("inf")),
    st.integers(min_value=10**309, max_value=10**400),  # too big for a float
)


def _outside(lo: float, hi: float, *, lo_open: bool = False, whole: bool = False):
    out = [
        st.floats(min_value=hi, exclude_min=True, allow_infinity=False, allow_nan=False),
        st.floats(max_value=lo, allow_infinity=False, allow_nan=False).filter(lambda x: x <= lo if lo_open else x < lo),
        WRONG_TYPES,
    ]
    if whole:
        out.append(st.floats(min_value=lo, max_value=hi).filter(lambda x: x != int(x)))
        out.append(st.integers(min_value=int(hi) + 1, max_value=10**12))
    return st.one_of(*out)


BAD_SCALARS = {
    "price": _outside(0, MCTX.price_cap, lo_open=True),
    "service_level": _outside(0, 1),
    "care_budget": _outside(0, MAX_MONEY),
    "advertising_budget": _outside(0, MAX_MONEY),
    "hire_sales": _outside(0, MCTX.max_hire, whole=True),
    "hire_service": _outside(0, MCTX.max_hire, whole=True),
    "fire_sales": _outside(0, MCTX.sales_staff, whole=True),
    "fire_service": _outside(0, MCTX.service_staff, whole=True),
    "borrow": _outside(0, ROOM),
    "repay": _outside(0, REPAY_MAX),
    "late": st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.lists(st.booleans(), max_size=2)),
}
BAD_SPEND = st.one_of(st.floats(max_value=-1e-300, allow_nan=False), st.none(), WRONG_TYPES)
BAD_BID_PRICE = st.one_of(st.floats(max_value=0, allow_nan=False), st.floats(min_value=MAX_MONEY, exclude_min=True), st.none(), WRONG_TYPES)
BAD_SERVICE = st.one_of(st.floats(min_value=1, exclude_min=True), st.floats(max_value=-1e-300), st.none(), WRONG_TYPES)
UNKNOWN_ID = st.text(min_size=1, max_size=12)


@st.composite
def bad_cultivation(draw):
    kind = draw(st.sampled_from(["not-a-mapping", "unknown-client", "bad-spend"]))
    if kind == "not-a-mapping":
        return draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3), st.booleans()))
    if kind == "unknown-client":
        return {draw(UNKNOWN_ID.filter(lambda c: c not in MCTX.client_ids)): draw(_money(1e6))}
    return {draw(st.sampled_from(M_CLIENTS)): draw(BAD_SPEND)}


@st.composite
def bad_bids(draw):
    kind = draw(st.sampled_from(["not-a-mapping", "unknown-tender", "not-a-bid", "bad-price", "bad-service", "extra-key"]))
    tid = draw(st.sampled_from(M_TENDERS))
    if kind == "not-a-mapping":
        return draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3), st.booleans()))
    if kind == "unknown-tender":
        return {draw(UNKNOWN_ID.filter(lambda t: t not in MCTX.tender_ids)): {"price": 90, "promised_service": 0.6}}
    if kind == "not-a-bid":
        return {tid: draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))}
    if kind == "bad-price":
        return {tid: {"price": draw(BAD_BID_PRICE), "promised_service": 0.6}}
    if kind == "bad-service":
        return {tid: {"price": 90.0, "promised_service": draw(BAD_SERVICE)}}
    return {tid: {"price": 90.0, "promised_service": 0.6, draw(st.text(min_size=1, max_size=6).filter(lambda k: k not in ("price", "promised_service"))): 1}}


@st.composite
def bad_decisions(draw):
    """A good decision with at least one field made hostile; returns (raw, names of the bad fields)."""
    raw = draw(good_decisions())
    names = draw(st.lists(st.sampled_from(sorted(BAD_SCALARS) + ["cultivation", "bids", "unknown"]), min_size=1, max_size=4, unique=True))
    bad = []
    for name in names:
        if name == "cultivation":
            raw["cultivation"] = draw(bad_cultivation())
        elif name == "bids":
            raw["bids"] = draw(bad_bids())
        elif name == "unknown":
            key = draw(UNKNOWN_ID.filter(lambda k: k not in DECISION_FIELDS))
            raw[key] = draw(st.one_of(st.integers(), st.text(max_size=4), st.none()))
            name = key
        else:
            raw[name] = draw(BAD_SCALARS[name])
        bad.append(name)
    return raw, bad


def _names(problem_field: str, name: str) -> bool:
    return problem_field == name or problem_field.startswith(name + ".")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=good_decisions())
def test_submit_never_rejects_a_decision_inside_the_bounds(raw):
    """Every decision inside every bound is accepted, stored as pending, and keeps the values given."""
    d = MODEL.submit(0, raw)
    assert MODEL.pending[0] is d
    for name in ("price", "service_level", "care_budget", "advertising_budget", "borrow", "repay"):
        if name in raw:
            assert getattr(d, name) == float(raw[name])
    for name in ("hire_sales", "fire_sales", "hire_service", "fire_service"):
        assert getattr(d, name) == raw.get(name, 0)
    if "bids" in raw:
        assert d.bids == {t: Bid(float(b["price"]), float(b["promised_service"])) for t, b in raw["bids"].items()}
    if "cultivation" in raw:
        assert d.cultivation == {c: float(v) for c, v in raw["cultivation"].items() if v > 0}
    assert d.late is raw.get("late", False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bad_decisions())
def test_submit_rejects_every_hostile_decision_naming_each_bad_field_and_changes_nothing(case):
    """Negative, NaN, inf, huge, wrong-typed (str, list, dict, bool) values, unknown clients/tenders and unknown
    fields raise DecisionError; each bad field is named by a problem; pending and state are unchanged."""
    raw, bad = case
    MODEL.pending = {0: MODEL.pending.get(0) or MODEL.submit(0, {})}
    before_pending = dict(MODEL.pending)
    before_state = MODEL.state
    with pytest.raises(DecisionError) as exc:
        MODEL.submit(0, raw)
    probs = exc.value.problems
    assert probs and exc.value.firm == "Aurora"
    for name in bad:
        assert any(_names(p.field, name) for p in probs), (name, [str(p) for p in probs])
    for p in probs:
        assert isinstance(p.field, str) and p.rule
    assert MODEL.state is before_state
    assert MODEL.pending.keys() == before_pending.keys()
    assert all(MODEL.pending[k] is before_pending[k] for k in before_pending)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(["price", "service_level", "care_budget", "advertising_budget", "borrow", "repay"]),
    value=st.one_of(st.just(float("nan")), st.just(float("inf")), st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False), st.just(1e13)),
)
def test_submit_rejects_hostile_decision_objects_built_in_code(name, value):
    """A Decision object built in code is validated too: NaN, inf, negative or huge values are rejected by field."""
    d = replace(Decision(price=100.0, service_level=0.6), **{name: value})
    before = MODEL.state
    with pytest.raises(DecisionError) as exc:
        MODEL.submit(0, d)
    assert name in fields_of(exc.value.problems)
    assert MODEL.state is before


# ---------------------------------------------------------------------------
# resolve_period on decisions built in code (validation bypassed for bids)

RP_SC = load_scenario("classroom-v1", overrides={"market.customers": 400})
RP_STATE, _ = resolve_period(initial_state(RP_SC, 1), {}, period_rng(1, 1))
RP_OPEN = sorted(t.id for t in RP_STATE.tenders)
RP_PAST = sorted(RP_STATE.tender_ids - set(RP_OPEN))
assert RP_OPEN and RP_PAST

ANY_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=50, max_value=120),
    st.floats(min_value=0, max_value=1),
    st.integers(-1000, 1000),
    st.text(max_size=5),
    st.none(),
)


def _well_formed(price, service) -> bool:
    ok_p = type(price) in (int, float) and math.isfinite(price) and price > 0
    ok_s = type(service) in (int, float) and 0 <= service <= 1
    return ok_p and ok_s


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bids=st.dictionaries(
        st.one_of(st.sampled_from(RP_OPEN + RP_PAST), st.text(max_size=8)),
        st.builds(Bid, ANY_VALUE, ANY_VALUE),
        max_size=9,
    ),
    price=st.one_of(st.floats(min_value=1, max_value=200), st.floats(allow_nan=True, allow_infinity=True)),
    service=st.one_of(st.floats(min_value=0, max_value=1), st.floats(allow_nan=True)),
    fire_sales=st.integers(0, 3),
    late=st.booleans(),
)
def test_resolve_period_never_crashes_on_decisions_built_in_code(bids, price, service, fire_sales, late):
    """resolve_period with arbitrary Bid values either rejects the decision (DecisionError, for a bad non-bid field)
    or resolves it: bids on open tenders reach the bid rows, unreadable or over-the-staff-limit bids are voided
    MALFORMED (LATE first if the decision is late), bids on past or unknown tenders are logged."""
    d = Decision(price=price, service_level=service, fire_sales=fire_sales, bids=bids, late=late)
    decision_ok = math.isfinite(price) and 0 < price <= 200 and math.isfinite(service) and 0 <= service <= 1
    try:
        _, res = resolve_period(RP_STATE, {0: d}, period_rng(1, 2))
    except DecisionError as exc:
        assert not decision_ok
        assert {p.field for p in exc.problems} <= {"price", "service_level"}
        return
    assert decision_ok
    rows = {r["tender"]: r for r in res.bid_rows() if r["firm"] == 0}
    assert set(rows) == set(bids)  # every bid is published, stray ones too
    max_bids = (3 - fire_sales) * RP_SC.costs.bids_per_sales_staff
    position = {t: k for k, t in enumerate(sorted(bids))}
    for tid, row in rows.items():
        b = bids[tid]
        if tid in RP_PAST:
            assert row["void_reason"] == LATE
        elif tid not in RP_OPEN:
            assert row["void_reason"] == MALFORMED
        elif late:
            assert row["void_reason"] == LATE
        elif not _well_formed(b.price, b.promised_service):
            assert row["void_reason"] == MALFORMED
        elif position[tid] >= max_bids:
            assert row["void_reason"] == MALFORMED
        else:
            assert row["void_reason"] != MALFORMED
    logged = [e["detail"] for e in res.events if e["kind"] == "bid_void" and e["firm"] == 0 and "not open" in e["detail"]]
    assert len(logged) == sum(t not in RP_OPEN for t in bids)
    for t in bids:
        if t in RP_PAST:
            assert any(x.startswith(f"{t}: LATE (") for x in logged)
        elif t not in RP_OPEN:
            assert any(x.startswith(f"{t}: MALFORMED (") for x in logged)


def _resolve_one(bids) -> list[dict]:
    d = Decision(price=100.0, service_level=0.6, bids=bids)
    _, res = resolve_period(RP_STATE, {0: d}, period_rng(1, 2))
    return [r for r in res.bid_rows() if r["firm"] == 0]


@pytest.mark.parametrize(
    "bids, expected",
    [
        pytest.param({RP_OPEN[0]: {"price": 90, "promised_service": 0.6}}, {RP_OPEN[0]: "ok"}, id="dict-read-as-a-bid"),
        pytest.param({RP_OPEN[0]: None}, {RP_OPEN[0]: MALFORMED}, id="None-instead-of-Bid"),
        pytest.param({RP_OPEN[0]: Bid(10**400, 0.6)}, {RP_OPEN[0]: MALFORMED}, id="int-price-too-big-for-float"),
        pytest.param({1: Bid(90.0, 0.6), RP_OPEN[0]: Bid(90.0, 0.6)}, {"1": MALFORMED, RP_OPEN[0]: "ok"}, id="non-string-tender-id"),
        pytest.param(None, {}, id="bids-None"),
    ],
)
def test_resolve_period_voids_unreadable_bid_objects_malformed(bids, expected):
    """Bids that cannot be read are voided MALFORMED and published, never a crash; a mapping with the bid's keys is read as a bid."""
    rows = {r["tender"]: r for r in _resolve_one(bids)}
    assert set(rows) == set(expected)
    for tid, want in expected.items():
        if want == "ok":
            assert rows[tid]["void_reason"] != MALFORMED
        else:
            assert rows[tid]["void_reason"] == want


def test_bool_bid_price_is_malformed():
    """A price of True is not a number: MALFORMED."""
    (row,) = _resolve_one({RP_OPEN[0]: Bid(True, 0.6)})  # type: ignore[arg-type]
    assert row["void_reason"] == MALFORMED


@pytest.mark.parametrize(
    "decision",
    [
        pytest.param(Decision(price=100.0, service_level=0.6, cultivation=5), id="cultivation-int"),  # type: ignore[arg-type]
        pytest.param(Decision(price=100.0, service_level=0.6, bids={"a": {"price": 1}}), id="bid-dict"),  # type: ignore[dict-item]
    ],
)
def test_submit_rejects_decision_objects_with_wrongly_typed_mappings(decision):
    """A Decision built in code with a wrongly typed cultivation or bids is rejected with DecisionError."""
    with pytest.raises(DecisionError):
        MODEL.submit(0, decision)
