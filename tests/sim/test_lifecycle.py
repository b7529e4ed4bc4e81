"""Lifecycle cultivation (classroom-v2), with values worked by hand from the default settings:
investigate buys 1.0 progress at potential, call 0.5 at target, visit 0.5 and demo 0.75 at evaluation or
formation, maintain 0.35 at formation or stable; a rival's stable hold multiplies progress by 0.35, a
rival in formation by 0.7; slip after 2 periods without contact; stage values 0.05, 0.2, 0.4, 0.6, 0.85."""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.scenarios.schema import Cultivation
from crmsim.sim.lifecycle import (
    EVALUATION,
    FORMATION,
    POTENTIAL,
    STABLE,
    TARGET,
    Relationships,
    band,
    counts_at,
    effort,
    end_relationships,
    hours_available,
    plan_cost,
    relationship_score,
    resistance,
    rival_hold,
    step_relationships,
)

S = Cultivation(mode="lifecycle")
CLIENTS = ("mengniu", "motorola")


def _rel(stage, progress=None, idle=None):
    stage = np.array(stage)
    return Relationships(stage, np.zeros(stage.shape) if progress is None else np.array(progress, float),
                         np.zeros(stage.shape, int) if idle is None else np.array(idle))


def _step(rel, plans, delivered=None, outcome=None, live=None):
    bought, contact = effort(plans, rel.stage, CLIENTS, S)
    shape = rel.stage.shape
    return step_relationships(rel, bought, contact, np.ones(shape) if outcome is None else np.array(outcome, float),
                              np.zeros(shape, bool) if delivered is None else np.array(delivered), S, live)


def test_each_stage_needs_the_one_before():
    assert counts_at("investigate", POTENTIAL, S) and not counts_at("investigate", TARGET, S)
    assert counts_at("call", TARGET, S) and not counts_at("call", POTENTIAL, S)
    assert not counts_at("visit", TARGET, S) and counts_at("visit", EVALUATION, S) and counts_at("visit", FORMATION, S)
    assert counts_at("maintain", STABLE, S) and not counts_at("maintain", EVALUATION, S)


def test_an_investigation_advances_potential_to_target_and_two_idle_periods_slip_it_back():
    rel = Relationships.start(2, 2)
    rel, gained = _step(rel, {0: {"mengniu": ["investigate"]}})
    assert rel.stage.tolist() == [[TARGET, POTENTIAL], [POTENTIAL, POTENTIAL]]
    assert gained[0, 0] == 1.0 and rel.progress[0, 0] == 0.0 and rel.idle[0, 0] == 0
    rel, _ = _step(rel, {})
    assert rel.stage[0, 0] == TARGET and rel.idle[0, 0] == 1
    rel, _ = _step(rel, {})
    assert rel.stage[0, 0] == POTENTIAL and rel.idle[0, 0] == 0  # slipped after 2 periods without contact


def test_a_call_buys_half_a_stage_and_a_misplaced_activity_buys_nothing_but_keeps_contact():
    rel = _rel([[TARGET, POTENTIAL]], idle=[[1, 1]])
    rel, gained = _step(rel, {0: {"mengniu": ["call"], "motorola": ["visit"]}})
    assert gained.tolist() == [[0.5, 0.0]]
    assert rel.stage.tolist() == [[TARGET, POTENTIAL]] and rel.progress.tolist() == [[0.5, 0.0]]
    assert rel.idle.tolist() == [[0, 0]]
    rel, _ = _step(rel, {0: {"mengniu": ["call"]}})
    assert rel.stage[0, 0] == EVALUATION and rel.progress[0, 0] == 0.0


def test_visit_and_demo_together_advance_one_stage_and_the_excess_is_lost():
    rel, gained = _step(_rel([[EVALUATION, POTENTIAL]]), {0: {"mengniu": ["visit", "demo"]}})
    assert gained[0, 0] == pytest.approx(1.25)
    assert rel.stage[0, 0] == FORMATION and rel.progress[0, 0] == 0.0


def test_a_rivals_stable_hold_cuts_progress_to_035_and_formation_to_07():
    # firm 1 holds mengniu in its stable stage and motorola in formation
    rel = _rel([[EVALUATION, EVALUATION], [STABLE, FORMATION]])
    assert rival_hold(rel.stage).tolist() == [[STABLE, FORMATION], [EVALUATION, EVALUATION]]
    assert resistance(rel.stage, S).tolist() == [[0.35, 0.7], [1.0, 1.0]]
    new, gained = _step(rel, {0: {"mengniu": ["visit"], "motorola": ["visit"]}})
    assert gained[0].tolist() == pytest.approx([0.175, 0.35])
    # per ¥ and per hour the same activity buys 0.35 as much progress against a stable hold
    assert gained[0, 0] / gained[0, 1] == pytest.approx(0.5)


def test_a_bankrupt_rivals_hold_resists_no_one():
    rel = _rel([[EVALUATION], [STABLE]])
    assert resistance(rel.stage, S)[0, 0] == 0.35
    assert resistance(rel.stage, S, live=np.array([True, False]))[0, 0] == 1.0
    ended = end_relationships(rel, 1)
    assert ended.stage.tolist() == [[EVALUATION], [POTENTIAL]]


def test_maintaining_through_formation_takes_three_periods_to_stable():
    rel = _rel([[FORMATION]])
    for expected in (0.35, 0.70):
        rel, _ = _step(rel, {0: {"mengniu": ["maintain"]}})
        assert rel.stage[0, 0] == FORMATION and rel.progress[0, 0] == pytest.approx(expected)
    rel, _ = _step(rel, {0: {"mengniu": ["maintain"]}})
    assert rel.stage[0, 0] == STABLE and rel.progress[0, 0] == 0.0


def test_a_full_delivery_is_contact_and_progress_a_shortfall_slips_a_stage():
    rel = _rel([[FORMATION, FORMATION]], progress=[[0.8, 0.5]], idle=[[1, 1]])
    new, gained = _step(rel, {}, delivered=[[True, True]], outcome=[[1.0, 0.5]])
    assert gained[0, 0] == pytest.approx(0.25)
    assert new.stage.tolist() == [[STABLE, EVALUATION]]
    assert new.idle.tolist() == [[0, 0]]


def test_relationship_score_follows_stage_progress_and_contact():
    rel = _rel([[EVALUATION, STABLE, POTENTIAL]], progress=[[0.5, 0.0, 0.0]], idle=[[1, 0, 0]])
    # evaluation 0.4 + half way to formation's 0.6 = 0.5, less 10% for one period without contact = 0.45
    assert relationship_score(rel, S)[0].tolist() == pytest.approx([0.45, 0.85, 0.05])


def test_costs_hours_and_bands():
    money, hours = plan_cost({"mengniu": ["visit", "demo"], "motorola": ["call"]}, S)
    assert (money, hours) == (4_000 + 8_000 + 500, 16 + 24 + 6)
    assert hours_available(3, S) == 240
    assert [band(s) for s in range(5)] == ["weak", "weak", "medium", "medium", "strong"]
