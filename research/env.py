"""Learning environments of the CRM bidding game: a PettingZoo ParallelEnv (one agent per firm) and a
single-firm Gymnasium env against strategy bots. Both call the engine's pure ``resolve_period``; the
action and observation vectors are made by the codec, research/codec.py (``FirmCodec``).

Description:
    The classroom CRM game (客户关系管理模拟) as a simultaneous-move, general-sum
    game. Each agent runs one firm (``"firm_0"`` .. ``"firm_{n-1}"``). All agents
    decide at once, then the engine resolves the period with
    ``resolve_period(state, decisions, period_rng(seed, period))``, exactly as
    :class:`crmsim.sim.model.CRMModel` does. So a game played here and the same
    decisions played in the model give identical results.
Actions:
    A flat ``Box(float32)`` of shape ``(7 + C + 3K,)``, where C is the number of
    key clients and K the number of tender slots (``max_tenders``; default C,
    since a client never has two tenders open at once). ``FirmCodec.action_names``
    names every entry.

    ====  ==========================  =======  =========================================
    idx   name                        range    meaning
    ====  ==========================  =======  =========================================
    0     price                       [0, 1]   x market.price_cap, rounded to cents
    1     service_level               [0, 1]   rounded to 1e-4
    2     care_budget                 [0, 1]   x care_max, cents
    3     advertising_budget          [0, 1]   x advertising_max, cents
    4     sales_staff_change          [-1, 1]  x staff_scale, rounded: >0 hires, <0 fires
    5     service_staff_change        [-1, 1]  the same for service staff
    6     finance                     [-1, 1]  >0 borrows that share of the credit room,
                                               <0 repays that share of what can be repaid
    7..   cultivation.<client>        [0, 1]   x cultivation_max, one per client (scenario order)
    ..    slot<k>.bid                 [0, 1]   >= 0.5 bids on the slot's tender
    ..    slot<k>.price               [0, 1]   x the tender's price cap, cents
    ..    slot<k>.promised_service    [0, 1]   rounded to 1e-4
    ====  ==========================  =======  =========================================

    Slot k is the k-th open tender in sorted tender-id order (``info["tender_slots"]``
    lists them); slots beyond the open tenders are ignored. An action is turned
    into a raw decision and validated with :func:`crmsim.sim.engine.check_decision`. What
    the engine would reject is repaired deterministically, never raised, and each
    repair is listed in ``info["repairs"]``: NaN entries read as 0 and entries are
    clipped to the space; prices below one cent are raised to 0.01; hires are
    capped at ``costs.max_hire_per_period`` and fires at the staff the firm has;
    borrowing and repayment are capped at what the firm may borrow or repay;
    cultivated clients beyond what the sales staff (after hiring and firing) can
    cover keep the largest spends (ties: scenario order); bids beyond the sales
    staff's bid limit keep the strongest bid flags (ties: slot order). If the
    engine still rejected the result, the firm would keep its standing decision
    and bid nothing. Bid bonds the firm cannot pay are not repaired: the tender
    office voids such bids (NO_BOND), as it would for a team. An agent left out
    of the action dict (or given None) submits nothing and keeps its standing
    decision, as a silent team does.
    ``FirmCodec.to_action`` turns a raw decision (a bot's, a team's) into an
    action that decodes back to it.
Observations:
    What the firm's team sees (:func:`crmsim.sim.observation.observe`), as a flat
    ``Box(float32)`` with fixed shape and finite bounds: shares and levels lie in
    [0, 1]; scaled amounts are clipped to [0, 10] or [-10, 10]; NaN reads as 0.
    ``FirmCodec.observation_names`` names every entry.
    Blocks: the firm's own position (period, cash, debt, credit room, customers,
    staff, load, unit cost, reputation, awareness, word of mouth, standing
    decision); its own metrics row of last period (score and components, rank,
    revenue, profit, satisfaction, retention, utilisation...); per client its
    relationship, client satisfaction, strongest rival relationship, standing
    cultivation and last period's winning price; per tender slot the open
    tender's terms (client one-hot, volume, cap, required service, invited or
    open, weights, re-issue) and the firm's standing with it (eligibility, cost
    and load ratios), zeros for an empty slot; the public market report of last
    period, one row per firm, own row first, then rivals in seat order after it;
    the news of the period (recession/boom, cost shock, new entrant, scandals).
    Money is in units of the starting cash (``money_scale``).
Rewards:
    ``reward="score_delta"`` (default): the change of the firm's scorecard score
    (0-100 points; the score before period 1 counts as 0, so an episode's return
    is the firm's final score, 0 for a bankrupt firm). ``"profit"``: the period's
    operating profit / ``money_scale``. ``"score"``: the score level.
Starting state:
    :func:`crmsim.sim.engine.initial_state` for the scenario and seed: every firm as the
    scenario sets it up, the customer population drawn, period-1 tenders open.
Episode end:
    A firm that goes bankrupt is terminated (``terminations[agent] = True``) and
    leaves ``env.agents`` after that step. After the scenario's last period every
    remaining agent is terminated too: the game is over (a real end, not a time
    limit, so ``truncations`` stay False).
Version history:
    v1: first release (classroom-v1 rules; ``crmsim_v1``, ``crmsim/SingleFirm-v1``).

Determinism: ``reset(seed=s)`` plays game seed ``s`` (the engine's
``period_rng(s, period)``; bots use ``bot_rng(s, firm, period)``), so the same
seed and actions give the same observations and rewards, and the same game as
``CRMModel(scenario, seed=s)``. ``reset()`` without a seed draws the next game
seed from a generator seeded by the last explicit seed (from entropy if none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from crmsim.agents.bots import Strategy, make_bot
from crmsim.research.codec import FirmCodec
from crmsim.scenarios import Scenario, scenario_with_overrides
from crmsim.sim.decisions import Decision
from crmsim.sim.engine import PeriodResult, bot_decisions, initial_state, period_rng, resolve_period
from crmsim.sim.state import GameState

AgentID = str
RewardKind = Literal["score_delta", "profit", "score"]

REWARD_KINDS = ("score_delta", "profit", "score")
RENDER_MODES = ("human", "ansi")
DEFAULT_OPPONENTS = ("balanced", "premium", "price_cutter", "relationship", "adaptive")
SEED_BOUND = 2**31 - 1  # game seeds drawn by an unseeded reset lie in [0, SEED_BOUND)


def reward_of(kind: str, row: Mapping[str, Any], previous_score: float, money_scale: float) -> float:
    """One firm's reward for a period from its engine row (``PeriodResult.firm_rows[firm]``)."""
    if kind == "score_delta":
        return float(row["score"]) - previous_score
    if kind == "profit":
        return float(row["operating_profit"]) / money_scale
    return float(row["score"])


def _check_reward(reward: str) -> str:
    if reward not in REWARD_KINDS:
        raise ValueError(f"reward: must be one of {', '.join(REWARD_KINDS)}; got {reward!r}")
    return reward


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode: must be None or one of {', '.join(RENDER_MODES)}; got {render_mode!r}")
    return render_mode


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a whole number >= 0 or None; got {seed!r}")
    return int(seed)


def render_text(state: GameState | None, results: Sequence[PeriodResult], seed: int | None) -> str:
    """A text scoreboard: the last resolved period's rows, or the starting position."""
    if state is None:
        return "(not reset)"
    sc = state.scenario
    done = "game over" if state.finished else f"next period {state.period} of {sc.periods}"
    lines = [f"{sc.name}, seed {seed}: {done}"]
    lines.append(f"  {'firm':<8}{'name':<12}{'cash':>12}{'customers':>11}{'score':>8}{'rank':>6}")
    rows = results[-1].firm_rows if results else None
    for f in state.firms:
        customers = rows[f.index]["customers"] if rows else float((state.population.supplier == f.index).sum())
        score = f"{rows[f.index]['score']:.1f}" if rows else "-"
        rank = str(rows[f.index]["rank"]) if rows else "-"
        flag = "  bankrupt" if f.bankrupt else ""
        lines.append(f"  firm_{f.index:<3}{f.name[:11]:<12}{f.cash:>12,.0f}{customers:>11,.0f}{score:>8}{rank:>6}{flag}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# the multi-agent environment


class _TextRender:
    """render() and close() shared by both environments (text only: 'ansi' returns it, 'human' prints it)."""

    render_mode: str | None
    game: GameState
    results: list
    game_seed: int | None

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = render_text(self.game, self.results, self.game_seed)
        if self.render_mode == "ansi":
            return text
        print(text)
        return None

    def close(self) -> None:
        pass


class CRMParallelEnv(_TextRender, ParallelEnv):
    """The CRM bidding game as a PettingZoo ParallelEnv, one agent per firm (rules sheet: the module docstring).

    Args:
        scenario: a Scenario, or the name or path of one.
        overrides: dotted scenario keys to set, e.g. ``{"market.customers": 1500}``.
        reward: ``"score_delta"``, ``"profit"`` or ``"score"``.
        max_tenders: tender slots (default: the scenario's number of clients).
        render_mode: None, ``"human"`` (prints after reset and each step) or ``"ansi"`` (render returns the text).
        care_max, advertising_max, cultivation_max, staff_scale: action scales (see :class:`FirmCodec`).

    Attributes:
        game: the engine's GameState (None before reset).
        results: the PeriodResults of the periods played.
        game_seed: the seed of the current game.
        codec: the action and observation codec.
    """

    metadata = {"render_modes": list(RENDER_MODES), "name": "crmsim_v1", "render_fps": 1}

    def __init__(
        self,
        scenario: Scenario | str | Path = "classroom-v1",
        overrides: Mapping[str, Any] | None = None,
        reward: RewardKind = "score_delta",
        max_tenders: int | None = None,
        render_mode: str | None = None,
        *,
        care_max: float | None = None,
        advertising_max: float | None = None,
        cultivation_max: float | None = None,
        staff_scale: int | None = None,
    ):
        self.scenario = scenario_with_overrides(scenario, overrides)
        self.reward_kind = _check_reward(reward)
        self.render_mode = _check_render_mode(render_mode)
        self.codec = FirmCodec(self.scenario, max_tenders, care_max, advertising_max, cultivation_max, staff_scale)
        self.possible_agents: list[AgentID] = [f"firm_{i}" for i in range(self.scenario.firms.count)]
        self.agents: list[AgentID] = []
        self.observation_spaces = {a: self.codec.observation_space() for a in self.possible_agents}
        self.action_spaces = {a: self.codec.action_space() for a in self.possible_agents}
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.game: GameState | None = None
        self.results: list[PeriodResult] = []
        self.game_seed: int | None = None
        self._seeds: np.random.Generator | None = None
        self._score: dict[int, float] = {}

    def observation_space(self, agent: AgentID) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Box:
        return self.action_spaces[agent]

    def firm_index(self, agent: AgentID) -> int:
        """The firm index an agent plays."""
        try:
            return self._index[agent]
        except KeyError:
            raise ValueError(f"agent: must be one of {', '.join(self.possible_agents)}; got {agent!r}") from None

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.game_seed = _check_seed(seed)
            self._seeds = np.random.default_rng(self.game_seed)
        else:
            if self._seeds is None:
                self._seeds = np.random.default_rng()
            self.game_seed = int(self._seeds.integers(0, SEED_BOUND))
        self.game = initial_state(self.scenario, self.game_seed)
        self.results = []
        self.agents = list(self.possible_agents)
        self._score = dict.fromkeys(range(len(self.possible_agents)), 0.0)
        obs = {a: self.codec.observe(self.game, self._index[a], self.results) for a in self.agents}
        infos = {a: self._info(self._index[a]) for a in self.agents}
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def step(self, actions: Mapping[AgentID, Any]):
        if self.game is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("every agent is done; call reset() to start a new game")
        for a in actions:
            self.firm_index(a)  # unknown names are a caller's bug: name them
        live = list(self.agents)
        decisions: dict[int, Decision] = {}
        repairs: dict[int, tuple[str, ...]] = {}
        for a in live:
            if a in actions and actions[a] is not None:
                i = self._index[a]
                decisions[i], repairs[i] = self.codec.to_decision(self.game, i, actions[a])
        period = self.game.period
        self.game, result = resolve_period(self.game, decisions, period_rng(self.game_seed, period))
        self.results.append(result)
        over = self.game.finished
        obs, rewards, terms, truncs, infos = {}, {}, {}, {}, {}
        for a in live:
            i = self._index[a]
            row = result.firm_rows[i]
            rewards[a] = reward_of(self.reward_kind, row, self._score[i], self.codec.money_scale)
            self._score[i] = float(row["score"])
            terms[a] = bool(row["bankrupt"]) or over
            truncs[a] = False
            obs[a] = self.codec.observe(self.game, i, self.results)
            infos[a] = self._info(i, row, result, repairs.get(i, ()))
        self.agents = [a for a in live if not terms[a]]
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    def _info(self, i: int, row: Mapping[str, Any] | None = None, result: PeriodResult | None = None,
              repairs: tuple[str, ...] = ()) -> dict[str, Any]:
        return _info(self.game, i, row, result, repairs)

    def decision_to_action(self, agent: AgentID, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """The action standing for a raw decision of `agent` now (see :meth:`FirmCodec.to_action`)."""
        return self.codec.to_action(self.game, self.firm_index(agent), raw)


def _info(state: GameState, i: int, row: Mapping[str, Any] | None, result: PeriodResult | None,
          repairs: tuple[str, ...]) -> dict[str, Any]:
    f = state.firms[i]
    info: dict[str, Any] = {
        "firm": i,
        "name": f.name,
        "period": state.period,  # the next period to decide
        "tender_slots": tuple(t.id for t in FirmCodec.slots(state)),
    }
    if row is not None and result is not None:
        info.update(
            resolved=result.period,
            score=float(row["score"]),
            rank=int(row["rank"]),
            bankrupt=bool(row["bankrupt"]),
            operating_profit=float(row["operating_profit"]),
            repairs=tuple(repairs),
            decision=result.decisions[i].to_dict() if i in result.decisions else None,
        )
    return info


# ---------------------------------------------------------------------------
# one learning firm against bots


class CRMSingleFirmEnv(_TextRender, gymnasium.Env):
    """One learning firm against strategy bots, as a Gymnasium Env (rules sheet: the module docstring).

    The other seats are played by bots, in seat order, each deciding from its own
    view with ``bot_rng(seed, seat, period)`` as in :class:`crmsim.sim.model.CRMModel`.
    The episode ends when the learning firm goes bankrupt or the game ends.

    Args:
        scenario: a Scenario, or the name or path of one.
        opponents: bot names or Strategy objects for the other seats, repeated to fill them.
        firm: the learning firm's seat index.
        overrides: dotted scenario keys to set.
        reward: ``"score_delta"``, ``"profit"`` or ``"score"``.
        max_tenders, render_mode, care_max, advertising_max, cultivation_max, staff_scale: as :class:`CRMParallelEnv`.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(
        self,
        scenario: Scenario | str | Path = "classroom-v1",
        opponents: Sequence[str | Strategy] = DEFAULT_OPPONENTS,
        firm: int = 0,
        overrides: Mapping[str, Any] | None = None,
        reward: RewardKind = "score_delta",
        max_tenders: int | None = None,
        render_mode: str | None = None,
        *,
        care_max: float | None = None,
        advertising_max: float | None = None,
        cultivation_max: float | None = None,
        staff_scale: int | None = None,
    ):
        self.scenario = scenario_with_overrides(scenario, overrides)
        n = self.scenario.firms.count
        if isinstance(firm, bool) or not isinstance(firm, (int, np.integer)) or not 0 <= firm < n:
            raise ValueError(f"firm: must be a seat index in [0, {n - 1}]; got {firm!r}")
        if isinstance(opponents, str) or not opponents:
            raise ValueError(f"opponents: must be a non-empty sequence of bot names or Strategy objects; got {opponents!r}")
        if len(opponents) > n - 1:
            raise ValueError(f"opponents: the scenario seats {n - 1} opponents; got {len(opponents)}")
        self.firm = int(firm)
        self.reward_kind = _check_reward(reward)
        self.render_mode = _check_render_mode(render_mode)
        self.codec = FirmCodec(self.scenario, max_tenders, care_max, advertising_max, cultivation_max, staff_scale)
        seats = [j for j in range(n) if j != self.firm]
        self.bots: dict[int, Strategy] = {
            j: make_bot(s) if isinstance(s, str) else s for j, s in zip(seats, [opponents[k % len(opponents)] for k in range(n - 1)])
        }
        self.action_space = self.codec.action_space()
        self.observation_space = self.codec.observation_space()
        self.game: GameState | None = None
        self.results: list[PeriodResult] = []
        self.game_seed: int | None = None
        self._score = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            seed = _check_seed(seed)
        super().reset(seed=seed)
        self.game_seed = seed if seed is not None else int(self.np_random.integers(0, SEED_BOUND))
        self.game = initial_state(self.scenario, self.game_seed)
        self.results = []
        self._score = 0.0
        if self.render_mode == "human":
            self.render()
        return self.codec.observe(self.game, self.firm, self.results), _info(self.game, self.firm, None, None, ())

    def step(self, action: Any):
        if self.game is None:
            raise RuntimeError("call reset() before step()")
        if self.game.finished or self.game.firms[self.firm].bankrupt:
            raise RuntimeError("the episode is over; call reset() to start a new game")
        decisions = self._bot_decisions()
        decisions[self.firm], repairs = self.codec.to_decision(self.game, self.firm, action)
        self.game, result = resolve_period(self.game, decisions, period_rng(self.game_seed, self.game.period))
        self.results.append(result)
        row = result.firm_rows[self.firm]
        reward = reward_of(self.reward_kind, row, self._score, self.codec.money_scale)
        self._score = float(row["score"])
        terminated = bool(row["bankrupt"]) or self.game.finished
        obs = self.codec.observe(self.game, self.firm, self.results)
        info = _info(self.game, self.firm, row, result, repairs)
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, info

    def _bot_decisions(self) -> dict[int, Decision]:
        return bot_decisions(self.game, self.bots, self.results, self.game_seed)

    def decision_to_action(self, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """The action standing for a raw decision of the learning firm now (see :meth:`FirmCodec.to_action`)."""
        return self.codec.to_action(self.game, self.firm, raw)


SINGLE_FIRM_ID = "crmsim/SingleFirm-v1"
if SINGLE_FIRM_ID not in gymnasium.registry:
    gymnasium.register(id=SINGLE_FIRM_ID, entry_point="crmsim.research.env:CRMSingleFirmEnv")


def parallel_env(**kwargs: Any) -> CRMParallelEnv:
    """PettingZoo-style constructor: ``parallel_env(overrides={"market.customers": 1500})``."""
    return CRMParallelEnv(**kwargs)
