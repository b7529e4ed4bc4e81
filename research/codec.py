"""The learning environments' codec: one firm's action vector -> an engine decision, and the engine's
state -> the firm's observation vector.

Every entry of both vectors is declared once, by name and bounds, in the
layouts below; actions are read and observations written through dicts keyed
by those names, so the values cannot drift from the layout. The rules sheet
(what each entry means, how actions are repaired) is research/env.py's
module docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from crmsim.scenarios import Scenario
from crmsim.sim.decisions import Decision, DecisionError
from crmsim.sim.engine import PeriodResult, check_decision, decision_context
from crmsim.sim.events import event_effects
from crmsim.sim.observation import PUBLIC_FIRM_FIELDS, Observation, observe
from crmsim.sim.state import GameState, Tender
from crmsim.sim.tenders import is_invited, unit_delivery_cost

Bounds = tuple[float, float]
Layout = list[tuple[str, float, float]]  # (name, low, high) per entry

OBS_CLIP = 10.0  # unbounded quantities are scaled, then clipped to [-OBS_CLIP, OBS_CLIP]
BID_THRESHOLD = 0.5  # a slot's bid flag at or above this bids
MIN_PRICE = 0.01  # the engine needs a price > 0: one cent
SERVICE_DECIMALS = 4

UNIT: Bounds = (0.0, 1.0)
MONEY: Bounds = (-OBS_CLIP, OBS_CLIP)
POSITIVE: Bounds = (0.0, OBS_CLIP)
SHARE_CHANGE: Bounds = (-1.0, 1.0)

# -- the action layout ------------------------------------------------------------------
FIRM_ACTIONS: tuple[tuple[str, Bounds], ...] = (
    ("price", UNIT),
    ("service_level", UNIT),
    ("care_budget", UNIT),
    ("advertising_budget", UNIT),
    ("sales_staff_change", SHARE_CHANGE),
    ("service_staff_change", SHARE_CHANGE),
    ("finance", SHARE_CHANGE),
)
SLOT_ACTIONS = ("bid", "price", "promised_service")  # per tender slot, each in [0, 1]

# -- the observation layout ---------------------------------------------------------------
OWN: tuple[tuple[str, Bounds], ...] = (
    ("period_progress", UNIT), ("cash", MONEY), ("debt", POSITIVE), ("emergency_debt", POSITIVE), ("credit_room", POSITIVE),
    ("customers_share", UNIT), ("sales_staff", POSITIVE), ("service_staff", POSITIVE), ("load_ratio", POSITIVE),
    ("unit_cost", POSITIVE), ("reputation", UNIT), ("awareness", UNIT), ("wom", MONEY),
    ("standing_price", UNIT), ("standing_service", UNIT), ("standing_care", POSITIVE), ("standing_advertising", POSITIVE),
)
LAST: tuple[tuple[str, Bounds], ...] = (
    ("present", UNIT), ("score", UNIT), ("score_financial", UNIT), ("score_customer", UNIT),
    ("score_relationship", UNIT), ("score_growth", UNIT), ("rank", UNIT), ("revenue", POSITIVE),
    ("operating_profit", MONEY), ("cum_operating_profit", MONEY), ("equity", MONEY), ("customer_equity", MONEY),
    ("avg_satisfaction", UNIT), ("retention_rate", UNIT), ("acquired", UNIT), ("lost", UNIT),
    ("utilisation", POSITIVE), ("delivered_quality", UNIT), ("resolution_rate", UNIT),
    ("tenders_bid", UNIT), ("tenders_won", UNIT), ("tenders_voided", UNIT),
)
CLIENT: tuple[tuple[str, Bounds], ...] = (
    ("relationship", UNIT), ("rival_relationship_max", UNIT), ("client_satisfaction", UNIT),
    ("standing_cultivation", POSITIVE), ("last_winning_price", POSITIVE), ("won_last", UNIT),
)
TENDER_TERMS: tuple[tuple[str, Bounds], ...] = (
    ("volume", POSITIVE), ("price_cap", POSITIVE), ("required_service", UNIT), ("closed", UNIT), ("min_relationship", UNIT),
    ("w_price", UNIT), ("w_service", UNIT), ("w_relationship", UNIT), ("reissue", UNIT), ("relationship", UNIT),
    ("eligible", UNIT), ("cost_ratio", POSITIVE), ("load_ratio", POSITIVE),
)
# The public report's columns the market block encodes, in the order of PUBLIC_FIRM_FIELDS (only public ones:
# the environments see of a rival what every firm sees), after a "present" flag.
MARKET_BOUNDS: dict[str, Bounds] = {
    "bankrupt": UNIT, "price": UNIT, "service_level": UNIT, "market_share_customers": UNIT, "market_share_revenue": UNIT,
    "avg_satisfaction": UNIT, "operating_profit": MONEY, "tenders_won": UNIT, "score": UNIT, "rank": UNIT,
}
MARKET_ROW = ("present",) + tuple(f for f in PUBLIC_FIRM_FIELDS if f in MARKET_BOUNDS)
NEWS: tuple[tuple[str, Bounds], ...] = (
    ("purchase_change", MONEY), ("cost_shock", MONEY), ("new_entrant", POSITIVE), ("scandal_self", POSITIVE), ("scandal_rival", POSITIVE),
)
if set(MARKET_BOUNDS) - set(PUBLIC_FIRM_FIELDS):  # pragma: no cover - a layout bug, caught at import
    raise ValueError(f"MARKET_BOUNDS names columns that are not public: {sorted(set(MARKET_BOUNDS) - set(PUBLIC_FIRM_FIELDS))}")


def _cents(x: float) -> float:
    return round(float(x), 2)


def _num(x: Any, default: float = 0.0) -> float:
    """A float for an observation: None or NaN read as `default` (infinities are clipped later)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else v


def _ratio(need: float, capacity: float) -> float:
    """need / capacity; with no capacity, 0 for no need and infinite (clipped later) for some."""
    return need / capacity if capacity > 0 else (0.0 if need == 0 else math.inf)


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

    # -- spaces ----------------------------------------------------------

    def _action_layout(self) -> Layout:
        out: Layout = [(n, *b) for n, b in FIRM_ACTIONS]
        out += [(f"cultivation.{c}", *UNIT) for c in self.clients]
        out += [(f"slot{k}.{n}", *UNIT) for k in range(self.max_tenders) for n in SLOT_ACTIONS]
        return out

    def _observation_layout(self) -> Layout:
        out: Layout = [(f"own.{n}", *b) for n, b in OWN]
        out += [(f"last.{n}", *b) for n, b in LAST]
        out += [(f"client.{c}.{n}", *b) for c in self.clients for n, b in CLIENT]
        for k in range(self.max_tenders):
            out.append((f"slot{k}.present", *UNIT))
            out += [(f"slot{k}.client.{c}", *UNIT) for c in self.clients]
            out += [(f"slot{k}.{n}", *b) for n, b in TENDER_TERMS]
        for j in range(self.n_firms):
            out += [(f"market.{self._seat(j)}.{n}", *MARKET_BOUNDS.get(n, UNIT)) for n in MARKET_ROW]
        out += [(f"news.{n}", *b) for n, b in NEWS]
        return out

    @staticmethod
    def _seat(j: int) -> str:
        """The name of the j-th firm of the market block, counted from the observing firm."""
        return "self" if j == 0 else f"rival{j}"

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
    def _vector(names: Sequence[str], values: Mapping[str, float], what: str) -> np.ndarray:
        """The values in layout order; a value missing or not in the layout is a codec bug, named here."""
        if values.keys() != set(names):
            raise RuntimeError(f"{what}: entries {sorted(set(names) - values.keys())} missing, {sorted(values.keys() - set(names))} not in the layout")
        return np.array([values[n] for n in names], dtype=np.float64)

    @staticmethod
    def slots(state: GameState) -> tuple[Tender, ...]:
        """The open tenders in slot order (sorted by tender id)."""
        return tuple(sorted(state.tenders, key=lambda t: t.id))

    # -- action -> decision ----------------------------------------------

    def to_decision(self, state: GameState, firm: int, action: Any) -> tuple[Decision, tuple[str, ...]]:
        """The validated decision an action stands for, and the repairs it needed (see research/env.py).

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
        raw = self._raw(state, firm, dict(zip(self.action_names, clipped)), repairs)
        try:
            decision = check_decision(state, firm, raw)
        except DecisionError as exc:  # not expected: every rule is repaired above; keep the standing decision
            repairs.append(f"engine rejected the repaired decision ({'; '.join(map(str, exc.problems))}): standing decision kept, no bids")
            decision = check_decision(state, firm, {})
        return decision, tuple(repairs)

    def _raw(self, state: GameState, firm: int, act: Mapping[str, float], repairs: list[str]) -> dict[str, Any]:
        sc, f = self.scenario, state.firms[firm]
        price = _cents(act["price"] * sc.market.price_cap)
        if price < MIN_PRICE:
            repairs.append(f"price: {price:g} raised to the minimum {MIN_PRICE:g}")
            price = MIN_PRICE
        raw: dict[str, Any] = {
            "price": min(price, sc.market.price_cap),
            "service_level": round(float(act["service_level"]), SERVICE_DECIMALS),
            "care_budget": _cents(act["care_budget"] * self.care_max),
            "advertising_budget": _cents(act["advertising_budget"] * self.advertising_max),
        }
        ctx = decision_context(state, firm)  # the limits validation applies, read from one place
        sales_after = f.sales_staff + self._staffing(raw, ctx, "sales", act["sales_staff_change"], repairs)
        self._staffing(raw, ctx, "service", act["service_staff_change"], repairs)
        if act["finance"] > 0:
            room = ctx.borrow_room
            raw["borrow"] = min(room, _cents(act["finance"] * room))
        elif act["finance"] < 0:
            most = ctx.repay_limit
            raw["repay"] = min(most, _cents(-act["finance"] * most))
        raw["cultivation"] = self._cultivation(act, ctx.client_limit(sales_after), sales_after, repairs)
        raw["bids"] = self._bids(state, act, ctx.bid_limit(sales_after), sales_after, repairs)
        return raw

    def _staffing(self, raw: dict[str, Any], ctx: Any, kind: str, share: float, repairs: list[str]) -> int:
        """Hires (share > 0) or fires (< 0) of one kind of staff, capped as validation requires; returns the change."""
        n = int(round(float(share) * self.staff_scale))
        if n > 0:
            hire = min(n, ctx.max_hire)
            if hire < n:
                repairs.append(f"hire_{kind}: {n} asked, at most {ctx.max_hire} per period: hired {hire}")
            raw[f"hire_{kind}"] = hire
            return hire
        if n < 0:
            have = ctx.max_fire(kind)
            fire = min(-n, have)
            if fire < -n:
                repairs.append(f"fire_{kind}: {-n} asked, {have} on staff: fired {fire}")
            raw[f"fire_{kind}"] = fire
            return -fire
        return 0

    def _cultivation(self, act: Mapping[str, float], limit: int, sales_after: int, repairs: list[str]) -> dict[str, float]:
        """Spend per client; beyond what the sales staff cover, the largest spends are kept (ties: scenario order)."""
        spend = {c: _cents(act[f"cultivation.{c}"] * self.cultivation_max) for c in self.clients}
        spend = {c: x for c, x in spend.items() if x > 0}
        if len(spend) > limit:
            order = {c: k for k, c in enumerate(self.clients)}
            keep = sorted(spend, key=lambda c: (-spend[c], order[c]))[:limit]
            repairs.append(f"cultivation: {len(spend)} clients asked, {sales_after} sales staff cultivate at most {limit}: kept the {limit} largest")
            spend = {c: spend[c] for c in self.clients if c in keep}
        return spend

    def _bids(self, state: GameState, act: Mapping[str, float], limit: int, sales_after: int, repairs: list[str]) -> dict[str, dict[str, float]]:
        """Bids of the flagged slots with an open tender; beyond the bid limit, the strongest flags are kept (ties: slot order)."""
        open_tenders = self.slots(state)
        wanted: list[tuple[float, int, Tender]] = []
        for k in range(min(self.max_tenders, len(open_tenders))):  # an empty slot: nothing to bid on
            if act[f"slot{k}.bid"] >= BID_THRESHOLD:
                wanted.append((float(act[f"slot{k}.bid"]), k, open_tenders[k]))
        if len(wanted) > limit:
            repairs.append(f"bids: {len(wanted)} asked, {sales_after} sales staff bid at most {limit}: kept the {limit} strongest bid flags")
            wanted = sorted(sorted(wanted, key=lambda w: (-w[0], w[1]))[:limit], key=lambda w: w[1])
        bids = {}
        for _, k, t in wanted:
            p = _cents(act[f"slot{k}.price"] * t.price_cap)
            if p < MIN_PRICE:
                repairs.append(f"slot{k}.price: {p:g} raised to the minimum {MIN_PRICE:g}")
                p = MIN_PRICE
            bids[t.id] = {"price": p, "promised_service": round(float(act[f"slot{k}.promised_service"]), SERVICE_DECIMALS)}
        return bids

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
        ctx = decision_context(state, firm)
        act = dict.fromkeys(self.action_names, 0.0)
        act["price"] = d.price / self.scenario.market.price_cap
        act["service_level"] = d.service_level
        act["care_budget"] = d.care_budget / self.care_max
        act["advertising_budget"] = d.advertising_budget / self.advertising_max
        act["sales_staff_change"] = (d.hire_sales - d.fire_sales) / self.staff_scale
        act["service_staff_change"] = (d.hire_service - d.fire_service) / self.staff_scale
        net = d.borrow - d.repay
        if net > 0:
            act["finance"] = net / max(ctx.borrow_room, 1e-12)
        elif net < 0:
            act["finance"] = net / max(ctx.repay_limit, 1e-12)
        for c in self.clients:
            act[f"cultivation.{c}"] = d.cultivation.get(c, 0.0) / self.cultivation_max
        for k, t in enumerate(self.slots(state)[: self.max_tenders]):
            if t.id in d.bids:
                b = d.bids[t.id]
                act.update({f"slot{k}.bid": 1.0, f"slot{k}.price": b.price / t.price_cap, f"slot{k}.promised_service": b.promised_service})
        a = self._vector(self.action_names, act, "action")
        return np.clip(a, self._a_low, self._a_high).astype(np.float32)

    # -- state -> observation --------------------------------------------

    def observe(self, state: GameState, firm: int, results: Sequence[PeriodResult]) -> np.ndarray:
        """Firm `firm`'s observation vector (see ``observation_names``)."""
        ob = observe(state, firm, list(results[-1:]))
        capacity = ob.firm.service_staff * self.scenario.costs.customers_per_service_staff
        values = {
            **self._own(state, ob, capacity),
            **self._last(ob),
            **self._client_block(ob, firm),
            **self._slot_block(state, ob, capacity),
            **self._market(ob, firm),
            **self._news(state, firm),
        }
        x = self._vector(self.observation_names, values, "observation")
        x = np.nan_to_num(x, nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP)
        return np.clip(x, self._o_low, self._o_high).astype(np.float32)

    def _own(self, state: GameState, ob: Observation, capacity: float) -> dict[str, float]:
        """The firm's own position at the start of the period."""
        sc, f, m, st = self.scenario, ob.firm, self.money_scale, ob.firm.standing
        due = sum(c.load for c in state.contracts if c.firm == f.index and c.deliver_period == state.period)
        own = {
            "period_progress": (state.period - 1) / sc.periods,
            "cash": f.cash / m,
            "debt": f.debt / m,
            "emergency_debt": f.emergency_debt / m,
            "credit_room": ob.limits.borrow_room / m,
            "customers_share": ob.customers / sc.market.customers,
            "sales_staff": f.sales_staff / max(1, sc.firms.sales_staff),
            "service_staff": f.service_staff / max(1, sc.firms.service_staff),
            "load_ratio": _ratio(ob.customers + due, capacity),
            "unit_cost": f.unit_cost / sc.market.reference_price,
            "reputation": f.reputation,
            "awareness": f.awareness,
            "wom": f.wom,
            "standing_price": st.price / sc.market.price_cap,
            "standing_service": st.service_level,
            "standing_care": st.care_budget / self.care_max,
            "standing_advertising": st.advertising_budget / self.advertising_max,
        }
        return {f"own.{k}": v for k, v in own.items()}

    def _last(self, ob: Observation) -> dict[str, float]:
        """The firm's own metrics row of last period (zeros before period 1)."""
        r = ob.own_last
        if r is None:
            return {f"last.{n}": 0.0 for n, _ in LAST}
        m, n_tenders = self.money_scale, max(1, self.max_tenders)
        last = {
            "present": 1.0,
            **{k: _num(r[k]) / 100 for k in ("score", "score_financial", "score_customer", "score_relationship", "score_growth")},
            "rank": (r["rank"] - 1) / max(1, self.n_firms - 1),
            **{k: _num(r[k]) / m for k in ("revenue", "operating_profit", "cum_operating_profit", "equity", "customer_equity")},
            "avg_satisfaction": _num(r["avg_satisfaction"]) / 10,
            "retention_rate": _num(r["retention_rate"]),
            "acquired": _num(r["acquired"]) / self.scenario.market.customers,
            "lost": _num(r["lost"]) / max(_num(r["customers_start"]), 1.0),
            **{k: _num(r[k]) for k in ("utilisation", "delivered_quality", "resolution_rate")},
            **{k: r[k] / n_tenders for k in ("tenders_bid", "tenders_won", "tenders_voided")},
        }
        return {f"last.{k}": v for k, v in last.items()}

    def _client_block(self, ob: Observation, firm: int) -> dict[str, float]:
        """Per key client: relationships, the client's satisfaction, standing cultivation, last period's winning price."""
        caps = {c.id: c.price_cap for c in self.scenario.clients}
        won = {b["client"]: b for b in ob.last_bids if b["won"]}
        out: dict[str, float] = {}
        for c in self.clients:
            w = won.get(c)
            block = {
                "relationship": ob.relationship[c],
                "rival_relationship_max": ob.rivals_relationship_max[c],
                "client_satisfaction": ob.client_satisfaction[c] / 10,
                "standing_cultivation": ob.firm.standing.cultivation.get(c, 0.0) / self.cultivation_max,
                "last_winning_price": w["price"] / caps[c] if w else 0.0,
                "won_last": 1.0 if w and w["firm"] == firm else 0.0,
            }
            out.update({f"client.{c}.{k}": v for k, v in block.items()})
        return out

    def _slot_block(self, state: GameState, ob: Observation, capacity: float) -> dict[str, float]:
        """Per tender slot: the open tender's terms and the firm's standing with it; zeros for an empty slot."""
        sc, f = self.scenario, ob.firm
        open_tenders = self.slots(state)
        out: dict[str, float] = {}
        for k in range(self.max_tenders):
            names = ["present"] + [f"client.{c}" for c in self.clients] + [n for n, _ in TENDER_TERMS]
            if k >= len(open_tenders):
                out.update({f"slot{k}.{n}": 0.0 for n in names})
                continue
            t = open_tenders[k]
            rel = ob.relationship.get(t.client, 0.0)
            block = {
                "present": 1.0,
                **{f"client.{c}": 1.0 if c == t.client else 0.0 for c in self.clients},
                "volume": t.volume / self.max_volume,
                "price_cap": t.price_cap / sc.market.reference_price,
                "required_service": t.required_service,
                "closed": float(t.closed),
                "min_relationship": t.min_relationship,
                "w_price": t.w_price,
                "w_service": t.w_service,
                "w_relationship": t.w_relationship,
                "reissue": t.reissue / (sc.tenders.reissue_limit + 1),
                "relationship": rel,
                "eligible": float(is_invited(t, rel)),
                "cost_ratio": unit_delivery_cost(f.unit_cost, t.required_service, sc.tenders.service_cost_per_unit) / t.price_cap,
                "load_ratio": _ratio(t.volume * t.load_per_unit, capacity),
            }
            out.update({f"slot{k}.{n}": v for n, v in block.items()})
        return out

    def _market(self, ob: Observation, firm: int) -> dict[str, float]:
        """Last period's public report, one row per firm: own row first, then rivals in seat order after it."""
        m, n_tenders = self.money_scale, max(1, self.max_tenders)
        rows = {row["firm"]: row for row in ob.market}
        out: dict[str, float] = {}
        for j in range(self.n_firms):
            row = rows.get((firm + j) % self.n_firms)
            prefix = f"market.{self._seat(j)}"
            if row is None:
                out.update({f"{prefix}.{n}": 0.0 for n in MARKET_ROW})
                continue
            encoded = {
                "present": 1.0,
                "bankrupt": float(row["bankrupt"]),
                "price": _num(row["price"]) / self.scenario.market.price_cap,
                "service_level": _num(row["service_level"]),
                "market_share_customers": _num(row["market_share_customers"]),
                "market_share_revenue": _num(row["market_share_revenue"]),
                "avg_satisfaction": _num(row["avg_satisfaction"]) / 10,
                "operating_profit": _num(row["operating_profit"]) / m,
                "tenders_won": row["tenders_won"] / n_tenders,
                "score": _num(row["score"]) / 100,
                "rank": (row["rank"] - 1) / max(1, self.n_firms - 1),
            }
            out.update({f"{prefix}.{n}": v for n, v in encoded.items()})
        return out

    def _news(self, state: GameState, firm: int) -> dict[str, float]:
        """The events of the period: purchase and cost changes, the new entrant, scandals (own, rivals')."""
        effects = event_effects(self.scenario, state.period)
        news = {
            "purchase_change": effects.purchase_factor - 1.0,
            "cost_shock": effects.unit_cost_factor(1.0) - 1.0,
            "new_entrant": effects.outside_boost,
            "scandal_self": 0.0,
            "scandal_rival": 0.0,
        }
        for hit, magnitude in effects.scandals:
            news["scandal_self" if hit == firm else "scandal_rival"] += magnitude / 10
        return {f"news.{k}": v for k, v in news.items()}
