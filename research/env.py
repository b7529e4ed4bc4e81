"""Learning environments of the CRM bidding game: a PettingZoo ParallelEnv (one agent per firm) and a
single-firm Gymnasium env against strategy bots. Both call the engine's pure ``resolve_period``.

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

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from crmsim.agents.bots import Strategy, make_bot
from crmsim.scenarios import Scenario, load_scenario, scenario_from_dict
from crmsim.sim.decisions import Decision, DecisionError
from crmsim.sim.engine import PeriodResult, bot_rng, check_decision, decision_context, initial_state, period_rng, resolve_period
from crmsim.sim.observation import observe
from crmsim.sim.state import GameState, Tender
from crmsim.sim.tenders import unit_delivery_cost

AgentID = str
RewardKind = Literal["score_delta", "profit", "score"]
Layout = list[tuple[str, float, float]]  # (name, low, high) per entry

REWARD_KINDS = ("score_delta", "profit", "score")
RENDER_MODES = ("human", "ansi")
OBS_CLIP = 10.0  # unbounded quantities are scaled, then clipped to [-OBS_CLIP, OBS_CLIP]
BID_THRESHOLD = 0.5  # a slot's bid flag at or above this bids
MIN_PRICE = 0.01  # the engine needs a price > 0: one cent
SERVICE_DECIMALS = 4
DEFAULT_OPPONENTS = ("balanced", "premium", "price_cutter", "relationship", "adaptive")
SEED_BOUND = 2**31 - 1  # game seeds drawn by an unseeded reset lie in [0, SEED_BOUND)
PUBLIC_ROW = ("present", "bankrupt", "price", "service_level", "market_share_customers", "market_share_revenue",
              "avg_satisfaction", "operating_profit", "tenders_won", "score", "rank")
NEWS = ("purchase_change", "cost_shock", "new_entrant", "scandal_self", "scandal_rival")
TENDER_TERMS = ("volume", "price_cap", "required_service", "closed", "min_relationship", "w_price", "w_service",
                "w_relationship", "reissue", "relationship", "eligible", "cost_ratio", "load_ratio")


def _cents(x: float) -> float:
    return round(float(x), 2)


def _num(x: Any, default: float = 0.0) -> float:
    """A float for an observation: None or NaN read as `default` (infinities are clipped later)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else v


def scenario_with_overrides(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """A scenario by name, path or object, with dotted overrides (``{"market.customers": 1500}``) applied."""
    if not isinstance(scenario, Scenario):
        return load_scenario(scenario, overrides=overrides)
    if not overrides:
        return scenario
    data = scenario.model_dump(mode="json")
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return scenario_from_dict(data, source=f"{scenario.name} with overrides")


# ---------------------------------------------------------------------------
# actions and observations


class FirmCodec:
    """Turns one firm's actions into engine decisions and the engine's state into its observations.

    Shared by both environments; every firm of a game has the same spaces.

    Args:
        scenario: the game's scenario.
        max_tenders: tender slots in the action and observation (default: one per client).
        care_max: care budget at action 1 (default: 4 x costs.care_scale x an even share of the market).
        advertising_max: advertising budget at action 1 (default: 2 x costs.advertising_scale).
        cultivation_max: cultivation spend per client at action 1 (default: 2 x tenders.cultivation_scale).
        staff_scale: staff hired (fired) at action +1 (-1) (default: costs.max_hire_per_period, at least 1).
    """

    def __init__(
        self,
        scenario: Scenario,
        max_tenders: int | None = None,
        care_max: float | None = None,
        advertising_max: float | None = None,
        cultivation_max: float | None = None,
        staff_scale: int | None = None,
    ):
        sc = scenario
        self.scenario = sc
        self.n_firms = sc.firms.count
        self.clients = sc.client_ids
        self.max_tenders = len(sc.clients) if max_tenders is None else int(max_tenders)
        if self.max_tenders < 0:
            raise ValueError(f"max_tenders: must be >= 0; got {max_tenders}")
        even_share = sc.market.customers / sc.firms.count
        self.care_max = float(care_max if care_max is not None else 4 * sc.costs.care_scale * even_share)
        self.advertising_max = float(advertising_max if advertising_max is not None else 2 * sc.costs.advertising_scale)
        self.cultivation_max = float(cultivation_max if cultivation_max is not None else 2 * sc.tenders.cultivation_scale)
        self.staff_scale = int(staff_scale if staff_scale is not None else max(1, sc.costs.max_hire_per_period))
        for name in ("care_max", "advertising_max", "cultivation_max", "staff_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: must be a finite number > 0; got {value!r}")
        self.money_scale = float(sc.firms.cash) if sc.firms.cash > 0 else 100_000.0
        self.max_volume = max((c.volume for c in sc.clients), default=1.0)
        self.action_layout = self._action_layout()
        self.observation_layout = self._observation_layout()
        self.action_names = tuple(n for n, _, _ in self.action_layout)
        self.observation_names = tuple(n for n, _, _ in self.observation_layout)
        self._a_low = np.array([lo for _, lo, _ in self.action_layout], dtype=np.float32)
        self._a_high = np.array([hi for _, _, hi in self.action_layout], dtype=np.float32)
        self._o_low = np.array([lo for _, lo, _ in self.observation_layout], dtype=np.float32)
        self._o_high = np.array([hi for _, _, hi in self.observation_layout], dtype=np.float32)
        self._cult0 = 7
        self._slot0 = 7 + len(self.clients)

    # -- spaces ----------------------------------------------------------

    def _action_layout(self) -> Layout:
        out: Layout = [
            ("price", 0.0, 1.0),
            ("service_level", 0.0, 1.0),
            ("care_budget", 0.0, 1.0),
            ("advertising_budget", 0.0, 1.0),
            ("sales_staff_change", -1.0, 1.0),
            ("service_staff_change", -1.0, 1.0),
            ("finance", -1.0, 1.0),
        ]
        out += [(f"cultivation.{c}", 0.0, 1.0) for c in self.clients]
        for k in range(self.max_tenders):
            out += [(f"slot{k}.bid", 0.0, 1.0), (f"slot{k}.price", 0.0, 1.0), (f"slot{k}.promised_service", 0.0, 1.0)]
        return out

    def _observation_layout(self) -> Layout:
        unit, money, pos = (0.0, 1.0), (-OBS_CLIP, OBS_CLIP), (0.0, OBS_CLIP)
        own = [
            ("period_progress", unit), ("cash", money), ("debt", pos), ("emergency_debt", pos), ("credit_room", pos),
            ("customers_share", unit), ("sales_staff", pos), ("service_staff", pos), ("load_ratio", pos),
            ("unit_cost", pos), ("reputation", unit), ("awareness", unit), ("wom", money),
            ("standing_price", unit), ("standing_service", unit), ("standing_care", pos), ("standing_advertising", pos),
        ]
        last = [
            ("present", unit), ("score", unit), ("score_financial", unit), ("score_customer", unit),
            ("score_relationship", unit), ("score_growth", unit), ("rank", unit), ("revenue", pos),
            ("operating_profit", money), ("cum_operating_profit", money), ("equity", money), ("customer_equity", money),
            ("avg_satisfaction", unit), ("retention_rate", unit), ("acquired", unit), ("lost", unit),
            ("utilisation", pos), ("delivered_quality", unit), ("resolution_rate", unit),
            ("tenders_bid", unit), ("tenders_won", unit), ("tenders_voided", unit),
        ]
        client = [("relationship", unit), ("rival_relationship_max", unit), ("client_satisfaction", unit),
                  ("standing_cultivation", pos), ("last_winning_price", pos), ("won_last", unit)]
        terms_bounds = {"volume": pos, "price_cap": pos, "cost_ratio": pos, "load_ratio": pos}
        out: Layout = [(f"own.{n}", *b) for n, b in own]
        out += [(f"last.{n}", *b) for n, b in last]
        out += [(f"client.{c}.{n}", *b) for c in self.clients for n, b in client]
        for k in range(self.max_tenders):
            out.append((f"slot{k}.present", *unit))
            out += [(f"slot{k}.client.{c}", *unit) for c in self.clients]
            out += [(f"slot{k}.{n}", *terms_bounds.get(n, unit)) for n in TENDER_TERMS]
        market_bounds = {"operating_profit": money}
        for j in range(self.n_firms):
            who = "self" if j == 0 else f"rival{j}"
            out += [(f"market.{who}.{n}", *market_bounds.get(n, unit)) for n in PUBLIC_ROW]
        news_bounds = {"purchase_change": money, "cost_shock": money}
        out += [(f"news.{n}", *news_bounds.get(n, pos)) for n in NEWS]
        return out

    def action_space(self) -> spaces.Box:
        """A new action space object (the environments cache one per agent)."""
        return spaces.Box(self._a_low.copy(), self._a_high.copy(), dtype=np.float32)

    def observation_space(self) -> spaces.Box:
        return spaces.Box(self._o_low.copy(), self._o_high.copy(), dtype=np.float32)

    def named(self, vector: np.ndarray, kind: Literal["action", "observation"] = "observation") -> dict[str, float]:
        """An action or observation vector as {entry name: value}, for reading and debugging."""
        names = self.observation_names if kind == "observation" else self.action_names
        return {n: float(v) for n, v in zip(names, np.asarray(vector).ravel())}

    @staticmethod
    def slots(state: GameState) -> tuple[Tender, ...]:
        """The open tenders in slot order (sorted by tender id)."""
        return tuple(sorted(state.tenders, key=lambda t: t.id))

    # -- action -> decision ----------------------------------------------

    def to_decision(self, state: GameState, firm: int, action: Any) -> tuple[Decision, tuple[str, ...]]:
        """The validated decision an action stands for, and the repairs it needed (see the module docstring).

        Raises:
            ValueError: the action does not have the space's shape (a caller's bug, not a bad move).
        """
        a = np.asarray(action, dtype=np.float64).ravel()
        if a.size != len(self.action_layout):
            raise ValueError(f"action: expected {len(self.action_layout)} numbers (shape ({len(self.action_layout)},)); got shape {np.shape(action)}")
        repairs: list[str] = []
        bad = ~np.isfinite(a)
        if bad.any():
            repairs.append(f"non-finite entries read as 0: {', '.join(self.action_names[i] for i in np.flatnonzero(bad))}")
            a = np.where(bad, 0.0, a)
        clipped = np.clip(a, self._a_low, self._a_high)
        out = np.flatnonzero(clipped != a)
        if out.size:
            repairs.append(f"entries outside the action space clipped: {', '.join(self.action_names[i] for i in out)}")
        raw = self._raw(state, firm, clipped, repairs)
        try:
            decision = check_decision(state, firm, raw)
        except DecisionError as exc:  # not expected: every rule is repaired above; keep the standing decision
            repairs.append(f"engine rejected the repaired decision ({'; '.join(map(str, exc.problems))}): standing decision kept, no bids")
            decision = check_decision(state, firm, {})
        return decision, tuple(repairs)

    def _raw(self, state: GameState, firm: int, a: np.ndarray, repairs: list[str]) -> dict[str, Any]:
        sc, f = self.scenario, state.firms[firm]
        price = _cents(a[0] * sc.market.price_cap)
        if price < MIN_PRICE:
            repairs.append(f"price: {price:g} raised to the minimum {MIN_PRICE:g}")
            price = MIN_PRICE
        raw: dict[str, Any] = {
            "price": min(price, sc.market.price_cap),
            "service_level": round(float(a[1]), SERVICE_DECIMALS),
            "care_budget": _cents(a[2] * self.care_max),
            "advertising_budget": _cents(a[3] * self.advertising_max),
        }
        ctx = decision_context(state, firm)  # the limits validation applies, read from one place
        sales_after = f.sales_staff
        for idx, kind in ((4, "sales"), (5, "service")):
            have = ctx.max_fire(kind)
            n = int(round(float(a[idx]) * self.staff_scale))
            if n > 0:
                hire = min(n, ctx.max_hire)
                if hire < n:
                    repairs.append(f"hire_{kind}: {n} asked, at most {ctx.max_hire} per period: hired {hire}")
                raw[f"hire_{kind}"] = hire
                change = hire
            elif n < 0:
                fire = min(-n, have)
                if fire < -n:
                    repairs.append(f"fire_{kind}: {-n} asked, {have} on staff: fired {fire}")
                raw[f"fire_{kind}"] = fire
                change = -fire
            else:
                change = 0
            if kind == "sales":
                sales_after = f.sales_staff + change
        if a[6] > 0:
            room = ctx.borrow_room
            raw["borrow"] = min(room, _cents(a[6] * room))
        elif a[6] < 0:
            most = ctx.repay_limit
            raw["repay"] = min(most, _cents(-a[6] * most))

        spend = {c: _cents(a[self._cult0 + k] * self.cultivation_max) for k, c in enumerate(self.clients)}
        spend = {c: x for c, x in spend.items() if x > 0}
        limit = ctx.client_limit(sales_after)
        if len(spend) > limit:
            order = {c: k for k, c in enumerate(self.clients)}
            keep = sorted(spend, key=lambda c: (-spend[c], order[c]))[:limit]
            repairs.append(f"cultivation: {len(spend)} clients asked, {sales_after} sales staff cultivate at most {limit}: kept the {limit} largest")
            spend = {c: spend[c] for c in self.clients if c in keep}
        raw["cultivation"] = spend

        open_tenders = self.slots(state)
        wanted: list[tuple[float, int, Tender, np.ndarray]] = []
        for k in range(self.max_tenders):
            s = a[self._slot0 + 3 * k: self._slot0 + 3 * k + 3]
            if s[0] < BID_THRESHOLD:
                continue
            if k >= len(open_tenders):  # an empty slot: nothing to bid on
                continue
            wanted.append((float(s[0]), k, open_tenders[k], s))
        limit = ctx.bid_limit(sales_after)
        if len(wanted) > limit:
            repairs.append(f"bids: {len(wanted)} asked, {sales_after} sales staff bid at most {limit}: kept the {limit} strongest bid flags")
            wanted = sorted(sorted(wanted, key=lambda w: (-w[0], w[1]))[:limit], key=lambda w: w[1])
        bids = {}
        for _, k, t, s in wanted:
            p = _cents(s[1] * t.price_cap)
            if p < MIN_PRICE:
                repairs.append(f"slot{k}.price: {p:g} raised to the minimum {MIN_PRICE:g}")
                p = MIN_PRICE
            bids[t.id] = {"price": p, "promised_service": round(float(s[2]), SERVICE_DECIMALS)}
        raw["bids"] = bids
        return raw

    # -- decision -> action ----------------------------------------------

    def to_action(self, state: GameState, firm: int, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """An action that decodes (:meth:`to_decision`) to `raw`, as far as the space can express it.

        `raw` is validated first (DecisionError if the engine rejects it); None stands for
        the standing decision with no bids. Lossy only where the space is narrower than the
        rules: spends above the action's maximum, bids above a tender's cap or on tenders
        beyond the slots, and borrowing and repaying in the same period (the net is kept).
        Prices and budgets decode to the cent and service levels to 1e-4.
        """
        d = check_decision(state, firm, raw if raw is not None else {})
        sc = self.scenario
        a = np.zeros(len(self.action_layout), dtype=np.float64)
        a[0] = d.price / sc.market.price_cap
        a[1] = d.service_level
        a[2] = d.care_budget / self.care_max
        a[3] = d.advertising_budget / self.advertising_max
        a[4] = (d.hire_sales - d.fire_sales) / self.staff_scale
        a[5] = (d.hire_service - d.fire_service) / self.staff_scale
        net = d.borrow - d.repay
        ctx = decision_context(state, firm)
        if net > 0:
            a[6] = net / max(ctx.borrow_room, 1e-12)
        elif net < 0:
            a[6] = net / max(ctx.repay_limit, 1e-12)
        for k, c in enumerate(self.clients):
            a[self._cult0 + k] = d.cultivation.get(c, 0.0) / self.cultivation_max
        for k, t in enumerate(self.slots(state)[: self.max_tenders]):
            if t.id in d.bids:
                b = d.bids[t.id]
                a[self._slot0 + 3 * k: self._slot0 + 3 * k + 3] = (1.0, b.price / t.price_cap, b.promised_service)
        return np.clip(a, self._a_low, self._a_high).astype(np.float32)

    # -- state -> observation --------------------------------------------

    def observe(self, state: GameState, firm: int, results: Sequence[PeriodResult]) -> np.ndarray:
        """Firm `firm`'s observation vector (see ``observation_names``)."""
        sc, costs = self.scenario, self.scenario.costs
        ob = observe(state, firm, list(results[-1:]))
        f, m = ob.firm, self.money_scale
        capacity = f.service_staff * costs.customers_per_service_staff
        due = sum(c.load for c in state.contracts if c.firm == firm and c.deliver_period == state.period)
        load = ob.customers + due
        st = f.standing
        v: list[float] = [
            (state.period - 1) / sc.periods,
            f.cash / m,
            f.debt / m,
            f.emergency_debt / m,
            decision_context(state, firm).borrow_room / m,
            ob.customers / sc.market.customers,
            f.sales_staff / max(1, sc.firms.sales_staff),
            f.service_staff / max(1, sc.firms.service_staff),
            load / capacity if capacity > 0 else (0.0 if load == 0 else math.inf),
            f.unit_cost / sc.market.reference_price,
            f.reputation,
            f.awareness,
            f.wom,
            st.price / sc.market.price_cap,
            st.service_level,
            st.care_budget / self.care_max,
            st.advertising_budget / self.advertising_max,
        ]
        r = ob.own_last
        n_tenders = max(1, self.max_tenders)
        if r is None:
            v += [0.0] * 22
        else:
            start = max(_num(r["customers_start"]), 1.0)
            v += [
                1.0,
                _num(r["score"]) / 100,
                _num(r["score_financial"]) / 100,
                _num(r["score_customer"]) / 100,
                _num(r["score_relationship"]) / 100,
                _num(r["score_growth"]) / 100,
                (r["rank"] - 1) / max(1, self.n_firms - 1),
                _num(r["revenue"]) / m,
                _num(r["operating_profit"]) / m,
                _num(r["cum_operating_profit"]) / m,
                _num(r["equity"]) / m,
                _num(r["customer_equity"]) / m,
                _num(r["avg_satisfaction"]) / 10,
                _num(r["retention_rate"]),
                _num(r["acquired"]) / sc.market.customers,
                _num(r["lost"]) / start,
                _num(r["utilisation"]),
                _num(r["delivered_quality"]),
                _num(r["resolution_rate"]),
                r["tenders_bid"] / n_tenders,
                r["tenders_won"] / n_tenders,
                r["tenders_voided"] / n_tenders,
            ]
        caps = {c.id: c.price_cap for c in sc.clients}
        won = {b["client"]: b for b in ob.last_bids if b["won"]}
        for c in self.clients:
            w = won.get(c)
            v += [
                ob.relationship[c],
                ob.rivals_relationship_max[c],
                ob.client_satisfaction[c] / 10,
                st.cultivation.get(c, 0.0) / self.cultivation_max,
                w["price"] / caps[c] if w else 0.0,
                1.0 if w and w["firm"] == firm else 0.0,
            ]
        open_tenders = self.slots(state)
        for k in range(self.max_tenders):
            if k >= len(open_tenders):
                v += [0.0] * (1 + len(self.clients) + len(TENDER_TERMS))
                continue
            t = open_tenders[k]
            rel = ob.relationship.get(t.client, 0.0)
            need = t.volume * t.load_per_unit
            v.append(1.0)
            v += [1.0 if c == t.client else 0.0 for c in self.clients]
            v += [
                t.volume / self.max_volume,
                t.price_cap / sc.market.reference_price,
                t.required_service,
                float(t.closed),
                t.min_relationship,
                t.w_price,
                t.w_service,
                t.w_relationship,
                t.reissue / (sc.tenders.reissue_limit + 1),
                rel,
                float(not t.closed or rel >= t.min_relationship),
                unit_delivery_cost(f.unit_cost, t.required_service, sc.tenders.service_cost_per_unit) / t.price_cap,
                need / capacity if capacity > 0 else (0.0 if need == 0 else math.inf),
            ]
        rows = {row["firm"]: row for row in ob.market}
        for j in range(self.n_firms):
            row = rows.get((firm + j) % self.n_firms)
            if row is None:
                v += [0.0] * len(PUBLIC_ROW)
                continue
            v += [
                1.0,
                float(row["bankrupt"]),
                _num(row["price"]) / sc.market.price_cap,
                _num(row["service_level"]),
                _num(row["market_share_customers"]),
                _num(row["market_share_revenue"]),
                _num(row["avg_satisfaction"]) / 10,
                _num(row["operating_profit"]) / m,
                row["tenders_won"] / n_tenders,
                _num(row["score"]) / 100,
                (row["rank"] - 1) / max(1, self.n_firms - 1),
            ]
        v += self._news(state, firm)
        x = np.asarray(v, dtype=np.float64)
        x = np.nan_to_num(x, nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP)
        return np.clip(x, self._o_low, self._o_high).astype(np.float32)

    def _news(self, state: GameState, firm: int) -> list[float]:
        t = state.period
        purchase, cost, entrant, scandal_self, scandal_rival = 1.0, 1.0, 0.0, 0.0, 0.0
        for e in self.scenario.events:
            active = e.period <= t < e.period + e.duration
            if e.kind in ("recession", "boom") and active:
                purchase *= e.magnitude
            elif e.kind == "new_entrant" and active:
                entrant += e.magnitude
            elif e.kind == "cost_shock" and e.period == t:
                cost *= e.magnitude
            elif e.kind == "scandal" and e.period == t:
                if e.firm == firm:
                    scandal_self += e.magnitude / 10
                else:
                    scandal_rival += e.magnitude / 10
        return [purchase - 1.0, cost - 1.0, entrant, scandal_self, scandal_rival]


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
        out: dict[int, Decision] = {}
        for j, bot in self.bots.items():
            if self.game.firms[j].bankrupt:
                continue
            raw = bot.decide(observe(self.game, j, self.results), bot_rng(self.game_seed, j, self.game.period))
            if raw is not None:
                try:
                    out[j] = check_decision(self.game, j, raw)
                except DecisionError as exc:
                    raise DecisionError(exc.problems, f"bot {bot.name} ({self.game.firms[j].name})") from None
        return out

    def decision_to_action(self, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """The action standing for a raw decision of the learning firm now (see :meth:`FirmCodec.to_action`)."""
        return self.codec.to_action(self.game, self.firm, raw)


SINGLE_FIRM_ID = "crmsim/SingleFirm-v1"
if SINGLE_FIRM_ID not in gymnasium.registry:
    gymnasium.register(id=SINGLE_FIRM_ID, entry_point="crmsim.research.env:CRMSingleFirmEnv")


def parallel_env(**kwargs: Any) -> CRMParallelEnv:
    """PettingZoo-style constructor: ``parallel_env(overrides={"market.customers": 1500})``."""
    return CRMParallelEnv(**kwargs)
