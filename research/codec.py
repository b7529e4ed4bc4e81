"""The learning environments' codec: one firm's action vector -> an engine decision, and what the firm sees
-> its observation vector.

Both directions read a firm's :class:`~crmsim.sim.observation.Observation`, the view bots and teams decide
from, and a **baseline decision** (the firm's standing decision or a bot's, see research/env.py): an action
is a residual around the baseline, and the observation shows the baseline. So the environments and
:class:`crmsim.research.policy.PolicyStrategy` (a trained policy playing as a bot) encode and decode alike.

Every entry of both vectors is declared once, by name and bounds, in the layouts built here; actions are
read and observations written through dicts keyed by those names (an observation in parts: one dict per block,
client, tender slot or market row, tagged with its name prefix), so values cannot drift from the layout.
The rules sheet (what each entry means, how actions are repaired) is research/env.py's module docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from crmsim.scenarios import Scenario
from crmsim.scenarios.schema import STAGES
from crmsim.sim.decisions import TIER_NAMES, Decision, DecisionError, validate_decision
from crmsim.sim.events import event_effects
from crmsim.sim.observation import PUBLIC_FIRM_FIELDS, Observation
from crmsim.sim.state import Tender
from crmsim.sim.tenders import contract_load, is_invited, unit_delivery_cost

Bounds = tuple[float, float]
Layout = list[tuple[str, float, float]]  # (name, low, high) per entry
Plan = tuple[str, ...]  # the sales activities done with one client in a period
Part = tuple[str, dict[str, float]]  # (name prefix, {entry: value}): one block of an observation, e.g. ("client.C1", {...})
PartLayout = tuple[str, tuple[tuple[str, Bounds], ...]]  # (name prefix, ((entry, bounds), ...)) in layout order

OBS_CLIP = 10.0  # unbounded quantities are scaled, then clipped to [-OBS_CLIP, OBS_CLIP]
FLAG_ON = 0.5  # a flag entry at or above this switches a choice on; at or below -FLAG_ON off; between: the baseline's
MIN_PRICE = 0.01  # the engine needs a price > 0: one cent
SERVICE_DECIMALS = 4
BAND_LEVEL = {"weak": 1 / 3, "medium": 2 / 3, "strong": 1.0}  # a researched rival band, encoded

UNIT: Bounds = (0.0, 1.0)
MONEY: Bounds = (-OBS_CLIP, OBS_CLIP)
POSITIVE: Bounds = (0.0, OBS_CLIP)
SYMMETRIC: Bounds = (-1.0, 1.0)


@dataclass(frozen=True)
class ActionScales:
    """How far an action entry of +-1 moves the decision from its baseline.

    Prices and service levels move by a share; budgets by an amount; staff by whole heads (an entry is
    rounded half away from zero after scaling, so ``0.5 x sales_staff = 1`` head); flags switch at +-0.5.
    The defaults (:meth:`for_scenario`) keep one period's move modest: a random action cannot hire a
    crowd or spend the firm's cash in a period.
    """

    price: float = 0.1  # share of the baseline price
    service: float = 0.1  # service-level points
    care: float = 5_000.0  # ¥ of care budget
    advertising: float = 5_000.0  # ¥ of advertising budget
    retention: float = 1_000.0  # ¥ of retention budget
    cultivation: float = 5_000.0  # ¥ of cultivation per client (cultivating by spend)
    sales_staff: int = 1  # heads hired (fired) at +1 (-1)
    service_staff: int = 2
    finance: float = 50_000.0  # ¥ borrowed (+) or repaid (-) beyond the baseline's
    care_split: float = 2.0  # a tier's care share is multiplied by care_split ** entry, then the shares renormalised
    survey: int = 200  # customers surveyed beyond the baseline's
    bid_price: float = 0.5  # share of the tender's margin range (cap - own delivery cost)
    bid_service: float = 0.2  # promised-service points

    @classmethod
    def for_scenario(cls, sc: Scenario, **overrides: Any) -> ActionScales:
        """Scales sized to the scenario: budgets by its cost scales and an even share of the market."""
        even_share = sc.market.customers / sc.firms.count
        out = cls(
            care=round(sc.costs.care_scale * even_share / 5, 2),
            advertising=round(sc.costs.advertising_scale / 8, 2),
            retention=round(sc.crm.retention_scale * even_share / 50, 2),
            cultivation=round(sc.tenders.cultivation_scale / 4, 2),
            finance=round(max(sc.costs.credit_line, 1.0) / 4, 2),
            survey=max(1, min(200, sc.research.survey_max)),
        )
        return out.with_overrides(**overrides)

    def with_overrides(self, **overrides: Any) -> ActionScales:
        """These scales with some replaced; each must be a finite number > 0 (staff and survey: whole numbers)."""
        names = {f.name for f in fields(self)}
        for k, v in overrides.items():
            if k not in names:
                raise ValueError(f"scales.{k}: unknown scale; scales: {', '.join(sorted(names))}")
            whole = k in ("sales_staff", "service_staff", "survey")
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
            if not ok or (whole and v != int(v)):
                raise ValueError(f"scales.{k}: must be a {'whole ' if whole else ''}number > 0; got {v!r}")
        return replace(self, **{k: int(v) if k in ("sales_staff", "service_staff", "survey") else float(v) for k, v in overrides.items()})


# -- the action layout ------------------------------------------------------------------
FIRM_ACTIONS = ("price", "service_level", "care_budget", "advertising_budget", "sales_staff_change", "service_staff_change", "finance")
SLOT_ACTIONS = ("bid", "price", "promised_service")  # per tender slot

# -- the observation layout ---------------------------------------------------------------
OWN: tuple[tuple[str, Bounds], ...] = (
    ("period_progress", UNIT), ("cash", MONEY), ("debt", POSITIVE), ("emergency_debt", POSITIVE), ("credit_room", POSITIVE),
    ("customers_share", UNIT), ("sales_staff", POSITIVE), ("service_staff", POSITIVE), ("load_ratio", POSITIVE),
    ("unit_cost", POSITIVE), ("reputation", UNIT), ("awareness", UNIT), ("wom", MONEY),
    ("standing_price", UNIT), ("standing_service", UNIT), ("standing_care", POSITIVE), ("standing_advertising", POSITIVE),
    ("bid_limit", POSITIVE), ("sales_hours", POSITIVE),
)
CRM_OWN: tuple[tuple[str, Bounds], ...] = (  # scenarios with a retention budget or care by tier
    ("standing_retention", POSITIVE), ("standing_care_a", UNIT), ("standing_care_b", UNIT), ("standing_care_c", UNIT),
)
LAST: tuple[tuple[str, Bounds], ...] = (
    ("present", UNIT), ("score", UNIT), ("score_financial", UNIT), ("score_customer", UNIT),
    ("score_relationship", UNIT), ("score_growth", UNIT), ("rank", UNIT), ("revenue", POSITIVE),
    ("operating_profit", MONEY), ("cum_operating_profit", MONEY), ("equity", MONEY), ("customer_equity", MONEY),
    ("avg_satisfaction", UNIT), ("retention_rate", UNIT), ("acquired", UNIT), ("lost", UNIT),
    ("utilisation", POSITIVE), ("delivered_quality", UNIT), ("resolution_rate", UNIT),
    ("tenders_bid", UNIT), ("tenders_won", UNIT), ("tenders_voided", UNIT),
    ("tier_a", UNIT), ("tier_b", UNIT), ("tier_c", UNIT), ("at_risk_a", UNIT), ("at_risk_b", UNIT), ("at_risk_c", UNIT),
)
BASELINE: tuple[tuple[str, Bounds], ...] = (  # the baseline decision, in action units around the standing decision
    ("price", UNIT), ("service_level", UNIT), ("care_budget", POSITIVE), ("advertising_budget", POSITIVE),
    ("sales_staff_change", MONEY), ("service_staff_change", MONEY), ("finance", MONEY),
)
CLIENT: tuple[tuple[str, Bounds], ...] = (
    ("relationship", UNIT), ("rival_relationship_max", UNIT), ("client_satisfaction", UNIT),
    ("last_winning_price", POSITIVE), ("won_last", UNIT), ("next_tender", UNIT), ("closed", UNIT), ("lowest_price", UNIT),
)
CLIENT_SPEND: tuple[tuple[str, Bounds], ...] = (("standing_cultivation", POSITIVE), ("baseline_cultivation", POSITIVE))
CLIENT_LIFECYCLE: tuple[tuple[str, Bounds], ...] = (
    ("stage", UNIT), ("progress", UNIT), ("idle", UNIT), ("baseline_level", UNIT), ("baseline_hours", POSITIVE),
)
CLIENT_RESEARCH: tuple[tuple[str, Bounds], ...] = (("rival_band", UNIT), ("rival_band_known", UNIT), ("baseline_rivals", UNIT))
TENDER_TERMS: tuple[tuple[str, Bounds], ...] = (
    ("volume", POSITIVE), ("price_cap", POSITIVE), ("required_service", UNIT), ("closed", UNIT), ("min_relationship", UNIT),
    ("w_price", UNIT), ("w_service", UNIT), ("w_relationship", UNIT), ("reissue", UNIT), ("relationship", UNIT),
    ("eligible", UNIT), ("biddable", UNIT), ("cost_ratio", POSITIVE), ("load_ratio", POSITIVE), ("lowest_price", UNIT),
    ("min_valid_bids", UNIT), ("baseline_bid", UNIT), ("baseline_price", POSITIVE), ("baseline_promised", UNIT),
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
    ("purchase_change_ahead", MONEY), ("cost_shock_ahead", MONEY),
)
RESEARCH: tuple[tuple[str, Bounds], ...] = (  # scenarios with market research: last period's report and the baseline order
    ("survey_present", UNIT), ("survey_satisfaction_a", UNIT), ("survey_satisfaction_b", UNIT), ("survey_satisfaction_c", UNIT),
    ("survey_loyalty_a", UNIT), ("survey_loyalty_b", UNIT), ("survey_loyalty_c", UNIT),
    ("baseline_survey", POSITIVE), ("baseline_forecast", UNIT),
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


def heads(entry: float, scale: int) -> int:
    """Whole heads an entry asks for: entry x scale rounded half away from zero (0.5 x 2 = 1, -0.5 x 2 = -1)."""
    x = entry * scale
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def flag(entry: float, baseline: bool) -> bool:
    """A switch entry: on at or above FLAG_ON, off at or below -FLAG_ON, the baseline's choice between."""
    return True if entry >= FLAG_ON else False if entry <= -FLAG_ON else baseline


def reference_price(tender: Tender, cost: float) -> float:
    """The price a new bid starts from when the baseline does not bid: the middle of the margin range between
    the firm's own delivery cost at the bid's promised service and the tender's cap."""
    return min(tender.price_cap, cost + 0.5 * max(0.0, tender.price_cap - cost))


class FirmCodec:
    """Turns one firm's actions into engine decisions, and what it sees into its observation vectors.

    Shared by both environments and :class:`~crmsim.research.policy.PolicyStrategy`; every firm of a game
    has the same spaces. An action is a residual around a baseline decision: the zero action decodes to
    the baseline exactly.

    Args:
        scenario: the game's scenario.
        max_tenders: tender slots in the action and observation (default: one per client).
        scales: how far an entry of +-1 moves the decision (:class:`ActionScales`); a mapping overrides some
            of the scenario's defaults (:meth:`ActionScales.for_scenario`).
    """

    def __init__(self, scenario: Scenario, max_tenders: int | None = None, scales: ActionScales | Mapping[str, Any] | None = None):
        sc = scenario
        self.scenario = sc
        self.n_firms = sc.firms.count
        self.clients = sc.client_ids
        self.max_tenders = len(sc.clients) if max_tenders is None else max_tenders
        if isinstance(self.max_tenders, bool) or not isinstance(self.max_tenders, (int, np.integer)) or self.max_tenders < 0:
            raise ValueError(f"max_tenders: must be a whole number >= 0; got {max_tenders!r}")
        self.max_tenders = int(self.max_tenders)
        if isinstance(scales, ActionScales):
            self.scales = scales
        else:
            self.scales = ActionScales.for_scenario(sc, **dict(scales or {}))
        self.lifecycle = sc.cultivation.mode == "lifecycle"
        self.crm = sc.crm.retention_offered or sc.crm.tier_care
        self.research = sc.research.offered
        self.money_scale = float(sc.firms.cash) if sc.firms.cash > 0 else 100_000.0
        self.max_volume = max((c.volume for c in sc.clients), default=1.0)
        self.ladders = {stage: self._ladder(stage) for stage in STAGES}
        self.action_layout = self._action_layout()
        self.observation_parts = self._observation_parts()
        self.observation_layout: Layout = [(f"{prefix}.{n}", *b) for prefix, entries in self.observation_parts for n, b in entries]
        self.action_names = tuple(n for n, _, _ in self.action_layout)
        self.observation_names = tuple(n for n, _, _ in self.observation_layout)
        self._action_parts = (("", self.action_names),)
        self._o_parts = tuple((prefix, tuple(n for n, _ in entries)) for prefix, entries in self.observation_parts)
        self._a_index = {n: k for k, n in enumerate(self.action_names)}
        self._o_low = np.array([lo for _, lo, _ in self.observation_layout], dtype=np.float32)
        self._o_high = np.array([hi for _, _, hi in self.observation_layout], dtype=np.float32)

    # -- spaces ----------------------------------------------------------

    def _ladder(self, stage: str) -> tuple[Plan, ...]:
        """The plans a client at `stage` can get, least effort first: every set of the activities that count at the
        stage (none included), by sales hours (ties: more progress first, then the names); within a plan the
        activities run fewest hours first."""
        acts = self.scenario.cultivation.activities
        counted = sorted((a for a, spec in acts.items() if stage in spec.stages), key=lambda a: (acts[a].hours, a))
        plans = [tuple(a for k, a in enumerate(counted) if mask >> k & 1) for mask in range(2 ** len(counted))]
        return tuple(sorted(plans, key=lambda p: (self.plan_hours(p), -sum(acts[a].progress for a in p), p)))

    def plan_hours(self, plan: Sequence[str]) -> float:
        acts = self.scenario.cultivation.activities
        return float(sum(acts[a].hours for a in plan))

    def _action_layout(self) -> Layout:
        names = list(FIRM_ACTIONS)
        if self.scenario.crm.retention_offered:
            names.append("retention_budget")
        if self.scenario.crm.tier_care:
            names += [f"care_split.{t}" for t in TIER_NAMES]
        if self.research:
            names += ["research.survey", "research.forecast"] + [f"research.rivals.{c}" for c in self.clients]
        names += [f"{'activities' if self.lifecycle else 'cultivation'}.{c}" for c in self.clients]
        names += [f"slot{k}.{n}" for k in range(self.max_tenders) for n in SLOT_ACTIONS]
        return [(n, *SYMMETRIC) for n in names]

    def _observation_parts(self) -> list[PartLayout]:
        """The observation's parts in layout order: the firm's own blocks, one per key client, one per tender slot,
        one per firm of the market report, then the news and research blocks (``observation_layout`` joins them)."""
        own = OWN + (CRM_OWN if self.crm else ())
        baseline = BASELINE + ((("retention_budget", POSITIVE),) if self.scenario.crm.retention_offered else ())
        client = CLIENT + (CLIENT_LIFECYCLE if self.lifecycle else CLIENT_SPEND) + (CLIENT_RESEARCH if self.research else ())
        market = tuple((n, MARKET_BOUNDS.get(n, UNIT)) for n in MARKET_ROW)
        out: list[PartLayout] = [("own", own), ("last", LAST), ("baseline", baseline)]
        out += [(f"client.{c}", client) for c in self.clients]
        out += [(f"slot{k}", self._slot_entries()) for k in range(self.max_tenders)]
        out += [(f"market.{self._seat(j)}", market) for j in range(self.n_firms)]
        out.append(("news", NEWS))
        if self.research:
            out.append(("research", RESEARCH))
        return out

    def _slot_entries(self) -> tuple[tuple[str, Bounds], ...]:
        """A tender slot's entries: whether a tender is open in it, its client (one flag per key client), its terms."""
        return (("present", UNIT),) + tuple((f"client.{c}", UNIT) for c in self.clients) + TENDER_TERMS

    @staticmethod
    def _seat(j: int) -> str:
        """The name of the j-th firm of the market block, counted from the observing firm."""
        return "self" if j == 0 else f"rival{j}"

    def action_space(self) -> spaces.Box:
        """A new action space object, Box(-1, 1) (the environments cache one per agent)."""
        n = len(self.action_names)
        return spaces.Box(-np.ones(n, dtype=np.float32), np.ones(n, dtype=np.float32), dtype=np.float32)

    def observation_space(self) -> spaces.Box:
        return spaces.Box(self._o_low.copy(), self._o_high.copy(), dtype=np.float32)

    def named(self, vector: np.ndarray, kind: Literal["action", "observation"] = "observation") -> dict[str, float]:
        """An action or observation vector as {entry name: value}, for reading and debugging."""
        names = self.observation_names if kind == "observation" else self.action_names
        return {n: float(v) for n, v in zip(names, np.asarray(vector).ravel())}

    @staticmethod
    def _vector(layout: Sequence[tuple[str, Sequence[str]]], parts: Sequence[Part], what: str) -> np.ndarray:
        """The parts' values in layout order; a part out of order, or a value missing or not in the layout, is a
        codec bug, named here. `layout` holds each part's (prefix, entry names) in order."""
        if len(parts) != len(layout) or any(p != prefix for (p, _), (prefix, _) in zip(parts, layout)):
            raise RuntimeError(f"{what}: parts {[p for p, _ in parts]} do not follow the layout's {[prefix for prefix, _ in layout]}")
        values: list[float] = []
        for (prefix, names), (_, part) in zip(layout, parts):
            try:
                if len(part) == len(names):  # as many entries as names, and every name found: none missing, none extra
                    values += [part[n] for n in names]
                    continue
            except KeyError:
                pass
            raise RuntimeError(f"{what}: {prefix or 'entries'} {sorted(set(names) - part.keys())} missing, "
                               f"{sorted(part.keys() - set(names))} not in the layout")
        return np.array(values, dtype=np.float64)

    @staticmethod
    def slots(tenders: Sequence[Tender]) -> tuple[Tender, ...]:
        """The open tenders in slot order (sorted by tender id)."""
        return tuple(sorted(tenders, key=lambda t: t.id))

    # -- what the firm may do -----------------------------------------------

    def sales_reach(self, ob: Observation, baseline: Decision) -> int:
        """The most sales staff the firm can have this period within the action space (the baseline's hires and the
        action's own, up to the per-period limit)."""
        hired = min(ob.limits.max_hire, max(0, baseline.hire_sales - baseline.fire_sales) + self.scales.sales_staff)
        return ob.firm.sales_staff + hired

    def biddable(self, ob: Observation, tender: Tender, sales_reach: int) -> bool:
        """Whether a bid on `tender` can count: the firm is invited (its stage or relationship with the client),
        some price between its own delivery cost at the required service and the cap exists, and its sales staff
        (with the most hires the action allows) can bid at all."""
        if sales_reach <= 0 or ob.limits.bid_limit(sales_reach) <= 0:
            return False
        stage = STAGES.index(ob.stage[tender.client]) if ob.stage else None
        if not is_invited(tender, ob.relationship.get(tender.client, 0.0), stage):
            return False
        sc = self.scenario
        return unit_delivery_cost(ob.firm.unit_cost, tender.required_service, sc.tenders.service_cost_per_unit) <= tender.price_cap

    def action_mask(self, ob: Observation, baseline: Decision) -> np.ndarray:
        """Which action entries can change the decision now (True) and which the decoder ignores (False): the entries
        of an empty tender slot or of a tender the firm cannot bid on (:meth:`biddable`), a client's activities when
        none counts at its stage or the firm can have no sales hours, borrowing and repaying when there is neither
        room nor debt to repay."""
        mask = np.ones(len(self.action_names), dtype=bool)
        ix = self._a_index
        reach = self.sales_reach(ob, baseline)
        if ob.limits.borrow_room <= 0 and ob.limits.repay_limit <= 0:
            mask[ix["finance"]] = False
        for c in self.clients:
            if self.lifecycle:
                if len(self.ladders[ob.stage[c]]) < 2 or ob.limits.hours_limit(reach) <= 0:
                    mask[ix[f"activities.{c}"]] = False
            elif ob.limits.client_limit(reach) <= 0:
                mask[ix[f"cultivation.{c}"]] = False
        open_tenders = self.slots(ob.tenders)
        for k in range(self.max_tenders):
            if k >= len(open_tenders) or not self.biddable(ob, open_tenders[k], reach):
                for n in SLOT_ACTIONS:
                    mask[ix[f"slot{k}.{n}"]] = False
        return mask

    # -- action -> decision ----------------------------------------------

    def to_decision(self, ob: Observation, baseline: Decision, action: Any, mask: np.ndarray | None = None) -> tuple[Decision, tuple[str, ...]]:
        """The validated decision an action stands for, and the repairs it needed (see research/env.py).

        Args:
            ob: the firm's observation now.
            baseline: the decision the zero action stands for (validated against ``ob.limits``).
            action: the residual, shape ``(len(action_names),)``, entries in [-1, 1].
            mask: :meth:`action_mask` for this observation and baseline (computed when None); masked entries are ignored.

        Raises:
            ValueError: the action does not have the space's shape (a caller's bug, not a bad move).
        """
        a = np.asarray(action, dtype=np.float64).ravel()
        n = len(self.action_names)
        if a.size != n:
            raise ValueError(f"action: expected {n} numbers (shape ({n},)); got shape {np.shape(action)}")
        repairs: list[str] = []
        bad = ~np.isfinite(a)
        if bad.any():
            repairs.append(f"non-finite entries read as 0: {', '.join(self.action_names[i] for i in np.flatnonzero(bad))}")
            a = np.where(bad, 0.0, a)
        clipped = np.clip(a, -1.0, 1.0)
        out = np.flatnonzero(clipped != a)
        if out.size:
            repairs.append(f"entries outside [-1, 1] clipped: {', '.join(self.action_names[i] for i in out)}")
        mask = self.action_mask(ob, baseline) if mask is None else mask
        act = dict(zip(self.action_names, np.where(mask, clipped, 0.0).tolist()))
        raw = self._raw(ob, baseline, act, repairs)
        try:
            decision = validate_decision(raw, ob.limits)
        except DecisionError as exc:  # not expected: every rule is repaired above; keep the baseline
            repairs.append(f"engine rejected the repaired decision ({'; '.join(map(str, exc.problems))}): baseline decision kept")
            decision = baseline
        return decision, tuple(repairs)

    def _raw(self, ob: Observation, base: Decision, act: Mapping[str, float], repairs: list[str]) -> dict[str, Any]:
        s = self.scales
        raw: dict[str, Any] = {
            "price": self._price(base.price, act["price"], repairs),
            "service_level": base.service_level if not act["service_level"] else
            round(min(1.0, max(0.0, base.service_level + s.service * act["service_level"])), SERVICE_DECIMALS),
            "care_budget": self._budget(base.care_budget, act["care_budget"], s.care),
            "advertising_budget": self._budget(base.advertising_budget, act["advertising_budget"], s.advertising),
            "retention_budget": self._budget(base.retention_budget, act.get("retention_budget", 0.0), s.retention),
            "care_split": self._care_split(ob, base, act),
            "research": self._research(base, act),
        }
        sales_after = ob.firm.sales_staff + self._staffing(raw, ob, base, "sales", act["sales_staff_change"], repairs)
        self._staffing(raw, ob, base, "service", act["service_staff_change"], repairs)
        self._finance(raw, ob, base, act["finance"])
        if self.lifecycle:
            raw["activities"] = self._activities(ob, base, act, sales_after, repairs)
        else:
            raw["cultivation"] = self._cultivation(ob, base, act, sales_after, repairs)
        raw["bids"] = self._bids(ob, base, act, sales_after, repairs)
        return raw

    def _price(self, base: float, entry: float, repairs: list[str]) -> float:
        if not entry:
            return base
        cap = self.scenario.market.price_cap
        price = min(_cents(base * (1.0 + self.scales.price * entry)), cap)
        if price < MIN_PRICE:
            repairs.append(f"price: {price:g} raised to the minimum {MIN_PRICE:g}")
            price = MIN_PRICE
        return price

    @staticmethod
    def _budget(base: float, entry: float, step: float) -> float:
        return base if not entry else max(0.0, _cents(base + step * entry))

    def _care_split(self, ob: Observation, base: Decision, act: Mapping[str, float]) -> dict[str, float]:
        """Care shares by tier: each base share x care_split ** entry, renormalised; without a baseline split the base
        shares are the firm's customers by tier (care spread per customer), so a small move changes little."""
        entries = [act.get(f"care_split.{t}", 0.0) for t in TIER_NAMES]
        if not any(entries):
            return dict(base.care_split)
        weights = [x * self.scales.care_split ** e for x, e in zip(self.split_base(ob, base), entries)]
        rounded = [round(w / sum(weights), SERVICE_DECIMALS) for w in weights]
        rounded[-1] = round(1.0 - sum(rounded[:-1]), SERVICE_DECIMALS)
        return {t: x for t, x in zip(TIER_NAMES, rounded) if x > 0}

    def split_base(self, ob: Observation, base: Decision) -> list[float]:
        """The care shares (A, B, C) a care-split entry moves: the baseline's split, or without one the firm's
        customers by tier (last period's, or the market's tier shares before period 1); each at least 1%."""
        if base.care_split:
            shares = [base.care_split.get(t, 0.0) for t in TIER_NAMES]
        else:
            last = ob.own_last or {}
            shares = [_num(last.get(f"tier_{t.lower()}")) for t in TIER_NAMES]
            if sum(shares) <= 0:
                m = self.scenario.market
                shares = [m.tier_a_share, m.tier_b_share, max(0.0, 1.0 - m.tier_a_share - m.tier_b_share)]
        total = sum(shares) or 1.0
        return [max(x / total, 0.01) for x in shares]

    def _research(self, base: Decision, act: Mapping[str, float]) -> Any:
        if not self.research:
            return base.research
        entries = [act["research.survey"], act["research.forecast"]] + [act[f"research.rivals.{c}"] for c in self.clients]
        if not any(entries):
            return base.research
        r = base.research
        survey = r.survey + heads(act["research.survey"], self.scales.survey)
        survey = min(max(survey, 0), self.scenario.research.survey_max)
        rivals = [c for c in self.clients if flag(act[f"research.rivals.{c}"], c in r.rivals)]
        return {"rivals": rivals, "survey": survey, "forecast": flag(act["research.forecast"], r.forecast)}

    def _staffing(self, raw: dict[str, Any], ob: Observation, base: Decision, kind: str, entry: float, repairs: list[str]) -> int:
        """The baseline's hires or fires of one kind of staff, moved by the entry and capped as validation requires;
        returns the net change."""
        hire, fire = (base.hire_sales, base.fire_sales) if kind == "sales" else (base.hire_service, base.fire_service)
        step = heads(entry, self.scales.sales_staff if kind == "sales" else self.scales.service_staff)
        if step:
            net = hire - fire + step
            hire, fire = max(net, 0), max(-net, 0)
            if hire > ob.limits.max_hire:
                repairs.append(f"hire_{kind}: {hire} asked, at most {ob.limits.max_hire} per period: hired {ob.limits.max_hire}")
                hire = ob.limits.max_hire
            have = ob.limits.max_fire(kind)
            if fire > have:
                repairs.append(f"fire_{kind}: {fire} asked, {have} on staff: fired {have}")
                fire = have
        raw[f"hire_{kind}"], raw[f"fire_{kind}"] = hire, fire
        return hire - fire

    def _finance(self, raw: dict[str, Any], ob: Observation, base: Decision, entry: float) -> None:
        """The baseline's borrowing and repayment, the net moved by entry x scales.finance, within the credit room and
        what can be repaid."""
        if not entry:
            raw["borrow"], raw["repay"] = base.borrow, base.repay
            return
        net = base.borrow - base.repay + self.scales.finance * entry
        raw["borrow"] = min(ob.limits.borrow_room, _cents(max(net, 0.0)))
        raw["repay"] = min(ob.limits.repay_limit, _cents(max(-net, 0.0)))

    def _cultivation(self, ob: Observation, base: Decision, act: Mapping[str, float], sales_after: int, repairs: list[str]) -> dict[str, float]:
        """Spend per client (cultivating by spend); beyond what the sales staff cover, the largest spends are kept
        (ties: scenario order)."""
        spend = {c: self._budget(base.cultivation.get(c, 0.0), act[f"cultivation.{c}"], self.scales.cultivation) for c in self.clients}
        spend = {c: x for c, x in spend.items() if x > 0}
        limit = ob.limits.client_limit(sales_after)
        if len(spend) > limit:
            order = {c: k for k, c in enumerate(self.clients)}
            keep = set(sorted(spend, key=lambda c: (-spend[c], order[c]))[:limit])
            repairs.append(f"cultivation: {len(spend)} clients asked, {sales_after} sales staff cultivate at most {limit}: kept the {limit} largest")
            spend = {c: spend[c] for c in self.clients if c in keep}
        return spend

    def level(self, stage: str, plan: Sequence[str]) -> int:
        """A plan's place on the stage's ladder: its own, or (a plan with activities that do not count at the stage)
        the rung nearest in hours (ties: the lower)."""
        ladder = self.ladders[stage]
        for k, rung in enumerate(ladder):
            if set(rung) == set(plan) and len(rung) == len(plan):
                return k
        hours = self.plan_hours(plan)
        return min(range(len(ladder)), key=lambda k: (abs(self.plan_hours(ladder[k]) - hours), k))

    def _activities(self, ob: Observation, base: Decision, act: Mapping[str, float], sales_after: int, repairs: list[str]) -> dict[str, Plan]:
        """Each client's plan: the baseline's, moved up or down the stage's ladder by entry x (rungs - 1), rounded half
        away from zero; a rung holds only activities that count at the stage. Beyond the sales staff's hours, the
        plan of the client with the lowest entry (ties: the later client) steps down a rung until they fit."""
        plans: dict[str, Plan] = {}
        for c in self.clients:
            mine = tuple(base.activities.get(c, ()))
            ladder = self.ladders[ob.stage[c]]
            shift = heads(act[f"activities.{c}"], len(ladder) - 1)
            if shift:
                mine = ladder[min(max(self.level(ob.stage[c], mine) + shift, 0), len(ladder) - 1)]
            if mine:
                plans[c] = mine
        limit = ob.limits.hours_limit(sales_after)
        asked = sum(self.plan_hours(p) for p in plans.values())
        if asked > limit + 1e-9:
            order = {c: k for k, c in enumerate(self.clients)}
            while plans and sum(self.plan_hours(p) for p in plans.values()) > limit + 1e-9:
                c = min(plans, key=lambda c: (act[f"activities.{c}"], -order[c]))
                lower = self.ladders[ob.stage[c]][max(self.level(ob.stage[c], plans[c]) - 1, 0)]
                if lower:
                    plans[c] = lower
                else:
                    del plans[c]
            repairs.append(f"activities: {asked:g} sales hours asked, {sales_after} sales staff have {limit:g}: "
                           "the lowest entries' plans stepped down")
        return plans

    def _bids(self, ob: Observation, base: Decision, act: Mapping[str, float], sales_after: int, repairs: list[str]) -> dict[str, dict[str, float]]:
        """Per slot: bid or not (a flag around the baseline's choice), at the baseline's terms (or the reference bid's)
        moved by the price and service entries. Beyond the bid limit the strongest flags are kept (ties: slot order)."""
        sc = self.scenario
        open_tenders = self.slots(ob.tenders)
        wanted: list[tuple[float, int, str, dict[str, float]]] = []
        for k, t in enumerate(open_tenders):
            mine = base.bids.get(t.id)
            if k >= self.max_tenders:  # beyond the slots: the baseline's bid stands
                if mine is not None:
                    wanted.append((0.0, k, t.id, {"price": mine.price, "promised_service": mine.promised_service}))
                continue
            e_bid, e_price, e_service = (act[f"slot{k}.{n}"] for n in SLOT_ACTIONS)
            if not flag(e_bid, mine is not None):
                continue
            if mine is not None and not e_price and not e_service:
                wanted.append((e_bid, k, t.id, {"price": mine.price, "promised_service": mine.promised_service}))
                continue
            promised = mine.promised_service if mine is not None else t.required_service
            if e_service:
                promised = round(min(1.0, max(t.required_service, promised + self.scales.bid_service * e_service)), SERVICE_DECIMALS)
            cost = unit_delivery_cost(ob.firm.unit_cost, promised, sc.tenders.service_cost_per_unit)
            price = mine.price if mine is not None else reference_price(t, cost)
            if e_price or mine is None:
                price = price + self.scales.bid_price * max(0.0, t.price_cap - cost) * e_price
                price = max(MIN_PRICE, min(_cents(max(price, cost)), t.price_cap))
            wanted.append((e_bid, k, t.id, {"price": price, "promised_service": promised}))
        limit = ob.limits.bid_limit(sales_after)
        if len(wanted) > limit:
            repairs.append(f"bids: {len(wanted)} asked, {sales_after} sales staff bid at most {limit}: kept the {limit} strongest bid flags")
            wanted = sorted(sorted(wanted, key=lambda w: (-w[0], w[1]))[:limit], key=lambda w: w[1])
        return {tid: bid for _, _, tid, bid in wanted}

    # -- decision -> action ----------------------------------------------

    def to_action(self, ob: Observation, baseline: Decision, raw: Mapping[str, Any] | Decision | None) -> np.ndarray:
        """An action that decodes (:meth:`to_decision`) to `raw`, as far as the space can express it.

        `raw` is validated first (DecisionError if the engine rejects it); None stands for
        the standing decision with no one-off fields. Lossy where the space is narrower than the
        rules: a move larger than one step of :class:`ActionScales`, bids on tenders beyond the
        slots or masked, borrowing and repaying in one period (the net is kept), the order in
        which a research order names clients. Prices and budgets decode to the cent and service
        levels to 1e-4.
        """
        d = validate_decision(raw if raw is not None else {}, ob.limits)
        b, s = baseline, self.scales
        act = dict.fromkeys(self.action_names, 0.0)

        def share(new: float, old: float, step: float) -> float:
            return 0.0 if new == old else (new - old) / step

        act["price"] = share(d.price, b.price, s.price * b.price)
        act["service_level"] = share(d.service_level, b.service_level, s.service)
        act["care_budget"] = share(d.care_budget, b.care_budget, s.care)
        act["advertising_budget"] = share(d.advertising_budget, b.advertising_budget, s.advertising)
        act["sales_staff_change"] = share(d.hire_sales - d.fire_sales, b.hire_sales - b.fire_sales, s.sales_staff)
        act["service_staff_change"] = share(d.hire_service - d.fire_service, b.hire_service - b.fire_service, s.service_staff)
        if (d.borrow, d.repay) != (b.borrow, b.repay):
            act["finance"] = ((d.borrow - d.repay) - (b.borrow - b.repay)) / s.finance or 1e-9
        if "retention_budget" in act:
            act["retention_budget"] = share(d.retention_budget, b.retention_budget, s.retention)
        if self.scenario.crm.tier_care and dict(d.care_split) != dict(b.care_split) and d.care_split and s.care_split != 1:
            for t, old in zip(TIER_NAMES, self.split_base(ob, b)):
                act[f"care_split.{t}"] = math.log(max(d.care_split.get(t, 0.0), 1e-6) / old) / math.log(s.care_split) or 1e-9
        if self.research and d.research != b.research:
            act["research.survey"] = (d.research.survey - b.research.survey) / s.survey
            act["research.forecast"] = 0.0 if d.research.forecast == b.research.forecast else (1.0 if d.research.forecast else -1.0)
            for c in self.clients:
                on, was = c in d.research.rivals, c in b.research.rivals
                act[f"research.rivals.{c}"] = 0.0 if on == was else (1.0 if on else -1.0)
        for c in self.clients:
            if self.lifecycle:
                new, old = tuple(d.activities.get(c, ())), tuple(b.activities.get(c, ()))
                if new != old:
                    rungs = len(self.ladders[ob.stage[c]]) - 1
                    act[f"activities.{c}"] = (self.level(ob.stage[c], new) - self.level(ob.stage[c], old)) / max(rungs, 1)
            else:
                act[f"cultivation.{c}"] = share(d.cultivation.get(c, 0.0), b.cultivation.get(c, 0.0), s.cultivation)
        for k, t in enumerate(self.slots(ob.tenders)[: self.max_tenders]):
            new, old = d.bids.get(t.id), b.bids.get(t.id)
            if new is None:
                act[f"slot{k}.bid"] = -1.0 if old is not None else 0.0
                continue
            cost = unit_delivery_cost(ob.firm.unit_cost, new.promised_service, self.scenario.tenders.service_cost_per_unit)
            if old is None:
                act[f"slot{k}.bid"] = 1.0
                price, promised = reference_price(t, cost), t.required_service
            else:
                price, promised = old.price, old.promised_service
                if (new.price, new.promised_service) == (price, promised):
                    continue
            act[f"slot{k}.promised_service"] = share(new.promised_service, promised, s.bid_service) or 1e-9
            act[f"slot{k}.price"] = share(new.price, price, s.bid_price * max(t.price_cap - cost, 1e-9)) or 1e-9
        a = self._vector(self._action_parts, [("", act)], "action")
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    # -- observation -> vector ---------------------------------------------

    def observe(self, ob: Observation, baseline: Decision) -> np.ndarray:
        """Firm `ob.firm`'s observation vector (see ``observation_names``), showing `baseline` as its baseline."""
        x = self._vector(self._o_parts, self._parts(ob, baseline), "observation")
        x = np.nan_to_num(x, nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP)
        return np.clip(x, self._o_low, self._o_high).astype(np.float32)

    def observation_entries(self, ob: Observation, baseline: Decision) -> dict[str, float]:
        """The entries :meth:`observe` encodes, as {entry name: value} before clipping, for reading and tests."""
        return {f"{prefix}.{n}": v for prefix, part in self._parts(ob, baseline) for n, v in part.items()}

    def _parts(self, ob: Observation, baseline: Decision) -> list[Part]:
        """The observation's parts, in the order of ``observation_parts``."""
        capacity = ob.firm.service_staff * self.scenario.costs.customers_per_service_staff
        reach = self.sales_reach(ob, baseline)
        return [
            ("own", self._own(ob, capacity)),
            ("last", self._last(ob)),
            ("baseline", self._baseline(ob, baseline)),
            *self._client_block(ob, baseline),
            *self._slot_block(ob, baseline, capacity, reach),
            *self._market(ob),
            ("news", self._news(ob)),
            *self._research_block(ob, baseline),
        ]

    def _own(self, ob: Observation, capacity: float) -> dict[str, float]:
        """The firm's own position at the start of the period."""
        sc, f, m, st, s = self.scenario, ob.firm, self.money_scale, ob.firm.standing, self.scales
        own = {
            "period_progress": (ob.period - 1) / sc.periods,
            "cash": f.cash / m,
            "debt": f.debt / m,
            "emergency_debt": f.emergency_debt / m,
            "credit_room": ob.limits.borrow_room / m,
            "customers_share": ob.customers / sc.market.customers,
            "sales_staff": f.sales_staff / max(1, sc.firms.sales_staff),
            "service_staff": f.service_staff / max(1, sc.firms.service_staff),
            "load_ratio": _ratio(ob.customers, capacity),
            "unit_cost": f.unit_cost / sc.market.reference_price,
            "reputation": f.reputation,
            "awareness": f.awareness,
            "wom": f.wom,
            "standing_price": st.price / sc.market.price_cap,
            "standing_service": st.service_level,
            "standing_care": st.care_budget / s.care / 4,
            "standing_advertising": st.advertising_budget / s.advertising / 4,
            "bid_limit": ob.limits.bid_limit(f.sales_staff) / max(1, self.max_tenders),
            "sales_hours": ob.limits.hours_limit(f.sales_staff) / max(1.0, sc.cultivation.hours_per_sales_staff * sc.firms.sales_staff),
        }
        if self.crm:
            own["standing_retention"] = st.retention_budget / s.retention / 4
            for t in TIER_NAMES:
                own[f"standing_care_{t.lower()}"] = st.care_split.get(t, 0.0)
        return own

    def _last(self, ob: Observation) -> dict[str, float]:
        """The firm's own metrics row of last period (zeros before period 1)."""
        r = ob.own_last
        if r is None:
            return {n: 0.0 for n, _ in LAST}
        m, n_tenders = self.money_scale, max(1, self.max_tenders)
        customers = max(_num(r["customers"]), 1.0)
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
            **{f"tier_{t}": _num(r.get(f"tier_{t}")) / customers for t in "abc"},
            **{f"at_risk_{t}": _num(r.get(f"at_risk_{t}")) / customers for t in "abc"},
        }
        return last

    def _baseline(self, ob: Observation, b: Decision) -> dict[str, float]:
        """The baseline decision's firm-level fields, in action units (staff and finance) or as shares."""
        s = self.scales
        out = {
            "price": b.price / self.scenario.market.price_cap,
            "service_level": b.service_level,
            "care_budget": b.care_budget / s.care / 4,
            "advertising_budget": b.advertising_budget / s.advertising / 4,
            "sales_staff_change": (b.hire_sales - b.fire_sales) / s.sales_staff,
            "service_staff_change": (b.hire_service - b.fire_service) / s.service_staff,
            "finance": (b.borrow - b.repay) / s.finance,
        }
        if self.scenario.crm.retention_offered:
            out["retention_budget"] = b.retention_budget / s.retention / 4
        return out

    def _client_block(self, ob: Observation, b: Decision) -> list[Part]:
        """Per key client: relationships, the client's satisfaction, last period's award, next period's calendar, and the
        firm's cultivation (standing and baseline spend, or stage, progress, idle periods and the baseline plan)."""
        sc = self.scenario
        won = {row["client"]: row for row in ob.last_bids if row["won"]}
        upcoming = {row["client"] for row in ob.calendar}
        rivals = (ob.research or {}).get("rivals", {})
        out: list[Part] = []
        for c in self.clients:
            client = sc.client(c)
            w = won.get(c)
            block = {
                "relationship": ob.relationship[c],
                "rival_relationship_max": ob.rivals_relationship_max[c],
                "client_satisfaction": ob.client_satisfaction[c] / 10,
                "last_winning_price": w["price"] / client.price_cap if w else 0.0,
                "won_last": 1.0 if w and w["firm"] == ob.firm.index else 0.0,
                "next_tender": 1.0 if c in upcoming else 0.0,
                "closed": float(client.closed),
                "lowest_price": float(client.award == "lowest_price"),
            }
            if self.lifecycle:
                stage = ob.stage[c]
                rungs = len(self.ladders[stage]) - 1
                plan = tuple(b.activities.get(c, ()))
                block.update(
                    stage=STAGES.index(stage) / (len(STAGES) - 1),
                    progress=ob.progress[c],
                    idle=min(1.0, ob.idle[c] / sc.cultivation.slip_after),
                    baseline_level=self.level(stage, plan) / rungs if rungs else 0.0,
                    baseline_hours=self.plan_hours(plan) / max(sc.cultivation.hours_per_sales_staff, 1.0),
                )
            else:
                block.update(
                    standing_cultivation=ob.firm.standing.cultivation.get(c, 0.0) / self.scales.cultivation,
                    baseline_cultivation=b.cultivation.get(c, 0.0) / self.scales.cultivation,
                )
            if self.research:
                bands = rivals.get(c)
                block.update(
                    rival_band=max((BAND_LEVEL[x["band"]] for x in bands), default=0.0) if bands else 0.0,
                    rival_band_known=1.0 if bands is not None else 0.0,
                    baseline_rivals=1.0 if c in b.research.rivals else 0.0,
                )
            out.append((f"client.{c}", block))
        return out

    def _slot_block(self, ob: Observation, b: Decision, capacity: float, reach: int) -> list[Part]:
        """Per tender slot: the open tender's terms, the firm's standing with it and the baseline's bid; zeros for an empty slot."""
        sc, f = self.scenario, ob.firm
        open_tenders = self.slots(ob.tenders)
        names = [n for n, _ in self._slot_entries()]
        out: list[Part] = []
        for k in range(self.max_tenders):
            if k >= len(open_tenders):
                out.append((f"slot{k}", dict.fromkeys(names, 0.0)))
                continue
            t = open_tenders[k]
            rel = ob.relationship.get(t.client, 0.0)
            stage = STAGES.index(ob.stage[t.client]) if ob.stage else None
            mine = b.bids.get(t.id)
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
                "eligible": float(is_invited(t, rel, stage)),
                "biddable": float(self.biddable(ob, t, reach)),
                "cost_ratio": unit_delivery_cost(f.unit_cost, t.required_service, sc.tenders.service_cost_per_unit) / t.price_cap,
                "load_ratio": _ratio(contract_load(t), capacity),
                "lowest_price": float(t.award == "lowest_price"),
                "min_valid_bids": t.min_valid_bids / self.n_firms,
                "baseline_bid": 1.0 if mine is not None else 0.0,
                "baseline_price": mine.price / t.price_cap if mine is not None else 0.0,
                "baseline_promised": mine.promised_service if mine is not None else 0.0,
            }
            out.append((f"slot{k}", block))
        return out

    def _market(self, ob: Observation) -> list[Part]:
        """Last period's public report, one row per firm: own row first, then rivals in seat order after it."""
        m, n_tenders, firm = self.money_scale, max(1, self.max_tenders), ob.firm.index
        rows = {row["firm"]: row for row in ob.market}
        out: list[Part] = []
        for j in range(self.n_firms):
            row = rows.get((firm + j) % self.n_firms)
            prefix = f"market.{self._seat(j)}"
            if row is None:
                out.append((prefix, dict.fromkeys(MARKET_ROW, 0.0)))
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
            out.append((prefix, encoded))
        return out

    def _news(self, ob: Observation) -> dict[str, float]:
        """The events of the period (purchase and cost changes, the new entrant, scandals: own, rivals') and the
        news of events announced ahead of their start."""
        effects = event_effects(self.scenario, ob.period)
        news = {
            "purchase_change": effects.purchase_factor - 1.0,
            "cost_shock": effects.unit_cost_factor(1.0) - 1.0,
            "new_entrant": effects.outside_boost,
            "scandal_self": 0.0,
            "scandal_rival": 0.0,
            "purchase_change_ahead": 0.0,
            "cost_shock_ahead": 0.0,
        }
        for hit, magnitude in effects.scandals:
            news["scandal_self" if hit == ob.firm.index else "scandal_rival"] += magnitude / 10
        for e in ob.news:
            if e.period > ob.period and e.kind in ("recession", "boom"):
                news["purchase_change_ahead"] += e.magnitude - 1.0
            elif e.period > ob.period and e.kind == "cost_shock":
                news["cost_shock_ahead"] += e.magnitude - 1.0
        return news

    def _research_block(self, ob: Observation, b: Decision) -> list[Part]:
        """Last period's own survey (means by tier; zeros without one) and the baseline's research order (no part
        in a scenario without research)."""
        if not self.research:
            return []
        survey = (ob.research or {}).get("survey")
        out = {"survey_present": 0.0, "baseline_survey": b.research.survey / self.scales.survey, "baseline_forecast": float(b.research.forecast)}
        for t in TIER_NAMES:
            out[f"survey_satisfaction_{t.lower()}"] = 0.0
            out[f"survey_loyalty_{t.lower()}"] = 0.0
        if survey:
            out["survey_present"] = 1.0
            for row in survey["tiers"]:
                out[f"survey_satisfaction_{row['tier'].lower()}"] = _num(row["satisfaction"]) / 10
                out[f"survey_loyalty_{row['tier'].lower()}"] = _num(row["loyalty"])
        return [("research", out)]
