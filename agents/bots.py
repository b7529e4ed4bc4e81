"""Strategy bots: opponents, empty-seat fillers, play-testers and research baselines.

A bot reads an :class:`~crmsim.sim.observation.Observation` and returns a raw
decision (a plain dict, as a team's form would), which the engine validates
like any other submission. Each bot takes its own rng; none reads a rival's
private data.

Bots:
- price_cutter: undercuts the market and bids just above its own cost; thin margins.
- premium: high service, high price, generous care; bids on service-heavy tenders.
- relationship: cultivates a few key clients and bids mainly on their (closed) tenders.
- balanced: middle of the road on every lever; staffs to keep utilisation near 75%.
- adaptive: best-responder; copies the price of last period's most profitable rival,
  bids just under last winning prices and watches its nearest rival.
- researcher: buys market research before it cultivates; cultivates only clients no rival holds strongly.
- retention: acts on the churn warning with a retention budget, aims care at A-tier customers.
- reckless: bids at its own cost and undercuts hard (a price-cutter taken too far).
- random: random valid decisions (a fuzzing play-tester).

Every bot plays both ways of cultivating key clients: a ¥ budget per client
(``cultivation``) or, with lifecycle cultivation, the sales activities that
count at each client's stage (:func:`cultivate`).
- standing: submits nothing, so keeps the starting decision (a passive seat).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.metadata
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from crmsim.scenarios import per_scenario
from crmsim.scenarios.schema import STAGES, Client, Scenario
from crmsim.sim.observation import Observation
from crmsim.sim.state import Tender
from crmsim.sim.tenders import bid_bond, unit_delivery_cost, unqualified

RawDecision = dict[str, Any]


class Strategy:
    """Base class: a named bot that decides from an observation."""

    name: ClassVar[str] = "strategy"
    description: ClassVar[str] = ""

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name}>"


# ---------------------------------------------------------------------------
# shared building blocks


def staffing(obs: Observation, target_utilisation: float, extra_load: float = 0.0) -> dict[str, int]:
    """Hire or fire service staff so expected load sits at the target utilisation."""
    costs = obs.scenario.costs
    load = obs.customers * 1.05 + extra_load
    want = max(1, math.ceil(load / (costs.customers_per_service_staff * target_utilisation)))
    have = obs.firm.service_staff
    if want > have:
        return {"hire_service": min(want - have, costs.max_hire_per_period)}
    if want < have - 1:
        return {"fire_service": min(have - want - 1, have)}
    return {}


def contract_load(obs: Observation) -> float:
    return sum(t.volume * t.load_per_unit for t in obs.tenders)


def stage_index(obs: Observation, client: str) -> int | None:
    """The firm's lifecycle stage with `client` as an index into STAGES (None when cultivating by spend)."""
    return STAGES.index(obs.stage[client]) if obs.stage else None


def qualified(obs: Observation, t: Tender, promised: float) -> bool:
    """Whether a bid promising `promised` qualifies for tender `t` (the tender office's rule)."""
    return unqualified(t, promised, obs.relationship[t.client], stage_index(obs, t.client)) is None


def delivery_cost(obs: Observation, promised: float) -> float:
    return unit_delivery_cost(obs.firm.unit_cost, promised, obs.scenario.tenders.service_cost_per_unit)


def bid_limit(obs: Observation, hires: int = 0) -> int:
    """Tenders the firm's sales staff, with `hires` more, can bid this period (the validation's limit)."""
    return obs.limits.bid_limit(obs.firm.sales_staff + hires)


def affordable(obs: Observation, bids: dict[str, dict], tenders: dict[str, Tender]) -> dict[str, dict]:
    """Drop bids whose bonds the firm's cash cannot cover (largest first kept)."""
    cash = obs.firm.cash
    rate = obs.scenario.tenders.bond_rate
    out = {}
    for tid, b in sorted(bids.items(), key=lambda kv: -tenders[kv[0]].volume):
        bond = bid_bond(rate, b["price"], tenders[tid].volume)
        if bond <= cash:
            out[tid] = b
            cash -= bond
    return out


def last_winning_price(obs: Observation, client: str) -> float | None:
    prices = [b["price"] for b in obs.last_bids if b["client"] == client and b["won"]]
    return prices[0] if prices else None


def mean_rival_price(obs: Observation) -> float:
    prices = [r["price"] for r in obs.market if not r["bankrupt"] and r["firm"] != obs.firm.index]
    return mean(prices) if prices else obs.firm.standing.price


def mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))`` of a non-empty list of numbers: NumPy's float64 sum (np.add.reduce) over their
    count, without np.mean's wrapper (a few µs a call, and the bots call it every period)."""
    return float(np.add.reduce(np.array(values, dtype=np.float64))) / len(values)


def invited_clients(obs: Observation) -> list[str]:
    """Clients that issue invited (closed) tenders, nearest to the invitation threshold first."""
    closed = [c for c in obs.scenario.clients if c.closed]
    if obs.stage:
        return [c.id for c in sorted(closed, key=lambda c: (-STAGES.index(obs.stage[c.id]), c.id))]
    return [c.id for c in sorted(closed, key=lambda c: (c.min_relationship - obs.relationship[c.id], c.id))]


#: What a bot does with a client at each lifecycle stage: a light play and a heavy one (more progress, more ¥ and hours).
LIFECYCLE_PLAYS = {
    "potential": (("investigate",), ("investigate",)),
    "target": (("call",), ("call",)),
    "evaluation": (("visit",), ("visit", "demo")),
    "formation": (("maintain",), ("visit", "demo")),
    "stable": (("maintain",), ("maintain",)),
}
#: a cultivation budget (classroom ¥ per client and period) from which a bot runs the heavy play
HEAVY_PLAY_FROM = 8_000


def cultivate(obs: Observation, wants: dict[str, float], hires: int = 0) -> RawDecision:
    """The decision part that cultivates `wants` (client -> a classroom-sized ¥ budget, in priority order).

    Cultivating by spend, the budgets scaled to the scenario; with lifecycle cultivation, the activities that
    count at each client's stage (the heavy play for a budget of HEAVY_PLAY_FROM or more), within the sales
    hours the firm's sales staff (with `hires`) have.
    """
    if obs.limits.cultivation_mode != "lifecycle":
        return {"cultivation": {c: cultivation_spend(obs, a) for c, a in wants.items()}}
    hours_left = obs.limits.hours_limit(obs.firm.sales_staff + hires)
    plan: dict[str, list[str]] = {}
    for client, amount in wants.items():
        light, heavy = LIFECYCLE_PLAYS[obs.stage.get(client, "potential")]
        for acts in ((heavy, light) if amount >= HEAVY_PLAY_FROM else (light,)):
            need = sum(obs.limits.activity_hours[a] for a in acts)
            if need <= hours_left:
                plan[client] = list(acts)
                hours_left -= need
                break
    return {"activities": plan}


def client_value(obs: Observation, client: str) -> float:
    """A key client's contract value per period: volume x price cap / periods between its tenders."""
    return contract_value(obs.scenario.client(client))


def contract_value(c: Client) -> float:
    """:func:`client_value` of a Client."""
    return c.volume * c.price_cap / c.every


@per_scenario
def clients_by_value(sc: Scenario) -> tuple[str, ...]:
    """The scenario's key clients, the highest :func:`contract_value` first (ties by id)."""
    value = {c.id: contract_value(c) for c in sc.clients}
    return tuple(sorted(sc.client_ids, key=lambda c: (-value[c], c)))


def rival_strength(obs: Observation, client: str) -> float:
    """The firm's best estimate of the strongest rival's relationship with `client`: the band last period's
    research reported (weak 0.2, medium 0.5, strong 0.9), else what the observation shows."""
    bands = (obs.research or {}).get("rivals", {}).get(client)
    if bands is not None:
        return max([{"weak": 0.2, "medium": 0.5, "strong": 0.9}[b["band"]] for b in bands], default=0.0)
    return obs.rivals_relationship_max.get(client, 0.0)


def cultivation_spend(obs: Observation, amount: float) -> float:
    """A classroom-sized cultivation spend, scaled to the scenario's cultivation scale (¥20,000 in the classroom)."""
    return round(amount * obs.scenario.tenders.cultivation_scale / 20_000, 2)


def advertising_spend(obs: Observation, amount: float) -> float:
    """A classroom-sized advertising spend, scaled to the scenario's advertising scale (¥40,000 in the classroom)."""
    return round(amount * obs.scenario.costs.advertising_scale / 40_000, 2)


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


# ---------------------------------------------------------------------------
# the bots


@dataclass
class PriceCutter(Strategy):
    name: ClassVar[str] = "price_cutter"
    description: ClassVar[str] = "Undercuts the market and bids just above its own cost."
    undercut: float = 0.93
    markup: float = 1.08
    floor: float = 1.1  # lowest mass-market price, as a multiple of unit cost
    service: float = 0.55
    advertising: float = 15_000
    care: float = 6.0  # ¥ per customer

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        floor = obs.firm.unit_cost * self.floor
        price = clamp(mean_rival_price(obs) * self.undercut, floor, obs.scenario.market.price_cap)
        promised = 0.0
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        for t in sorted(obs.tenders, key=lambda t: -t.volume)[: bid_limit(obs)]:
            promised = t.required_service
            if qualified(obs, t, promised):
                p = min(t.price_cap, delivery_cost(obs, promised) * self.markup * (1 + 0.02 * rng.random()))
                bids[t.id] = {"price": round(p, 2), "promised_service": promised}
        return {
            "price": round(price, 2),
            "service_level": self.service,
            "care_budget": self.care * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, self.advertising),
            **staffing(obs, 0.95, contract_load(obs)),
            **cultivate(obs, {}),
            "bids": affordable(obs, bids, tenders),
        }


@dataclass
class Premium(Strategy):
    name: ClassVar[str] = "premium"
    description: ClassVar[str] = "High service and price, generous care; bids on service-weighted tenders."
    price_premium: float = 1.1
    service: float = 0.85
    markup: float = 1.25  # on its own delivery cost, at most 97% of the cap

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        ref = obs.scenario.market.reference_price
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        ranked = sorted(obs.tenders, key=lambda t: -(t.w_service + 0.5 * t.w_relationship))
        for t in ranked[: bid_limit(obs)]:
            promised = max(self.service, t.required_service)
            cost = delivery_cost(obs, promised)
            if qualified(obs, t, promised) and cost * 1.1 <= t.price_cap:
                bids[t.id] = {"price": round(min(t.price_cap * 0.97, cost * self.markup), 2), "promised_service": promised}
        care = 15 * max(obs.customers, 100)
        top = list(dict.fromkeys(invited_clients(obs) + sorted(obs.relationship, key=lambda c: (-obs.client_satisfaction[c], c))))[:2]
        return {
            "price": round(clamp(ref * self.price_premium, 1, obs.scenario.market.price_cap), 2),
            "service_level": self.service,
            "care_budget": round(care),
            "advertising_budget": advertising_spend(obs, 8_000),
            **staffing(obs, 0.7, contract_load(obs)),
            **cultivate(obs, {c: 5_000 for c in top}),
            "bids": affordable(obs, bids, tenders),
        }


@dataclass
class RelationshipBuilder(Strategy):
    name: ClassVar[str] = "relationship"
    description: ClassVar[str] = "Cultivates a few key clients (顾客培养) and bids mainly on their tenders."
    focus: int = 3
    spend: float = 12_000
    heavy: int = 3  # clients (the first of the focus) it cultivates at the full spend; the rest at half

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        costs = obs.scenario.costs
        # pick the clients where a rival's hold is weakest (an investment elsewhere "goes for nothing")
        ranked = sorted(obs.relationship, key=lambda c: (rival_strength(obs, c) - obs.relationship[c], c))
        invited = invited_clients(obs)
        focus = (invited + [c for c in ranked if c not in invited])[: self.focus]
        need_sales = math.ceil(len(focus) / costs.clients_per_sales_staff)
        hire_sales = max(0, need_sales - obs.firm.sales_staff)
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        mine = sorted(obs.tenders, key=lambda t: (t.client not in focus, -t.volume))
        for t in mine[: bid_limit(obs, hire_sales)]:
            promised = max(0.65, t.required_service)
            cost = delivery_cost(obs, promised)
            if qualified(obs, t, promised) and cost * 1.12 <= t.price_cap:
                markup = 1.2 if t.client in focus else 1.12
                bids[t.id] = {"price": round(min(t.price_cap, cost * markup), 2), "promised_service": promised}
        cash_ok = obs.firm.cash > 0.2 * obs.scenario.firms.cash
        return {
            "price": round(obs.scenario.market.reference_price * 1.02, 2),
            "service_level": 0.65,
            "care_budget": 8 * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, 5_000),
            "hire_sales": hire_sales,
            **staffing(obs, 0.8, contract_load(obs)),
            **cultivate(obs, {c: (self.spend if k < self.heavy else self.spend / 2) if cash_ok else self.spend / 4
                              for k, c in enumerate(focus)}, hire_sales),
            "bids": affordable(obs, bids, tenders),
        }


@dataclass
class Balanced(Strategy):
    name: ClassVar[str] = "balanced"
    description: ClassVar[str] = "Middle of the road on every lever; staffs for ~75% utilisation."

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        ref = obs.scenario.market.reference_price
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        for t in sorted(obs.tenders, key=lambda t: -t.volume)[: bid_limit(obs)]:
            promised = max(0.6, t.required_service)
            cost = delivery_cost(obs, promised)
            if qualified(obs, t, promised) and cost * 1.1 <= t.price_cap:
                bids[t.id] = {"price": round(min(t.price_cap * 0.98, cost * 1.22), 2), "promised_service": promised}
        invited = invited_clients(obs)
        best = invited[0] if invited else (max(obs.relationship, key=lambda c: (obs.relationship[c], c)) if obs.relationship else None)
        wants = {best: 6_000} if best else {}
        if obs.stage:  # lifecycle cultivation: also the open client it is furthest along with
            open_ = [c.id for c in obs.scenario.clients if not c.closed]
            second = max(open_, key=lambda c: (STAGES.index(obs.stage[c]), client_value(obs, c), c), default=None)
            if second:
                wants[second] = 8_000
        return {
            "price": round(ref, 2),
            "service_level": 0.65,
            "care_budget": 10 * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, 10_000),
            **staffing(obs, 0.75, contract_load(obs)),
            **cultivate(obs, wants),
            "bids": affordable(obs, bids, tenders),
        }


@dataclass
class Adaptive(Strategy):
    name: ClassVar[str] = "adaptive"
    description: ClassVar[str] = "Best-responder: follows the most profitable rival's price, bids just under last winning prices."
    step: float = 0.5
    clients: int = 2  # cultivates the clients where rivals look weakest
    spend: float = 8_000

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        mkt = obs.scenario.market
        own = obs.firm.standing.price
        live = [r for r in obs.market if not r["bankrupt"]]
        if live:
            leader = max(live, key=lambda r: (r["operating_profit"], -r["firm"]))
            target = leader["price"]
            # watch the nearest rival: the firm just above us in the ranking
            me = next((r for r in obs.market if r["firm"] == obs.firm.index), None)
            above = [r for r in live if me and r["rank"] == me["rank"] - 1]
            service = above[0]["service_level"] if above else obs.firm.standing.service_level
        else:
            target, service = own, obs.firm.standing.service_level
        price = clamp(own + self.step * (target - own), obs.firm.unit_cost * 1.15, mkt.price_cap)
        service = clamp(service, 0.5, 0.9)
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        for t in sorted(obs.tenders, key=lambda t: -t.volume)[: bid_limit(obs)]:
            promised = max(service, t.required_service)
            cost = delivery_cost(obs, promised)
            won_at = last_winning_price(obs, t.client)
            p = min(t.price_cap, cost * 1.2) if won_at is None else min(t.price_cap, won_at * 0.98)
            p = max(p, cost * 1.04)
            if qualified(obs, t, promised) and p <= t.price_cap:
                bids[t.id] = {"price": round(p, 2), "promised_service": round(promised, 3)}
        weakest = sorted(obs.relationship, key=lambda c: (rival_strength(obs, c), -client_value(obs, c), c))[: self.clients]
        return {
            "price": round(price, 2),
            "service_level": round(service, 3),
            "care_budget": 12 * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, 10_000),
            **staffing(obs, 0.78, contract_load(obs)),
            **cultivate(obs, {c: self.spend for c in weakest}),
            "bids": affordable(obs, bids, tenders),
        }


@dataclass
class RandomValid(Strategy):
    name: ClassVar[str] = "random"
    description: ClassVar[str] = "Random valid decisions within the rules (a fuzzing play-tester)."

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        f, sc = obs.firm, obs.scenario
        hire_sales = int(rng.integers(0, 2))
        hire_service = int(rng.integers(0, 4))
        fire_service = 0 if hire_service else int(rng.integers(0, max(1, min(3, f.service_staff) + 1)))
        sales_after = f.sales_staff + hire_sales
        clients = list(sc.client_ids)
        n_cult = int(rng.integers(0, min(len(clients), obs.limits.client_limit(sales_after)) + 1)) if clients else 0
        cult = {str(c): float(rng.uniform(0, 20_000)) for c in rng.choice(clients, n_cult, replace=False)} if n_cult else {}
        tenders = list(obs.tenders)
        n_bids = int(rng.integers(0, min(len(tenders), obs.limits.bid_limit(sales_after)) + 1)) if tenders else 0
        bids = {}
        for k in (rng.choice(len(tenders), n_bids, replace=False) if n_bids else []):
            t = tenders[int(k)]
            bids[t.id] = {
                "price": round(float(rng.uniform(0.5, 1.15) * t.price_cap), 2),
                "promised_service": round(float(rng.uniform(0.3, 1.0)), 3),
            }
        return {
            "price": round(min(float(rng.uniform(0.6, 1.5) * sc.market.reference_price), sc.market.price_cap), 2),
            "service_level": round(float(rng.uniform(0.2, 1.0)), 3),
            "care_budget": round(float(rng.uniform(0, 30)) * max(obs.customers, 100), 2),
            "advertising_budget": advertising_spend(obs, float(rng.uniform(0, 40_000))),
            "hire_sales": hire_sales,
            "hire_service": hire_service,
            "fire_service": fire_service,
            **cultivate(obs, cult, hire_sales),
            "bids": affordable(obs, bids, {t.id: t for t in tenders}),
        }


@dataclass
class Reckless(PriceCutter):
    """The price-cutter taken too far: it bids at its own cost and undercuts hard, so it wins volume with no
    margin to absorb a rising cost (成本上涨) or a delivery penalty."""

    name: ClassVar[str] = "reckless"
    description: ClassVar[str] = "Bids at its own cost on every tender and undercuts the market hard (贴本抢标): no margin for rising costs."
    undercut: float = 0.7
    markup: float = 1.0
    floor: float = 1.02
    service: float = 0.35
    advertising: float = 30_000
    care: float = 1.0


@dataclass
class Researcher(Strategy):
    """Looks before it leaps: buys market research on the clients worth most, cultivates only those no rival
    holds strongly, and bids mainly on their tenders (the seed report's lesson about Motorola)."""

    name: ClassVar[str] = "researcher"
    description: ClassVar[str] = "Buys market research (市场调研) before it cultivates; cultivates only clients no rival holds strongly."
    focus: int = 3
    ask: int = 1  # clients researched per period besides those it cultivates
    spend: float = 10_000

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        ref = obs.scenario.market.reference_price
        by_value = clients_by_value(obs.scenario)
        known = (obs.research or {}).get("rivals", {})
        strong = {c for c, bands in known.items() if any(b["band"] == "strong" for b in bands)}
        started = [c for c in by_value if (obs.stage.get(c, "potential") != "potential" if obs.stage else obs.relationship[c] > obs.scenario.firms.relationship)]
        held = [c for c in started if obs.stage and STAGES.index(obs.stage[c]) >= STAGES.index("formation")]  # its own strongholds
        cleared = [c for c in by_value if c in known and c not in strong]
        focus = list(dict.fromkeys(held + [c for c in started if c not in strong] + cleared))[: self.focus]
        if obs.limits.research_offered:  # re-check its own clients every other period, and look at one more
            unknown = [c for c in by_value if c not in known and c not in focus][: self.ask]
            recheck = focus if obs.period % 2 == 1 else []
            research = {"rivals": recheck + unknown, "forecast": obs.period == 1}
        else:  # no research on offer: judge by what the observation shows
            focus = [c for c in by_value if rival_strength(obs, c) < 0.6][: self.focus]
            research = {}
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        mine = sorted(obs.tenders, key=lambda t: (t.client not in focus, -t.volume))
        for t in mine[: bid_limit(obs)]:
            promised = max(0.65, t.required_service)
            cost = delivery_cost(obs, promised)
            markup = 1.18 if t.client in focus else 1.1
            if qualified(obs, t, promised) and cost * markup <= t.price_cap:
                bids[t.id] = {"price": round(cost * markup, 2), "promised_service": promised}
        out = {
            "price": round(ref, 2),
            "service_level": 0.68,
            "care_budget": 10 * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, 8_000),
            **staffing(obs, 0.78, contract_load(obs)),
            **cultivate(obs, {c: self.spend for c in focus}),
            "bids": affordable(obs, bids, tenders),
        }
        if research:
            out["research"] = research
        return out


@dataclass
class Retention(Strategy):
    """The CRM textbook made a bot: acts on the churn warning (流失预警) with a retention budget aimed at the
    customers at risk, gives most of its care to its A-tier customers (ABC 分类), surveys its customers now and
    then, and bids on open tenders at a fair margin."""

    name: ClassVar[str] = "retention"
    description: ClassVar[str] = "CRM-minded: a retention budget on the churn warning, care aimed at A-tier customers, fair-margin bids."
    per_at_risk: float = 40.0  # ¥ of retention budget per customer the warning flags
    care_split: tuple[float, float, float] = (0.55, 0.3, 0.15)

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        ref = obs.scenario.market.reference_price
        tenders = {t.id: t for t in obs.tenders}
        bids = {}
        for t in sorted(obs.tenders, key=lambda t: (t.closed, -t.volume))[: bid_limit(obs)]:
            promised = max(0.7, t.required_service)
            cost = delivery_cost(obs, promised)
            if qualified(obs, t, promised) and cost * 1.15 <= t.price_cap:
                bids[t.id] = {"price": round(min(t.price_cap * 0.98, cost * 1.2), 2), "promised_service": promised}
        # keep the clients it has won: they are its customers too
        won_from = {b["client"] for b in obs.last_bids if b["won"] and b["firm"] == obs.firm.index}
        won = [c for c in obs.scenario.client_ids if c in won_from]
        keep = list(dict.fromkeys(won + sorted(obs.scenario.client_ids, key=lambda c: (-obs.relationship[c], c))))[:2]
        out = {
            "price": round(ref * 1.03, 2),
            "service_level": 0.72,
            "care_budget": 12 * max(obs.customers, 100),
            "advertising_budget": advertising_spend(obs, 8_000),
            **staffing(obs, 0.72, contract_load(obs)),
            **cultivate(obs, {c: 6_000 for c in keep}),
            "bids": affordable(obs, bids, tenders),
        }
        if obs.limits.tier_care:
            out["care_split"] = dict(zip(("A", "B", "C"), self.care_split))
        if obs.limits.retention_offered:
            last = obs.own_last or {}
            at_risk = sum(last.get(f"at_risk_{t}", 0.0) for t in "abc")
            out["retention_budget"] = round(self.per_at_risk * at_risk, 2)
        if obs.limits.research_offered and obs.period % 4 == 1:
            out["research"] = {"survey": 200}
        return out


@dataclass
class QualityLeader(Strategy):
    """What a learning agent (PPO) found on its own: never bid or cultivate, price just under the reference,
    deliver the best service and staff to keep it, spend nothing on care. A test of whether the mass market
    alone can win a game that tenders should decide."""

    name: ClassVar[str] = "quality_leader"
    description: ClassVar[str] = "Never bids: top service at a price just under the reference, staffed to keep it (what PPO learned)."
    price_factor: float = 0.98
    service: float = 1.0

    def decide(self, obs: Observation, rng: np.random.Generator) -> RawDecision:
        return {
            "price": round(obs.scenario.market.reference_price * self.price_factor, 2),
            "service_level": self.service,
            "care_budget": 0,
            "advertising_budget": advertising_spend(obs, 10_000),
            **staffing(obs, 0.78),
            **cultivate(obs, {}),
        }


@dataclass
class Standing(Strategy):
    name: ClassVar[str] = "standing"
    description: ClassVar[str] = "Submits nothing: keeps the starting decision and never bids (a passive seat)."

    def decide(self, obs: Observation, rng: np.random.Generator) -> None:
        return None


# ---------------------------------------------------------------------------
# the registry: built-in bots, plug-ins (entry points) and "module:Class" specs

BOTS: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (PriceCutter, Premium, RelationshipBuilder, Balanced, Adaptive, Researcher, Retention, Reckless, QualityLeader,
                RandomValid, Standing)
}
#: the names shipped with crmsim; any other name in BOTS was registered by a researcher's module
BUILT_IN = frozenset(BOTS)
DEFAULT_LINEUP = ("balanced", "price_cutter", "premium", "relationship", "researcher", "retention")
#: the entry-point group through which an installed package offers strategies (name = "module:Class")
ENTRY_POINT_GROUP = "crmsim.strategies"

#: a seat's strategy: a spec such as "premium", "premium(price_premium=1.25)", "my_bots:LoyaltyFirst", or an instance
StrategySpec = str | Strategy

_SPEC_HEAD = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


@functools.lru_cache(maxsize=1)
def plugin_strategies() -> dict[str, importlib.metadata.EntryPoint]:
    """The strategies installed packages offer through the ``crmsim.strategies`` entry-point group, by name."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _plugin(name: str) -> importlib.metadata.EntryPoint | None:
    if name not in plugin_strategies():
        plugin_strategies.cache_clear()  # a package installed since the last look
    return plugin_strategies().get(name)


def strategy_class(name: str) -> type[Strategy]:
    """The Strategy class a name stands for: a built-in or registered bot, an entry point, or ``module:Class``.

    Raises:
        ValueError: naming the name and what is known, or why the module or class cannot be used.
    """
    if name in BOTS:
        return BOTS[name]
    plugin = _plugin(name)
    if plugin is not None:
        return _checked(plugin.load(), f"entry point {name} = {plugin.value}")
    if ":" not in name:
        plugins = ", ".join(sorted(plugin_strategies())) or "none installed"
        raise ValueError(f"unknown bot {name!r}; known bots: {', '.join(BOTS)}; plug-ins ({ENTRY_POINT_GROUP}): "
                         f"{plugins}; or give module:Class")
    module_name, _, qualname = name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"strategy {name!r}: cannot import module {module_name!r} ({exc}); install it, put its "
                         "folder on PYTHONPATH, or run from the folder that holds it") from None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"strategy {name!r}: module {module_name!r} has no {qualname!r}")
        obj = getattr(obj, part)
    return _checked(obj, f"strategy {name!r}")


def _checked(obj: Any, what: str) -> type[Strategy]:
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ValueError(f"{what}: must be a subclass of crmsim.agents.bots.Strategy; got {obj!r}")
    return obj


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name(key=value, ...)"`` into the name and its keyword arguments (Python literals).

    Raises:
        ValueError: naming the spec and what is wrong with it.
    """
    text = spec.strip()
    head, paren, rest = text.partition("(")
    head = head.strip()
    if not _SPEC_HEAD.match(head):
        raise ValueError(f"strategy {spec!r}: expected a bot name or module:Class, optionally with (key=value, ...)")
    if not paren:
        return head, {}
    try:
        call = ast.parse("f(" + rest, mode="eval").body
        if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
            raise ValueError("only key=value arguments")
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"strategy {spec!r}: arguments must be key=value with Python literal values ({exc})") from None
    return head, kwargs


def make_bot(spec: StrategySpec) -> Strategy:
    """A fresh bot from a spec (a Strategy instance is returned as it is).

    A spec is a registry name (``"premium"``), a plug-in's entry-point name, or ``"module:Class"``, each
    optionally with dataclass fields: ``"premium(price_premium=1.25)"``.

    Raises:
        ValueError: naming the spec and the known names, or the field that does not fit.
    """
    if isinstance(spec, Strategy):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"strategy: expected a bot spec (str) or a Strategy instance; got {spec!r}")
    if spec in BOTS:
        return BOTS[spec]()
    name, kwargs = parse_spec(spec)
    cls = strategy_class(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        fields = ", ".join(f.name for f in dataclasses.fields(cls) if f.init) if dataclasses.is_dataclass(cls) else "see its __init__"
        raise ValueError(f"strategy {spec!r}: {exc} (fields of {cls.__name__}: {fields or 'none'})") from None


def defining_modules(classes: Iterable[type]) -> list[str]:
    """The modules, outside crmsim, that define `classes` (sorted): the researcher's own strategy code. A class
    defined in the running script (``__main__``; ``__mp_main__`` in a spawned worker) has no module to name."""
    own = __name__.split(".")[0]
    modules = {c.__module__ for c in classes}
    return sorted(m for m in modules if m not in ("__main__", "__mp_main__") and m.split(".")[0] != own)


def registered_name(cls: type[Strategy]) -> str | None:
    """The registry or entry-point name under which `cls` is known, if any (matched by module and class name,
    so a reloaded module's class keeps its name)."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    for name, known in BOTS.items():
        if f"{known.__module__}:{known.__qualname__}" == path:
            return name
    return next((name for name, ep in sorted(plugin_strategies().items()) if ep.value.strip() == path), None)


def strategy_label(spec: StrategySpec) -> str:
    """A stable name for a seat's strategy: the one in tables, line-ups and run ids.

    A registered class is named by its registry name, any other by ``module:Class``; dataclass fields that
    differ from their defaults follow in brackets (``"premium(price_premium=1.25)"``), so equal strategies
    get equal labels in every process. A strategy whose state is not a Python literal (a trained policy)
    names itself with a string attribute ``label``.

    Raises:
        ValueError: when a field value is not a literal and the strategy has no ``label``.
    """
    if isinstance(spec, str) and spec in BOTS:
        return spec
    bot = make_bot(spec)
    own = getattr(bot, "label", None)
    if isinstance(own, str):
        return own
    cls = type(bot)
    head = registered_name(cls) or f"{cls.__module__}:{cls.__qualname__}"
    args = [f"{k}={v!r}" for k, v in _changed_fields(bot)]
    return f"{head}({', '.join(args)})" if args else head


def _changed_fields(bot: Strategy) -> list[tuple[str, Any]]:
    """(name, value) of each init field whose value differs from its default, as Python literals."""
    if not dataclasses.is_dataclass(bot):
        return []
    out = []
    for f in dataclasses.fields(bot):
        if not f.init:
            continue
        value = getattr(bot, f.name)
        value = value.item() if isinstance(value, np.generic) else value
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if default is not dataclasses.MISSING and value == default:
            continue
        try:
            literal = ast.literal_eval(repr(value)) == value
        except (ValueError, SyntaxError):
            literal = False
        if not literal:
            raise ValueError(f"strategy {type(bot).__qualname__}: field {f.name} = {value!r} is not a Python literal, so "
                             "it has no stable label; give the strategy a string attribute `label` that names it")
        out.append((f.name, value))
    return out


def lineup(names: Sequence[StrategySpec] | None, n_firms: int) -> list[StrategySpec]:
    """Strategies for n seats: the given specs (or instances), or the default line-up, repeated to fill every seat.

    Raises:
        ValueError: for a spec that names no strategy.
    """
    names = list(names) if names else list(DEFAULT_LINEUP)
    for n in names:
        make_bot(n)
    return [names[i % len(names)] for i in range(n_firms)]
