"""The customer rules of agents/population.py written per object in Mesa, as the baseline the vectorised rules race.

One :class:`Customer` (a ``mesa.Agent``) per customer holds its own attributes
as Python floats and ints; :class:`PopulationModel` steps every customer in a
fixed order (insertion order, through ``AgentSet.do``) and keeps the per-firm
tallies on plain :class:`Firm` records, incremented customer by customer, the
way a per-object model naturally aggregates. The formulas are those of the
rule functions in agents/population.py, so that with the same random numbers
the two give the same customers: the same decisions, and the same numbers up
to rounding (the vectorised rules keep customers in float32, these in Python
floats).

Each customer draws only the random numbers its rules use, as the vectorised
step does: a served customer its perception noise and a defection draw, a
prospect an adoption draw, a dissatisfied customer a complaint draw, a
complainer a handling draw, a chooser a choice draw, and a customer with a
supplier after the choice a purchase draw.

Two stages a period, because complaint handling needs every firm's complaint
count first (``p_resolve = capacity / complaints``):

1. ``perceive``: perceived quality, transaction and cumulative satisfaction,
   expectations, complaining.
2. ``respond``: complaint handling, defection, choice (defectors and Bass
   adopters; a newcomer's expectation leans to the firm's reputation),
   purchases, word of mouth, loyalty, reference price, customer equity.

This module is a benchmark baseline, not part of the engine. It is a copy of
the rules: when agents/population.py changes a formula, change it here too;
the replay check in benchmarks/population.py fails until both agree.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np

from crmsim.agents.population import (
    NO_COMPLAINT,
    PROSPECT,
    RESOLVED,
    RESOLVED_QUICKLY,
    SILENT,
    UNRESOLVED,
    MarketInputs,
    Population,
    complaint_effects,
)
from crmsim.scenarios.schema import Market

INF = math.inf

# per-firm tallies of one period, named as the PopulationOutcome fields they mirror
TALLIES = (
    "customers_start",
    "customers_end",
    "acquired",
    "lost",
    "revenue",
    "units_sold",
    "buyers",
    "wallet",
    "complaints",
    "resolved_quickly",
    "resolved",
    "unresolved",
    "silent",
    "dissatisfied",
    "promoters",
    "detractors",
    "satisfaction_sum",
    "loyalty_sum",
    "customer_equity",
)
CODE_TALLY = {RESOLVED_QUICKLY: "resolved_quickly", RESOLVED: "resolved", UNRESOLVED: "unresolved", SILENT: "silent"}
# the Population attributes that are a customer's state (copied back for comparisons)
STATE = ("supplier", "expectation", "satisfaction", "loyalty", "ref_price", "tenure", "advocacy", "complaint")
TRAITS = ("units", "p_buy", "p_drop", "price_sens", "quality_sens", "switch_cost", "tier")


def clip(x: float, lo: float, hi: float) -> float:
    """numpy's clip for one float: min(max(x, lo), hi)."""
    return min(max(x, lo), hi)


# ---------------------------------------------------------------------------
# the rules, for one customer (same formulas as agents/population.py)


def memory_weight(tenure: int, m: Market) -> float:
    return m.memory_max - (m.memory_max - m.memory_min) * math.exp(-tenure / m.memory_tenure)


def transaction_satisfaction(perceived: float, expectation: float, log_price_ratio: float, m: Market) -> float:
    d = perceived - expectation
    direct = m.quality_weight * (perceived - m.expectation_mean)
    quality = direct + m.disconfirmation_gain * (d if d >= 0 else m.loss_aversion * d)
    value = m.value_weight * (m.loss_aversion * log_price_ratio if log_price_ratio > 0 else log_price_ratio)
    return clip(m.satisfaction_neutral + quality - value, 0.0, 10.0)


def cumulative_satisfaction(satisfaction: float, transaction: float, weight: float) -> float:
    return clip(weight * satisfaction + (1.0 - weight) * transaction, 0.0, 10.0)


def update_expectation(expectation: float, perceived: float, wom: float, m: Market) -> float:
    return clip(expectation + m.expectation_speed * (perceived - expectation) + m.wom_expectation * wom, 0.0, 1.0)


def newcomer_expectation(expectation: float, reputation: float, m: Market) -> float:
    r = m.reputation_expectation
    return (1 - r) * expectation + r * reputation


def complaint_probability(s: float, m: Market) -> float:
    return clip(m.complaint_base + m.complaint_slope * (m.dissatisfied_below - s), m.complaint_base, m.complaint_max)


def defection_hazard(
    p_drop: float, satisfaction: float, loyalty: float, switch_cost: float, care: float, complaint_mult: float, m: Market
) -> float:
    affection = max(satisfaction - m.affection_from, 0.0)
    log_mult = (
        -m.satisfaction_hazard * (satisfaction - m.satisfaction_neutral)
        + m.defection_zone_hazard * max(m.defection_below - satisfaction, 0.0)
        - m.affection_hazard * (affection * affection)
        - m.loyalty_hazard * (loyalty - m.loyalty_neutral)
        - m.switching_hazard * (switch_cost - m.switching_cost_mean)
        - m.care_hazard * care
    )
    return min(p_drop * math.exp(log_mult) * complaint_mult, m.max_hazard)


def purchase_probability(p_buy: float, log_price_ratio: float, price_sens: float, factor: float, m: Market) -> float:
    eta = m.price_loss_elasticity if log_price_ratio > 0 else m.price_gain_elasticity
    return min(p_buy * factor * math.exp(-eta * price_sens * log_price_ratio), 1.0)


def update_loyalty(loyalty: float, satisfaction: float, m: Market) -> float:
    return m.loyalty_smoothing * loyalty + (1 - m.loyalty_smoothing) * satisfaction / 10.0


def equity_multiple(hazard: float, m: Market) -> float:
    retention = 1.0 - hazard
    return retention / (1.0 + m.discount_rate - retention)


def sample_choice(utility: list[float], draw: float) -> int:
    """One option with logit probabilities, by inverting the cumulative sum (as the vectorised sample_choice)."""
    top = max(utility)
    cum, total = [], 0.0
    for u in utility:
        total += math.exp(u - top)
        cum.append(total)
    x = draw * total
    return min(sum(1 for c in cum if x >= c), len(utility) - 1)


# ---------------------------------------------------------------------------
# objects


class Firm:
    """What one firm offers this period and its tallies (a plain record, not an agent)."""

    def __init__(self, index: int, inputs: MarketInputs):
        self.index = index
        for name in ("price", "quality", "reputation", "awareness", "wom", "care", "complaint_capacity",
                     "margin_per_unit", "service_cost", "scandal"):
            setattr(self, name, float(getattr(inputs, name)[index]))
        self.alive = bool(inputs.alive[index])
        self.log_price = math.log(self.price)
        self.p_resolve = 1.0
        self.p_quick = 0.0
        self.reset()

    def reset(self) -> None:
        for name in TALLIES:
            setattr(self, name, 0.0)
        self.tier_counts = [0.0, 0.0, 0.0]


class Customer(mesa.Agent):
    """One customer: fixed traits and state as Python values; the rules as two methods."""

    def __init__(self, model: PopulationModel, index: int, **attrs: Any):
        super().__init__(model)
        self.index = index
        for name, value in attrs.items():
            setattr(self, name, value)
        # scratch between the two stages
        self.active = False
        self.cs = 0.0
        self.u_defect = 1.0
        self.dissatisfied = False
        self.complains = False

    def perceive(self) -> None:
        """Stage 1: perceived quality, satisfaction, expectations, the decision to complain."""
        model = self.model
        m = model.market
        self.active = self.supplier >= 0
        self.dissatisfied = self.complains = False
        if not self.active:
            return
        noise, self.u_defect = model.served_draws(self.index)
        firm = model.firms[self.supplier]
        firm.customers_start += 1.0
        perceived = clip(firm.quality + m.perception_noise * noise, 0.0, 1.0)
        log_ratio = firm.log_price - math.log(self.ref_price)
        s = transaction_satisfaction(perceived, self.expectation, log_ratio, m)
        if firm.scandal:
            s = clip(s - firm.scandal, 0.0, 10.0)
        self.cs = cumulative_satisfaction(self.satisfaction, s, memory_weight(self.tenure, m))
        self.expectation = update_expectation(self.expectation, perceived, firm.wom, m)
        if s < m.dissatisfied_below:
            self.dissatisfied = True
            firm.dissatisfied += 1.0
            if model.complaint_draw(self.index) < complaint_probability(s, m):
                self.complains = True
                firm.complaints += 1.0

    def respond(self) -> None:
        """Stage 2: complaint handling, defection, choice, purchase, word of mouth, loyalty, reference price."""
        model = self.model
        m = model.market
        firms = model.firms
        active = self.active
        hazard = 0.0
        defects = False
        if active:
            firm = firms[self.supplier]
            if self.complains:
                u = model.handle_draw(self.index)
                code = RESOLVED_QUICKLY if u < firm.p_quick else (RESOLVED if u < firm.p_resolve else UNRESOLVED)
            else:
                code = SILENT if self.dissatisfied else NO_COMPLAINT
            if code != NO_COMPLAINT:
                tally = CODE_TALLY[code]
                setattr(firm, tally, getattr(firm, tally) + 1.0)
            satisfaction_shift, hazard_mult = complaint_effects(m)
            cs = clip(self.cs + satisfaction_shift[code], 0.0, 10.0)
            if firm.alive:
                hazard = defection_hazard(
                    self.p_drop, cs, self.loyalty, self.switch_cost, firm.care, hazard_mult[code], m
                )
            else:
                hazard = 1.0
            defects = self.u_defect < hazard
        else:
            code = NO_COMPLAINT
            cs = self.satisfaction
        adopts = not active and model.adopt_draw(self.index) < model.adopt_p and model.any_alive
        moved = defects or adopts
        supplier = self.supplier
        loyalty = self.loyalty
        if moved:
            if defects:
                firm.lost += 1.0
            pick = self.choose(defects)
            supplier = pick if pick < len(firms) else PROSPECT
            if supplier >= 0:
                firms[supplier].acquired += 1.0
                self.expectation = newcomer_expectation(self.expectation, firms[supplier].reputation, m)
            tenure = 0
            cs = m.satisfaction_start
            loyalty = m.new_customer_loyalty
        else:
            tenure = self.tenure + (1 if active else 0)
        # purchases, word of mouth, loyalty, reference price, customer equity
        market_price = model.market_price if model.market_price > 0 else self.ref_price
        if supplier >= 0:
            nf = firms[supplier]
            price_paid = nf.price
            log_ratio = nf.log_price - math.log(self.ref_price)
            p = purchase_probability(self.p_buy, log_ratio, self.price_sens, model.purchase_factor, m)
            buys = model.buy_draw(self.index) < p
            units = self.units if buys else 0.0
            spend = units * price_paid
            advocacy = 1 if cs >= m.promoter_from else (-1 if cs < m.detractor_below else 0)
            if not moved:
                loyalty = update_loyalty(loyalty, cs, m)
            anchor = (1 - m.external_reference) * price_paid + m.external_reference * market_price
            clv = (self.p_buy * self.units * nf.margin_per_unit - nf.service_cost) * equity_multiple(
                self.p_drop if moved else hazard, m
            )
            nf.customers_end += 1.0
            nf.revenue += spend
            nf.units_sold += units
            nf.buyers += 1.0 if buys else 0.0
            nf.wallet += self.p_buy * model.purchase_factor * self.units
            if advocacy == 1:
                nf.promoters += 1.0
            elif advocacy == -1:
                nf.detractors += 1.0
            nf.satisfaction_sum += cs
            nf.loyalty_sum += loyalty
            nf.customer_equity += clv
            nf.tier_counts[self.tier] += 1.0
        else:
            advocacy = 0
            anchor = market_price
        self.ref_price = m.reference_smoothing * self.ref_price + (1 - m.reference_smoothing) * anchor
        self.supplier = supplier
        self.satisfaction = cs
        self.loyalty = loyalty
        self.tenure = tenure
        self.advocacy = advocacy
        self.complaint = code
        self.defected = defects
        self.adopted = adopts

    def choose(self, defector: bool) -> int:
        """Multinomial logit over the live firms (not a defector's own) and, for a defector, leaving the market."""
        model = self.model
        m = model.market
        log_ref = math.log(self.ref_price)
        penalty = m.switching_hazard * self.switch_cost * defector
        utility = []
        for j, f in enumerate(model.firms):
            if not f.alive or (defector and j == self.supplier):
                utility.append(-INF)
                continue
            u = (
                m.choice_quality * self.quality_sens * f.reputation
                - m.choice_price * self.price_sens * (f.log_price - log_ref)
                + m.choice_wom * f.wom
                + m.choice_awareness * f.awareness
            )
            utility.append(u - penalty)
        utility.append(m.outside_utility + model.outside_boost if defector else -INF)
        return sample_choice(utility, model.choice_draw(self.index))


class PopulationModel(mesa.Model):
    """Every customer an agent; ``step`` runs the two stages over all customers in a fixed order.

    Args:
        pop: the starting population (copied into the agents as Python values).
        inputs: what the firms offer (see :meth:`set_inputs`).
        market: the scenario's market parameters.
        seed: seeds the model's ``random.Random``, from which every customer draws.
    """

    def __init__(self, pop: Population, inputs: MarketInputs, market: Market, seed: int = 0):
        super().__init__(rng=seed)
        self.market = market
        self.n = pop.size
        columns = {name: np.asarray(getattr(pop, name)).tolist() for name in TRAITS + STATE}
        for i in range(self.n):
            Customer(self, i, **{name: col[i] for name, col in columns.items()})
        self.customers = self.agents_by_type[Customer]
        self.set_inputs(inputs)

    def set_inputs(self, inputs: MarketInputs) -> None:
        """This period's offers: one Firm record per firm."""
        self.firms = [Firm(j, inputs) for j in range(int(inputs.price.shape[0]))]
        self.purchase_factor = float(inputs.purchase_factor)
        self.outside_boost = float(inputs.outside_boost)
        self.market_price = float(inputs.market_price)
        self.any_alive = any(f.alive for f in self.firms)
        self.adopt_p = 0.0

    # a customer's random numbers, drawn when its rules need them (ReplayModel hands out recorded ones instead)

    def served_draws(self, index: int) -> tuple[float, float]:
        """A served customer's perception noise and defection draw."""
        r = self.random
        return r.gauss(0.0, 1.0), r.random()

    def adopt_draw(self, index: int) -> float:
        return self.random.random()

    def buy_draw(self, index: int) -> float:
        return self.random.random()

    def complaint_draw(self, index: int) -> float:
        return self.random.random()

    def handle_draw(self, index: int) -> float:
        return self.random.random()

    def choice_draw(self, index: int) -> float:
        return self.random.random()

    def step(self) -> None:
        for f in self.firms:
            f.reset()
        self.customers.do("perceive")
        m = self.market
        served = sum(f.customers_start for f in self.firms)
        mean_awareness = sum(f.awareness for f in self.firms) / len(self.firms)
        self.adopt_p = min(1.0, m.bass_p + m.bass_q * (served / self.n) + m.advertising_adoption * mean_awareness)
        for f in self.firms:
            f.p_resolve = min(1.0, f.complaint_capacity / max(f.complaints, 1.0))
            f.p_quick = f.p_resolve * f.care
        self.customers.do("respond")

    # -- read-outs for comparisons ----------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Every customer's state as arrays, in index order."""
        agents = sorted(self.customers, key=lambda a: a.index)
        out = {name: np.array([getattr(a, name) for a in agents]) for name in STATE}
        out["defected"] = np.array([a.defected for a in agents])
        out["adopted"] = np.array([a.adopted for a in agents])
        return out

    def outcome(self) -> dict[str, Any]:
        """The period's per-firm tallies, as arrays of length n_firms."""
        out = {name: np.array([getattr(f, name) for f in self.firms]) for name in TALLIES}
        out["tier_counts"] = np.array([f.tier_counts for f in self.firms])
        out["adopters"] = int(sum(a.adopted for a in self.customers))
        out["prospects_end"] = int(sum(a.supplier < 0 for a in self.customers))
        return out


class ReplayModel(PopulationModel):
    """The per-object model fed the vectorised step's own random numbers (for the faithfulness check).

    Call :meth:`replay` with the period's draws before each :meth:`step`.
    """

    def replay(self, draws: dict[str, np.ndarray]) -> None:
        """The vectorised step's draws for the next period, in the order it made them.

        Args:
            draws: noise and u_defect (one per served customer, in customer
                order), u_adopt (one per prospect), then u_complain, u_handle,
                choice and u_buy (one per dissatisfied customer, complainer,
                chooser and customer with a supplier after the choice, in
                customer order).
        """
        supplier = np.array([a.supplier for a in sorted(self.customers, key=lambda a: a.index)])
        served, prospects = np.flatnonzero(supplier >= 0), np.flatnonzero(supplier < 0)
        full = {}
        for key, who in (("noise", served), ("u_defect", served), ("u_adopt", prospects)):
            col = np.full(self.n, np.nan)
            col[who] = draws[key]
            full[key] = col.tolist()
        self._served = list(zip(full["noise"], full["u_defect"]))
        self._adopt = full["u_adopt"]
        self._queues = {
            key: iter(np.asarray(draws[key], dtype=float).tolist()) for key in ("u_complain", "u_handle", "choice", "u_buy")
        }
        self.overrun = 0

    def served_draws(self, index: int) -> tuple[float, float]:
        return self._served[index]

    def adopt_draw(self, index: int) -> float:
        return self._adopt[index]

    def _next(self, key: str) -> float:
        try:
            return next(self._queues[key])
        except StopIteration:  # more complainers, choosers or buyers than the vectorised step had: the check reports it
            self.overrun += 1
            return self.random.random()

    def complaint_draw(self, index: int) -> float:
        return self._next("u_complain")

    def handle_draw(self, index: int) -> float:
        return self._next("u_handle")

    def choice_draw(self, index: int) -> float:
        return self._next("choice")

    def buy_draw(self, index: int) -> float:
        return self._next("u_buy")

    def draws_left(self) -> int:
        """Recorded complaint, handling, choice and purchase draws this period's customers did not use (0 when faithful)."""
        return sum(sum(1 for _ in q) for q in self._queues.values())
