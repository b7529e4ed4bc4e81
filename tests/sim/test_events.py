"""Tests for sim/events.py: which scheduled events are active in a period and what they do (docs/rules.md section 8)."""

from __future__ import annotations

import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.events import EventEffects, active_events, event_effects, starting_events

SC = load_scenario("classroom-v1", overrides={"events": [
    {"period": 2, "kind": "recession", "magnitude": 0.8, "duration": 3},
    {"period": 3, "kind": "boom", "magnitude": 1.5},
    {"period": 3, "kind": "cost_shock", "magnitude": 1.1, "duration": 4},
    {"period": 3, "kind": "cost_shock", "magnitude": 1.2},
    {"period": 3, "kind": "scandal", "magnitude": 2.0, "firm": 4, "duration": 2},
    {"period": 4, "kind": "new_entrant", "magnitude": 0.5, "duration": 2},
    {"period": 5, "kind": "new_entrant", "magnitude": 0.25},
]})


def test_an_event_is_active_from_its_period_for_its_duration():
    assert [e.kind for e in active_events(SC, 1)] == []
    assert [e.kind for e in active_events(SC, 4)] == ["recession", "cost_shock", "scandal", "new_entrant"]
    assert [e.kind for e in active_events(SC, 5)] == ["cost_shock", "new_entrant", "new_entrant"]
    assert [e.kind for e in starting_events(SC, 3)] == ["boom", "cost_shock", "cost_shock", "scandal"]


def test_effects_worked_by_hand():
    """Period 3: purchases x 0.8 x 1.5 = 1.2; cost shocks 1.1 then 1.2 (factor 1 -> 1.32); scandal on firm 4.
    Period 4: the cost shock and scandal are past their first period; purchases x 0.8, entrant +0.5.
    Period 5: entrants 0.5 + 0.25."""
    p3 = event_effects(SC, 3)
    assert p3.purchase_factor == pytest.approx(1.2) and p3.outside_boost == 0.0
    assert p3.cost_shocks == (1.1, 1.2) and p3.unit_cost_factor(1.0) == pytest.approx(1.32)
    assert p3.unit_cost_factor(2.0) == pytest.approx(2.64) and p3.scandals == ((4, 2.0),)
    assert event_effects(SC, 4) == EventEffects(cost_shocks=(), purchase_factor=0.8, outside_boost=0.5, scandals=())
    assert event_effects(SC, 5).outside_boost == 0.75 and event_effects(SC, 5).purchase_factor == 1.0


def test_no_event_no_effect():
    assert event_effects(SC, 1) == EventEffects() and EventEffects().unit_cost_factor(1.3) == 1.3
