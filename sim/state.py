"""The game's state between periods: firms, tenders, contracts, relationships, customers.

Every class here is frozen; a period produces a new GameState (arrays it did
not change are shared, never written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crmsim.agents.population import Population
from crmsim.scenarios.schema import Scenario
from crmsim.sim.decisions import Decision
from crmsim.sim.lifecycle import Relationships

FirmIndex = int
ClientId = str
TenderId = str


@dataclass(frozen=True)
class FirmState:
    """One firm's books and operations at the start of a period."""

    index: FirmIndex
    name: str
    cash: float
    debt: float
    emergency_debt: float
    sales_staff: int
    service_staff: int
    unit_cost: float
    reputation: float
    awareness: float
    wom: float
    standing: Decision  # kept if the firm submits nothing
    cum_operating_profit: float = 0.0
    bankrupt: bool = False
    bankrupt_period: int | None = None

    @property
    def equity(self) -> float:
        return self.cash - self.debt - self.emergency_debt

    @property
    def live(self) -> bool:
        return not self.bankrupt


@dataclass(frozen=True)
class Tender:
    """A key client's call for bids (标书), open in one period."""

    id: TenderId
    client: ClientId
    period: int  # the period whose resolution awards it (its deadline)
    issued: int  # the period of its first issue
    volume: float
    price_cap: float
    required_service: float
    closed: bool
    min_relationship: float
    w_price: float
    w_service: float
    w_relationship: float
    min_valid_bids: int
    load_per_unit: float
    reissue: int = 0  # 0 for a first issue, n for the n-th re-issue after a failure
    award: str = "scoring"  # "scoring" (综合评分法) or "lowest_price" (最低价中标)
    min_stage: int | None = None  # lifecycle cultivation: an invited tender needs this stage (index into STAGES)

    @property
    def weights(self) -> tuple[float, float, float]:
        """The (price, service, relationship) weights bids are scored with: price alone for a lowest-price tender."""
        return (1.0, 0.0, 0.0) if self.award == "lowest_price" else (self.w_price, self.w_service, self.w_relationship)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Contract:
    """A won tender, delivered in `deliver_period` at the bid price."""

    tender_id: TenderId
    client: ClientId
    firm: FirmIndex
    volume: float
    price: float
    promised_service: float
    deliver_period: int
    load: float  # service capacity it takes, in customer-equivalents
    bond: float

    @property
    def value(self) -> float:
        return self.volume * self.price


@dataclass(frozen=True)
class GameState:
    """Everything needed to resolve the next period.

    ``relationship`` and ``client_satisfaction`` are (firms, clients) arrays in
    the scenario's client order.
    """

    scenario: Scenario
    seed: int
    period: int  # the next period to resolve, 1-based; > scenario.periods when the game is over
    firms: tuple[FirmState, ...]
    relationship: np.ndarray
    client_satisfaction: np.ndarray
    population: Population
    tenders: tuple[Tender, ...]  # open for this period
    contracts: tuple[Contract, ...]  # won, not yet delivered
    tender_ids: frozenset[TenderId]  # every tender ever published in this game
    unit_cost_factor: float = 1.0
    lifecycle: Relationships | None = None  # lifecycle cultivation: every firm-client stage (None: spend mode)

    @property
    def finished(self) -> bool:
        return self.period > self.scenario.periods or not any(f.live for f in self.firms)

    @property
    def live_firms(self) -> tuple[FirmState, ...]:
        return tuple(f for f in self.firms if f.live)

    def firm_by_name(self, name: str) -> FirmState:
        for f in self.firms:
            if f.name == name:
                return f
        raise KeyError(name)
