"""Scheduled events: which are active in a period and what they do to it (docs/rules.md section 8).

The engine applies these effects, observations announce the events that
start, and the research environments encode them; all read them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmsim.scenarios.schema import Event, Scenario


def active_events(scenario: Scenario, period: int) -> tuple[Event, ...]:
    """Events active in `period`: from their first period for `duration` periods, in scenario order."""
    return tuple(e for e in scenario.events if e.period <= period < e.period + e.duration)


def starting_events(scenario: Scenario, period: int) -> tuple[Event, ...]:
    """Events whose first period is `period`: the market news announced when it opens."""
    return tuple(e for e in scenario.events if e.period == period)


def announced_events(scenario: Scenario, period: int) -> tuple[Event, ...]:
    """The market news of `period`: events announced ahead (``announce_before`` periods before they start)
    and events starting now, in scenario order."""
    return tuple(e for e in scenario.events if period in (e.period, e.period - e.announce_before))


@dataclass(frozen=True)
class EventEffects:
    """What the scheduled events do to one period.

    Attributes:
        cost_shocks: magnitudes of the cost shocks starting now, in scenario order
            (each multiplies every firm's unit cost, permanently).
        purchase_factor: product of the active recessions' and booms' magnitudes.
        outside_boost: sum of the active new entrants' magnitudes (added to a defector's outside option).
        scandals: (firm, magnitude) of each scandal starting now, in scenario order.
    """

    cost_shocks: tuple[float, ...] = ()
    purchase_factor: float = 1.0
    outside_boost: float = 0.0
    scandals: tuple[tuple[int, float], ...] = ()

    def unit_cost_factor(self, before: float) -> float:
        """The game's unit-cost factor after this period's cost shocks, from the factor `before` them."""
        for magnitude in self.cost_shocks:
            before *= magnitude
        return before


def event_effects(scenario: Scenario, period: int) -> EventEffects:
    """The effects of the events active in `period` (cost shocks and scandals act in their first period only)."""
    shocks: list[float] = []
    scandals: list[tuple[int, float]] = []
    purchase_factor, outside_boost = 1.0, 0.0
    for e in active_events(scenario, period):
        if e.kind in ("recession", "boom"):
            purchase_factor *= e.magnitude
        elif e.kind == "new_entrant":
            outside_boost += e.magnitude
        elif e.kind == "cost_shock" and e.period == period:
            shocks.append(e.magnitude)
        elif e.kind == "scandal" and e.period == period:
            scandals.append((e.firm, e.magnitude))
    return EventEffects(tuple(shocks), purchase_factor, outside_boost, tuple(scandals))


def unit_cost_factor_in(scenario: Scenario, period: int) -> float:
    """The game's unit-cost factor in `period`, after its cost shocks: every cost shock up to it multiplied in
    period order, as the engine carries it from period to period (``GameState.unit_cost_factor``)."""
    factor = 1.0
    for t in range(1, period + 1):
        factor = event_effects(scenario, t).unit_cost_factor(factor)
    return factor
