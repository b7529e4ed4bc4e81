"""Learning environments of the CRM bidding game: a PettingZoo ParallelEnv (one agent per firm) and a
single-firm Gymnasium env against strategy bots. Both call the engine's pure ``resolve_period``; the
action and observation vectors are made by the codec, research/codec.py (``FirmCodec``), from the same
:class:`~crmsim.sim.observation.Observation` bots decide from.

Description:
    The classroom CRM game (客户关系管理模拟) as a simultaneous-move, general-sum
    game. Each agent runs one firm (``"firm_0"`` .. ``"firm_{n-1}"``). All agents
    decide at once, then the engine resolves the period with
    ``resolve_period(state, decisions, period_rng(seed, period))``, exactly as
    :class:`crmsim.sim.model.CRMModel` does. So a game played here and the same
    decisions played in the model give identical results. Every shipped scenario
    plays, both versions of the rules: classroom-v2 (the default: lifecycle
    cultivation, research, retention, care by tier) and the first-version ones.
Actions (residual control):
    Each period a firm has a **baseline decision**: ``baseline="standing"`` (the
    default) is its standing decision with no one-off moves (no hires, bids,
    activities, research or loans); ``baseline="<bot spec>"`` (``"balanced"``,
    ``"premium(price_premium=1.2)"``, a Strategy instance) is what that bot would
    decide for the firm from the firm's own view, with the seat's bot generator
    ``bot_rng(seed, firm, period)``. An action is a flat ``Box(-1, 1, float32)``
    of adjustments around the baseline: **the zero action is the baseline
    decision exactly**. ``FirmCodec.action_names`` names every entry; an entry
    of +-1 moves its field by one step of ``ActionScales`` (``scales=`` overrides
    them):

    ==============================  ===========================================================
    entry                           meaning (b: the baseline's value)
    ==============================  ===========================================================
    price                           b x (1 + 0.1 a), cents, at most market.price_cap
    service_level                   b + 0.1 a, in [0, 1]
    care_budget                     b + a x costs.care_scale x an even share of the market / 5
    advertising_budget              b + a x costs.advertising_scale / 8
    sales_staff_change              b's net hires + round(a) heads (half away from zero: 0.5 -> 1, -0.5 -> -1)
    service_staff_change            b's net hires + round(2 a) heads
    finance                         b's net borrowing + a x credit_line / 4 (borrow if > 0, repay if < 0)
    retention_budget                b + a x crm.retention_scale x an even share / 50 (crm.retention_offered)
    care_split.A/B/C                each tier's share x 2^a, renormalised (crm.tier_care)
    research.survey                 b + round(200 a) customers (research.offered)
    research.forecast               a flag: >= 0.5 buys, <= -0.5 does not, between: as b
    research.rivals.<client>        a flag per client
    cultivation.<client>            b + a x tenders.cultivation_scale / 4 (cultivating by spend)
    activities.<client>             b's plan moved a x (rungs - 1) rungs up or down the client's stage
                                    ladder (lifecycle cultivation; see below)
    slot<k>.bid                     a flag: bid on the slot's tender (>= 0.5), withdraw b's bid (<= -0.5)
    slot<k>.price                   b's bid price (or the reference bid's) + a x (cap - own cost) / 2,
                                    kept within [own delivery cost, cap]
    slot<k>.promised_service        b's promise (or the required service) + 0.2 a, in [required, 1]
    ==============================  ===========================================================

    Lifecycle **ladders**: at each stage, the plans a client can get: every set
    of the activities that count at that stage, fewest sales hours first. At
    考察期 evaluation: none, visit, demo, visit + demo. The decoder only ever
    produces activities that count at the client's stage.
    Slot k is the k-th open tender in sorted tender-id order (``info["tender_slots"]``);
    a new bid starts from the **reference bid**: the required service, priced at
    the middle of the range between own delivery cost and the cap.

    **Action mask.** ``info["action_mask"]`` (and ``env.action_masks()``, the
    method MaskablePPO-style code calls) is a boolean vector over the action
    entries: False where an entry cannot change the decision now, and the
    decoder ignores it: the entries of an empty slot or of a tender the firm
    cannot bid on (an invited tender below the client's stage or relationship,
    a tender whose cap is below the firm's own delivery cost, no sales staff to
    bid even with the most hires the action allows), a client's activities when
    none counts at its stage, finance with neither credit room nor debt to repay.

    **Repairs.** What the engine would reject is repaired deterministically,
    never raised, and each repair is listed in ``info["repairs"]``: NaN entries
    read as 0 and entries are clipped to [-1, 1]; prices below one cent are
    raised to 0.01; hires are capped at ``costs.max_hire_per_period`` and fires
    at the staff the firm has; borrowing and repayment are capped at what the
    firm may borrow or repay; cultivated clients beyond what the sales staff
    cover keep the largest spends; activities beyond the sales hours step down
    the plans with the lowest entries; bids beyond the bid limit keep the
    strongest bid flags (ties: slot order). Bid bonds the firm cannot pay are
    not repaired: the tender office voids such bids (NO_BOND), as it would for
    a team. An agent left out of the action dict (or given None) submits
    nothing and keeps its standing decision, as a silent team does.
    ``env.decision_to_action(raw)`` turns a raw decision (a bot's, a team's)
    into the residual that decodes back to it, as far as one step reaches.
Observations:
    What the firm's team sees (its :class:`~crmsim.sim.observation.Observation`)
    and its baseline, as a flat ``Box(float32)`` with fixed shape and finite
    bounds: shares and levels lie in [0, 1]; scaled amounts are clipped to
    [0, 10] or [-10, 10]; NaN reads as 0. ``FirmCodec.observation_names`` names
    every entry. Blocks: the firm's own position (cash, debt, staff, load,
    reputation, standing decision, bid limit and sales hours; retention and
    care split where offered); its own metrics row of last period (score and
    components, rank, profit, satisfaction, ABC tiers and churn-warning at-risk
    counts...); the baseline decision; per client its relationship, the client's
    satisfaction, the strongest rival relationship shown, last period's award,
    next period's calendar (招标预告), and either the standing and baseline
    cultivation spend or the firm's own lifecycle stage, progress, periods
    without contact and the baseline plan; with research, the rival band last
    bought; per tender slot the open tender's terms (client, volume, cap,
    required service, invited, weights, award type, minimum valid bids), the
    firm's standing with it (eligible, biddable, cost and load ratios) and the
    baseline's bid; the public market report of last period, own row first;
    the news (events now, and those announced ahead); with research, last
    period's own survey. Money is in units of the starting cash.
Rewards (``reward=``):
    ``"score_delta_bankruptcy_penalty"`` (default): the change of the firm's
    scorecard score (0-100 points; the score before period 1 counts as 0), and
    in the period a firm goes bankrupt a further ``-bankruptcy_penalty`` (50) x
    the share of the game it had left (periods left including this one /
    periods). A survivor's return is its final score; a bankrupt firm's is
    below 0, and less so the longer it lasted. ``"score_delta"``: the change of
    the score alone (a survivor's return is its final score, a bankrupt firm's
    0 whenever it failed). ``"rank"``: (firms - rank) / (firms - 1) / periods
    each period (the return is the mean rank points over the game; periods
    after a bankruptcy earn nothing). ``"profit"``: the period's operating
    profit / the starting cash. ``"score"``: the score level each period.
Starting state:
    :func:`crmsim.sim.engine.initial_state` for the scenario and seed: every firm as the
    scenario sets it up, the customer population drawn, period-1 tenders open.
Episode end:
    A firm that goes bankrupt is terminated (``terminations[agent] = True``) and
    leaves ``env.agents`` after that step. After the scenario's last period every
    remaining agent is terminated too: the game is over (a real end, not a time
    limit, so ``truncations`` stay False).
Info:
    ``info`` (per agent in the ``ParallelEnv``) holds the next turn's ``action_mask``,
    ``baseline`` (the Decision the zero action stands for) and ``tender_slots``, the
    firm, its name and the next ``period``; after a step also the period ``resolved``,
    the firm's ``score``, ``rank``, ``bankrupt`` and ``operating_profit``, the
    ``decision`` it played (a Decision) and the ``repairs`` its action needed.
Version history:
    v2: residual actions in [-1, 1] around a baseline (standing or a bot), action
    masks, classroom-v2's levers and observations, the bankruptcy-penalty reward
    (default), classroom-v2 by default (``crmsim_v2``, ``crmsim/SingleFirm-v2``).
    v1: absolute actions in [0, 1], classroom-v1 rules only (``crmsim_v1``, ``crmsim/SingleFirm-v1``).

Determinism: ``reset(seed=s)`` plays game seed ``s`` (the engine's
``period_rng(s, period)``; bots use ``bot_rng(s, firm, period)``), so the same
seed and actions give the same observations and rewards, and the same game as
``CRMModel(scenario, seed=s)``. ``reset()`` without a seed draws the next game
seed from a generator seeded by the last explicit seed (from entropy if none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from crmsim.agents.bots import Strategy, make_bot
from crmsim.research.codec import ActionScales, FirmCodec
from crmsim.scenarios import Scenario, scenario_with_overrides
from crmsim.sim.decisions import Decision, DecisionError, validate_decision
from crmsim.sim.engine import PeriodResult, bot_decisions, bot_rng, initial_state, period_rng, resolve_period
from crmsim.sim.observation import Observation, PublicReport, observe, public_report
from crmsim.sim.state import GameState

AgentID = str
RewardKind = Literal["score_delta_bankruptcy_penalty", "score_delta", "rank", "profit", "score"]
BaselineSpec = str | Strategy

REWARD_KINDS = ("score_delta_bankruptcy_penalty", "score_delta", "rank", "profit", "score")
DEFAULT_REWARD = "score_delta_bankruptcy_penalty"
DEFAULT_SCENARIO = "classroom-v2"
DEFAULT_BASELINE = "standing"
BANKRUPTCY_PENALTY = 50.0  # score points a firm bankrupt in period 1 loses under the default reward
RENDER_MODES = ("human", "ansi")
DEFAULT_OPPONENTS = ("balanced", "premium", "price_cutter", "relationship", "adaptive")
SEED_BOUND = 2**31 - 1  # game seeds drawn by an unseeded reset lie in [0, SEED_BOUND)


@dataclass(frozen=True)
class Reward:
    """One reward option (module docstring, Rewards) for a scenario's size and length."""

    kind: str
    money_scale: float
    periods: int
    n_firms: int
    bankruptcy_penalty: float = BANKRUPTCY_PENALTY

    def __call__(self, row: Mapping[str, Any], previous_score: float) -> float:
        """A firm's reward for a period from its engine row (``PeriodResult.firm_rows[firm]``)."""
        kind = self.kind
        if kind in ("score_delta", "score_delta_bankruptcy_penalty"):
            r = float(row["score"]) - previous_score
            if kind == "score_delta_bankruptcy_penalty" and row["bankrupt_period"] == row["period"]:
                r -= self.bankruptcy_penalty * bankruptcy_share(int(row["period"]), self.periods)
            return r
        if kind == "rank":
            return (self.n_firms - int(row["rank"])) / max(1, self.n_firms - 1) / self.periods
        if kind == "profit":
            return float(row["operating_profit"]) / self.money_scale
        return float(row["score"])


def bankruptcy_share(period: int, periods: int) -> float:
    """The share of the game a firm bankrupt in `period` had left: (periods left including this one) / periods."""
    return (periods - period + 1) / periods


def reward_of(kind: str, row: Mapping[str, Any], previous_score: float, money_scale: float, *, periods: int = 12,
              n_firms: int = 6, bankruptcy_penalty: float = BANKRUPTCY_PENALTY) -> float:
    """One firm's reward for a period from its engine row (``PeriodResult.firm_rows[firm]``)."""
    return Reward(_check_reward(kind), money_scale, periods, n_firms, bankruptcy_penalty)(row, previous_score)


def _check_reward(reward: str) -> str:
    if reward not in REWARD_KINDS:
        raise ValueError(f"reward: must be one of {', '.join(REWARD_KINDS)}; got {reward!r}")
    return reward


def _check_penalty(penalty: Any) -> float:
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float, np.integer, np.floating)) or not 0 <= penalty < float("inf"):
        raise ValueError(f"bankruptcy_penalty: must be a finite number >= 0; got {penalty!r}")
    return float(penalty)


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode: must be None or one of {', '.join(RENDER_MODES)}; got {render_mode!r}")
    return render_mode


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a whole number >= 0 or None; got {seed!r}")
    return int(seed)


def baseline_bot(spec: BaselineSpec) -> Strategy:
    """The bot a baseline spec names (``"standing"``: the standing decision, no one-off moves)."""
    try:
        return make_bot(spec)
    except ValueError as exc:
        raise ValueError(f"baseline: {exc}") from None


def baseline_decision(bot: Strategy, ob: Observation, rng: np.random.Generator) -> Decision:
    """The baseline decision of firm `ob.firm` now: what `bot` decides from the firm's view with `rng` (the
    environments pass the seat's generator ``bot_rng(seed, firm, period)``), validated (None: the standing decision).

    A learner can lead its firm where the bot never goes (no sales staff, say), and the bot's decision may
    then break a rule: the fields the engine refuses are left out (standing or zero), so the baseline is
    always a valid decision.
    """
    raw = bot.decide(ob, rng)
    raw = dict(raw) if raw is not None else {}
    try:
        return validate_decision(raw, ob.limits)
    except DecisionError as exc:
        refused = {p.field.split(".")[0] for p in exc.problems}
        return validate_decision({k: v for k, v in raw.items() if k not in refused}, ob.limits)


@dataclass(frozen=True)
class Turn:
    """What one learning firm faces this period: its view, its baseline, the action mask and its observation vector."""

    ob: Observation
    baseline: Decision
    mask: np.ndarray
    vector: np.ndarray


def take_turn(codec: FirmCodec, state: GameState, firm: int, results: list[PeriodResult], public: PublicReport,
              bot: Strategy | None, seed: int) -> Turn:
    """Firm `firm`'s turn: its observation and baseline (None for `bot`: a firm that is out, or a game that is
    over, shows its standing decision and may change nothing)."""
    ob = observe(state, firm, results, public)
    if bot is None:
        baseline = ob.firm.standing
        return Turn(ob, baseline, np.zeros(len(codec.action_names), dtype=bool), codec.observe(ob, baseline))
    baseline = baseline_decision(bot, ob, bot_rng(seed, firm, state.period))
    return Turn(ob, baseline, codec.action_mask(ob, baseline), codec.observe(ob, baseline))


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


def _info(turn: Turn, row: Mapping[str, Any] | None = None, result: PeriodResult | None = None,
          repairs: tuple[str, ...] = ()) -> dict[str, Any]:
    """A step's info for one firm: its next turn (mask, slots, baseline) and what the period did to it."""
    ob = turn.ob
    info: dict[str, Any] = {
        "firm": ob.firm.index,
        "name": ob.firm.name,
        "period": ob.period,  # the next period to decide
        "tender_slots": tuple(t.id for t in FirmCodec.slots(ob.tenders)),
        "action_mask": turn.mask,
        "baseline": turn.baseline,
    }
    if row is not None and result is not None:
        i = ob.firm.index
        info.update(
            resolved=result.period,
            score=float(row["score"]),
            rank=int(row["rank"]),
            bankrupt=bool(row["bankrupt"]),
            operating_profit=float(row["operating_profit"]),
            repairs=tuple(repairs),
            decision=result.decisions.get(i),
        )
    return info


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
        scenario: a Scenario, or the name or path of one (default classroom-v2).
        overrides: dotted scenario keys to set, e.g. ``{"market.customers": 1500}``.
        reward: one of REWARD_KINDS (module docstring, Rewards).
        max_tenders: tender slots (default: the scenario's number of clients).
        render_mode: None, ``"human"`` (prints after reset and each step) or ``"ansi"`` (render returns the text).
        baseline: ``"standing"`` or a bot spec (or Strategy) every agent's actions are residuals around; a sequence
            (one per seat) or a mapping agent -> spec sets them apart.
        scales: :class:`~crmsim.research.codec.ActionScales`, or a mapping overriding some of the scenario's.
        bankruptcy_penalty: score points of the bankruptcy penalty (reward ``"score_delta_bankruptcy_penalty"``).

    Attributes:
        game: the engine's GameState (None before reset).
        results: the PeriodResults of the periods played.
        game_seed: the seed of the current game.
        codec: the action and observation codec.
        turns: each agent's current :class:`Turn` (its view, baseline and action mask).
    """

    metadata = {"render_modes": list(RENDER_MODES), "name": "crmsim_v2", "render_fps": 1}

    def __init__(
        self,
        scenario: Scenario | str | Path = DEFAULT_SCENARIO,
        overrides: Mapping[str, Any] | None = None,
        reward: RewardKind = DEFAULT_REWARD,
        max_tenders: int | None = None,
        render_mode: str | None = None,
        *,
        baseline: BaselineSpec | Sequence[BaselineSpec] | Mapping[AgentID, BaselineSpec] = DEFAULT_BASELINE,
        scales: ActionScales | Mapping[str, Any] | None = None,
        bankruptcy_penalty: float = BANKRUPTCY_PENALTY,
    ):
        self.scenario = scenario_with_overrides(scenario, overrides)
        self.render_mode = _check_render_mode(render_mode)
        self.codec = FirmCodec(self.scenario, max_tenders, scales)
        n = self.scenario.firms.count
        self.reward = Reward(_check_reward(reward), self.codec.money_scale, self.scenario.periods, n, _check_penalty(bankruptcy_penalty))
        self.possible_agents: list[AgentID] = [f"firm_{i}" for i in range(n)]
        self.agents: list[AgentID] = []
        self.observation_spaces = {a: self.codec.observation_space() for a in self.possible_agents}
        self.action_spaces = {a: self.codec.action_space() for a in self.possible_agents}
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.baselines = self._baselines(baseline)
        self.game: GameState | None = None
        self.results: list[PeriodResult] = []
        self.game_seed: int | None = None
        self.turns: dict[AgentID, Turn] = {}
        self._seeds: np.random.Generator | None = None
        self._score: dict[int, float] = {}

    @property
    def reward_kind(self) -> str:
        return self.reward.kind

    def _baselines(self, spec: Any) -> dict[AgentID, Strategy]:
        """One baseline bot per agent from a spec, a sequence of specs (one per seat) or a mapping agent -> spec."""
        if isinstance(spec, (str, Strategy)):
            return {a: baseline_bot(spec) for a in self.possible_agents}
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(self.possible_agents)
            if unknown:
                raise ValueError(f"baseline: unknown agents {sorted(unknown)}; agents: {', '.join(self.possible_agents)}")
            return {a: baseline_bot(spec.get(a, DEFAULT_BASELINE)) for a in self.possible_agents}
        specs = list(spec)
        if len(specs) != len(self.possible_agents):
            raise ValueError(f"baseline: one spec per seat ({len(self.possible_agents)}); got {len(specs)}")
        return {a: baseline_bot(s) for a, s in zip(self.possible_agents, specs)}

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

    def action_mask(self, agent: AgentID) -> np.ndarray:
        """The agent's action mask now (``infos[agent]["action_mask"]``)."""
        return self.turns[agent].mask

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
        self._take_turns(self.agents, live=set(self.agents))
        obs = {a: self.turns[a].vector for a in self.agents}
        infos = {a: _info(self.turns[a]) for a in self.agents}
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def _take_turns(self, agents: Sequence[AgentID], live: set[AgentID]) -> None:
        public = public_report(self.game, self.results)
        over = self.game.finished
        for a in agents:
            bot = self.baselines[a] if a in live and not over else None
            self.turns[a] = take_turn(self.codec, self.game, self._index[a], self.results, public, bot, self.game_seed)

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
                i, turn = self._index[a], self.turns[a]
                decisions[i], repairs[i] = self.codec.to_decision(turn.ob, turn.baseline, actions[a], turn.mask)
        self.game, result = resolve_period(self.game, decisions, period_rng(self.game_seed, self.game.period), track=0)  # no customer records
        self.results.append(result)
        over = self.game.finished
        rewards, terms, truncs = {}, {}, {}
        for a in live:
            i = self._index[a]
            row = result.firm_rows[i]
            rewards[a] = self.reward(row, self._score[i])
            self._score[i] = float(row["score"])
            terms[a] = bool(row["bankrupt"]) or over
            truncs[a] = False
        self._take_turns(live, live={a for a in live if not terms[a]})
        obs = {a: self.turns[a].vector for a in live}
        infos = {a: _info(self.turns[a], result.firm_rows[self._index[a]], result, repairs.get(self._index[a], ())) for a in live}
        self.agents = [a for a in live if not terms[a]]
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    def decision_to_action(self, agent: AgentID, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """The residual action standing for a raw decision of `agent` now (see :meth:`FirmCodec.to_action`)."""
        turn = self.turns[self._agent(agent)]
        return self.codec.to_action(turn.ob, turn.baseline, raw)

    def _agent(self, agent: AgentID) -> AgentID:
        self.firm_index(agent)
        return agent


# ---------------------------------------------------------------------------
# one learning firm against bots


class CRMSingleFirmEnv(_TextRender, gymnasium.Env):
    """One learning firm against strategy bots, as a Gymnasium Env (rules sheet: the module docstring).

    The other seats are played by bots, in seat order, each deciding from its own
    view with ``bot_rng(seed, seat, period)`` as in :class:`crmsim.sim.model.CRMModel`.
    The episode ends when the learning firm goes bankrupt or the game ends.

    Args:
        scenario: a Scenario, or the name or path of one (default classroom-v2).
        opponents: bot names or Strategy objects for the other seats, repeated to fill them.
        firm: the learning firm's seat index.
        overrides: dotted scenario keys to set.
        reward: one of REWARD_KINDS (module docstring, Rewards).
        max_tenders, render_mode, scales, bankruptcy_penalty: as :class:`CRMParallelEnv`.
        baseline: ``"standing"`` or the bot spec (or Strategy) the learner's actions are residuals around.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(
        self,
        scenario: Scenario | str | Path = DEFAULT_SCENARIO,
        opponents: Sequence[str | Strategy] = DEFAULT_OPPONENTS,
        firm: int = 0,
        overrides: Mapping[str, Any] | None = None,
        reward: RewardKind = DEFAULT_REWARD,
        max_tenders: int | None = None,
        render_mode: str | None = None,
        *,
        baseline: BaselineSpec = DEFAULT_BASELINE,
        scales: ActionScales | Mapping[str, Any] | None = None,
        bankruptcy_penalty: float = BANKRUPTCY_PENALTY,
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
        self.render_mode = _check_render_mode(render_mode)
        self.codec = FirmCodec(self.scenario, max_tenders, scales)
        self.reward = Reward(_check_reward(reward), self.codec.money_scale, self.scenario.periods, n, _check_penalty(bankruptcy_penalty))
        self.baseline = baseline_bot(baseline)
        seats = [j for j in range(n) if j != self.firm]
        self.bots: dict[int, Strategy] = {
            j: make_bot(s) if isinstance(s, str) else s for j, s in zip(seats, [opponents[k % len(opponents)] for k in range(n - 1)])
        }
        self.action_space = self.codec.action_space()
        self.observation_space = self.codec.observation_space()
        self.game: GameState | None = None
        self.results: list[PeriodResult] = []
        self.game_seed: int | None = None
        self.turn: Turn | None = None
        self._score = 0.0

    @property
    def reward_kind(self) -> str:
        return self.reward.kind

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            seed = _check_seed(seed)
        super().reset(seed=seed)
        self.game_seed = seed if seed is not None else int(self.np_random.integers(0, SEED_BOUND))
        self.game = initial_state(self.scenario, self.game_seed)
        self.results = []
        self._score = 0.0
        self.turn = self._take_turn(live=True)
        if self.render_mode == "human":
            self.render()
        return self.turn.vector, _info(self.turn)

    def _take_turn(self, live: bool) -> Turn:
        public = public_report(self.game, self.results)
        return take_turn(self.codec, self.game, self.firm, self.results, public, self.baseline if live else None, self.game_seed)

    def step(self, action: Any):
        if self.game is None:
            raise RuntimeError("call reset() before step()")
        if self.game.finished or self.game.firms[self.firm].bankrupt:
            raise RuntimeError("the episode is over; call reset() to start a new game")
        turn = self.turn
        decisions = bot_decisions(self.game, self.bots, self.results, self.game_seed)
        checked = set(decisions) - {self.firm}  # the bots' decisions passed check_decision against this state
        decisions[self.firm], repairs = self.codec.to_decision(turn.ob, turn.baseline, action, turn.mask)
        self.game, result = resolve_period(self.game, decisions, period_rng(self.game_seed, self.game.period), checked=checked,
                                           track=0)  # no tracked customers' records: the env never reads them
        self.results.append(result)
        row = result.firm_rows[self.firm]
        reward = self.reward(row, self._score)
        self._score = float(row["score"])
        terminated = bool(row["bankrupt"]) or self.game.finished
        self.turn = self._take_turn(live=not terminated)
        if self.render_mode == "human":
            self.render()
        return self.turn.vector, reward, terminated, False, _info(self.turn, row, result, repairs)

    def action_masks(self) -> np.ndarray:
        """The action mask now (``info["action_mask"]``), under the name MaskablePPO-style code calls."""
        if self.turn is None:
            raise RuntimeError("call reset() before action_masks()")
        return self.turn.mask

    def decision_to_action(self, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """The residual action standing for a raw decision of the learning firm now (see :meth:`FirmCodec.to_action`)."""
        return self.codec.to_action(self.turn.ob, self.turn.baseline, raw)


SINGLE_FIRM_ID = "crmsim/SingleFirm-v2"
if SINGLE_FIRM_ID not in gymnasium.registry:
    gymnasium.register(id=SINGLE_FIRM_ID, entry_point="crmsim.research.env:CRMSingleFirmEnv")


def parallel_env(**kwargs: Any) -> CRMParallelEnv:
    """PettingZoo-style constructor: ``parallel_env(overrides={"market.customers": 1500})``."""
    return CRMParallelEnv(**kwargs)
