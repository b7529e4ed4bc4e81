"""A researcher's own strategies, written outside the crmsim package (the worked example in docs/research.md).

Nothing here is registered with crmsim: the batch commands name the class by ``module:Class``,

    cd docs/examples
    crmsim tournament classroom-v1 --strategies balanced,premium,adaptive \\
        --strategy my_strategies:LoyaltyFirst --strategy "my_strategies:LoyaltyFirst(care_factor=4.0)" \\
        --seeds 2 --max-lineups 30 --workers 2 --out out/loyalty

or Python passes instances (``tournament(..., [LoyaltyFirst(), LoyaltyFirst(care_factor=4.0), "premium"])``).
An installed package offers a strategy by name through an entry point in its pyproject.toml::

    [project.entry-points."crmsim.strategies"]
    loyalty_first = "my_strategies:LoyaltyFirst"

The dataclass fields are the strategy's parameters: a spec sets them (``LoyaltyFirst(care_factor=4.0)``),
and tables and run ids name each variant by the fields that differ from the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from crmsim.agents.bots import Balanced, RawDecision
from crmsim.sim.observation import Observation


@dataclass
class LoyaltyFirst(Balanced):
    """The balanced bot's prices and bids, but it spends to keep the customers it has.

    Care spending is the balanced bot's times `care_factor`, and service never drops below
    `service_floor` (more satisfied customers defect less; both cost money every period).
    """

    name: ClassVar[str] = "loyalty_first"
    description: ClassVar[str] = "Balanced prices and bids; generous care and service to keep its customers."
    care_factor: float = 2.0
    service_floor: float = 0.75

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        decision = super().decide(obs, rng)
        decision["care_budget"] = round(decision["care_budget"] * self.care_factor, 2)
        decision["service_level"] = max(decision["service_level"], self.service_floor)
        return decision
