"""Tests for sim/observation.py: what one firm sees before it decides, and what is public (docs/rules.md
section 10.1), on a state and a last period set up by hand."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields, replace
from types import SimpleNamespace

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.engine import initial_state
from crmsim.sim.decisions import DecisionContext
from crmsim.sim.observation import (
    BOOKS_FIELDS,
    PUBLIC_FIRM_FIELDS,
    Observation,
    observe,
    public_fields,
    public_row,
    shown_awards,
    shown_relationships,
)

CLIENTS = [
    {"id": "acme", "name": {"en": "Acme", "zh": "甲"}, "volume": 1000, "price_cap": 100, "every": 1},
    {"id": "bolt", "name": {"en": "Bolt", "zh": "乙"}, "volume": 500, "price_cap": 120, "every": 2, "first_period": 2},
]
SC = load_scenario("classroom-v1", overrides={
    "market.customers": 10, "market.track_customers": 10, "clients": CLIENTS, "firms.count": 3,
    "firms.names": ["A", "B", "C"], "firms.debt": 50_000, "tenders.min_valid_bids": 1,
    "events": [{"period": 1, "kind": "recession", "magnitude": 0.8, "duration": 2},
               {"period": 2, "kind": "scandal", "magnitude": 2.0, "firm": 1}],
})
# R[firm, client] and the customers' suppliers, set by hand
R = np.array([[0.1, 0.5], [0.4, 0.2], [0.3, 0.6]])
SUPPLIER = np.array([0, 0, 1, -1, 2, 0, -1, 1, 0, -1], dtype="int8")


def state(period: int = 1):
    st = initial_state(SC, 1)
    pop = replace(st.population, supplier=SUPPLIER)
    return replace(st, period=period, relationship=R, population=pop, client_satisfaction=np.full((3, 2), 7.0))


def full_row(firm: int) -> dict:
    """A last-period row with every column a firm's row has that matters here (public ones and books)."""
    row = {k: float(firm) for k in PUBLIC_FIRM_FIELDS + BOOKS_FIELDS}
    row.update(firm=firm, name="ABC"[firm], bankrupt=False, bankrupt_period=None, cost_of_goods=123.0, submitted=True)
    return row


LAST = SimpleNamespace(
    firm_rows=[full_row(0), full_row(1), full_row(2)],
    bid_rows=lambda: [{"tender": "acme-01", "client": "acme", "firm": 2, "price": 90.0, "won": True}],
    research={1: {"fee": 3000.0, "rivals": {"acme": [{"firm": 0, "name": "A", "band": "weak"}]}}},
)


def test_own_relationships_and_the_strongest_rivals_hold_per_client():
    """Firm 0: own R (0.1, 0.5); rivals' strongest (0.4 from B, 0.6 from C). Firm 2: rivals' (0.4, 0.5)."""
    ob = observe(state(), 0)
    assert ob.relationship == {"acme": 0.1, "bolt": 0.5}
    assert ob.rivals_relationship_max == {"acme": 0.4, "bolt": 0.6}
    assert observe(state(), 2).rivals_relationship_max == {"acme": 0.4, "bolt": 0.5}
    assert ob.client_satisfaction == {"acme": 7.0, "bolt": 7.0}


def award(client: str, w_relationship: float, *bids: tuple[int, bool, float]) -> SimpleNamespace:
    """A past award of `client`'s tender: each bid (firm, valid, R) published with the score w x 100 x R."""
    tender = SimpleNamespace(client=client, weights=(1.0 - w_relationship, 0.0, w_relationship))
    return SimpleNamespace(tender=tender, bids=[SimpleNamespace(firm=f, valid=v, relationship_score=w_relationship * 100 * r)
                                                for f, v, r in bids])


def test_with_lifecycle_cultivation_a_rivals_hold_is_what_its_latest_valid_bid_showed():
    """Acme: period 2 showed A alone (B's bid void), so A reads period 1 (B 0.4, C 0.3: 0.4) and B and C read A's 0.9;
    bolt's price-only award shows nothing, its scored one B's 0.6; a client never scored shows nothing."""
    results = [
        SimpleNamespace(tenders=[award("acme", 0.5, (1, True, 0.4), (2, True, 0.3)), award("bolt", 0.25, (1, True, 0.6))]),
        SimpleNamespace(tenders=[award("acme", 0.5, (0, True, 0.9), (1, False, 0.8)), award("bolt", 0.0, (2, True, 0.2))]),
    ]
    expected = [{"acme": 0.4, "bolt": 0.6}, {"acme": 0.9}, {"acme": 0.9, "bolt": 0.6}]
    assert [shown_relationships(results, f) for f in range(3)] == expected
    assert [shown_relationships(results, f, shown_awards(results)) for f in range(3)] == expected


def test_customers_are_the_firms_own_count():
    """Suppliers 0,0,1,-,2,0,-,1,0,-: firm 0 has 4 customers, firm 1 two, firm 2 one."""
    assert [observe(state(), i).customers for i in range(3)] == [4.0, 2.0, 1.0]


def test_limits_are_what_validation_allows_now():
    """3 sales staff bid 6 tenders, 2 cultivate 4 clients (classroom: 2 of each per head); credit room 200,000 - 50,000 = 150,000."""
    ob = observe(state(), 1)
    assert ob.limits.bid_limit(3) == 6 and ob.limits.client_limit(2) == 4
    assert ob.limits.borrow_room == 150_000.0
    assert ob.limits.open_tender_ids == {"acme-01"} and ob.limits.tender_ids == {"acme-01"}


@pytest.mark.parametrize("lifecycle", [False, True])
def test_an_observation_and_its_limits_are_the_frozen_records_their_fields_make(lifecycle):
    """observe and decision_context set every field at once (frozen_record): the same records the constructors
    build, every field set in field order (none left unset), and as frozen."""
    st = initial_state(load_scenario("classroom-v2"), 3) if lifecycle else state()
    ob = observe(st, 1)
    for record, cls in ((ob, Observation), (ob.limits, DecisionContext)):
        assert list(vars(record)) == [f.name for f in fields(cls)]
        assert record == cls(**vars(record)) and repr(record) == repr(cls(**vars(record)))
    assert all(value is not None for value in vars(ob.limits).values())
    assert bool(ob.stage) == bool(ob.limits.stages) == lifecycle and ob.stage == ob.limits.stages
    assert ob.stage is not ob.limits.stages  # the observation's own copy
    with pytest.raises(FrozenInstanceError):
        ob.limits.cash = 1e9


def test_news_are_the_events_starting_this_period():
    """Period 1 announces the recession; period 2 the scandal only (the recession is still on but not news)."""
    assert [e.kind for e in observe(state(1), 0).news] == ["recession"]
    assert [e.kind for e in observe(state(2), 0).news] == ["scandal"]


def test_the_market_report_shows_rivals_public_fields_and_no_books():
    ob = observe(state(2), 1, [LAST])
    assert [r["firm"] for r in ob.market] == [0, 1, 2]
    for r in ob.market:
        assert list(r) == list(PUBLIC_FIRM_FIELDS)
        assert "cash" not in r and "equity" not in r and "cost_of_goods" not in r
    assert ob.own_last is LAST.firm_rows[1] and ob.own_last["cash"] == 1.0  # its own books, in full
    assert ob.last_bids == [{"tender": "acme-01", "client": "acme", "firm": 2, "price": 90.0, "won": True}]
    assert ob.live_rivals == 2


def test_public_fields_add_the_books_once_the_game_is_over():
    assert public_fields() == PUBLIC_FIRM_FIELDS
    assert public_fields(game_over=True) == PUBLIC_FIRM_FIELDS + ("cash", "debt", "emergency_debt", "equity")
    row = full_row(2)
    assert public_row(row) == {k: row[k] for k in PUBLIC_FIRM_FIELDS}
    assert public_row(row, game_over=True)["cash"] == 2.0
    assert public_row({"firm": 1})["score"] is None


@pytest.mark.parametrize("field", ["cash", "debt", "emergency_debt", "equity", "cost_of_goods", "salaries", "care", "submitted"])
def test_a_firms_books_and_spending_are_not_public(field):
    assert field not in PUBLIC_FIRM_FIELDS
