"""Firms as Mesa agents: each holds its firm's state and, for a bot seat, the strategy that decides for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa

from crmsim.agents.bots import Strategy
from crmsim.sim.engine import bot_rng
from crmsim.sim.state import FirmState

if TYPE_CHECKING:
    from crmsim.sim.observation import Observation


class FirmAgent(mesa.Agent):
    """One competing firm (a student team or a bot).

    Attributes:
        firm: the firm's state after the last resolved period (a frozen FirmState).
        strategy: the bot deciding for this seat, or None for a human team.
        seed: the game seed; a bot draws from ``bot_rng(seed, firm, period)``, apart from the engine's stream.
        last_row: the firm's metrics row of the last resolved period.
    """

    def __init__(self, model: mesa.Model, firm: FirmState, strategy: Strategy | None, seed: int):
        super().__init__(model)
        self.firm = firm
        self.strategy = strategy
        self.seed = seed
        self.last_row: dict[str, Any] | None = None
        self.recorded_label: str | None = None  # a replayed seat keeps the label of the seat it replays

    @property
    def index(self) -> int:
        return self.firm.index

    @property
    def name(self) -> str:
        return self.firm.name

    @property
    def is_bot(self) -> bool:
        return self.strategy is not None

    @property
    def label(self) -> str:
        if self.recorded_label:
            return self.recorded_label
        return self.strategy.name if self.strategy else "human"

    def decide(self, obs: Observation) -> dict[str, Any] | None:
        """The bot's raw decision for this period (None: keep the standing decision)."""
        if self.strategy is None or self.firm.bankrupt:
            return None
        return self.strategy.decide(obs, bot_rng(self.seed, self.index, obs.period))
