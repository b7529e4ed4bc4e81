"""The mass-market customer population, as arrays: one array per attribute, one operation per rule.

Every rule is a small function over whole arrays written against an array
namespace ``xp`` (numpy by default; CuPy has the same calls), so the same
rules can run on a GPU. No rule loops over customers in Python. A step is
pure: it returns a new :class:`Population` and leaves the old one untouched.

Rules, in order (design section 5): perceive quality, transaction
satisfaction by expectation-disconfirmation, cumulative satisfaction,
expectations, complaints and their handling, defection hazard, choice by
multinomial logit (defectors and Bass adopters), purchases, word of mouth,
loyalty and reference price.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from scenarios.schema import Market

Array = Any  # an xp array (numpy.ndarray or cupy.ndarray)

PROSPECT = -1

# complaint outcome codes (TARP ordering: quick > resolved > unresolved > silent)
NO_COMPLAINT, RESOLVED_QUICKLY, RESOLVED, UNRESOLVED, SILENT = 0, 1, 2, 3, 4
COMPLAINT_OUTCOMES = ("none", "resolved_quickly", "resolved", "unresolved", "silent")
# satisfaction points added after a complaint, by outcome code
COMPLAINT_SATISFACTION = (0.0, 1.0, 0.3, -0.3, 0.0)
# defection hazard multiplier this period, by outcome code
COMPLAINT_HAZARD = (1.0, 0.35, 0.65, 0.9, 2.2)

TIERS = ("A", "B", "C")
TIER_SHARES = (0.2, 0.3, 0.5)
NEW_CUSTOMER_LOYALTY = 0.5


@dataclass(frozen=True)
class Population:
    """All customers, one array per attribute (index i is customer i)."""

    # fixed traits
    units: Array  # units bought per purchase (lognormal, heavy-tailed)
    p_buy: Array  # latent per-period purchase propensity (Beta)
    p_drop: Array  # latent per-period base dropout (Beta), the neutral defection hazard
    price_sens: Array  # multiplies price coefficients (Gamma, mean 1)
    quality_sens: Array  # multiplies quality coefficients (Gamma, mean 1)
    switch_cost: Array  # in (0, 1) (Beta)
    tier: Array  # 0=A, 1=B, 2=C by expected spend
    # state
    supplier: Array  # firm index, or PROSPECT
    expectation: Array  # E in [0, 1]
    satisfaction: Array  # cumulative satisfaction CS in [0, 10]
    loyalty: Array  # L in [0, 1]
    ref_price: Array
    tenure: Array  # periods with the current supplier
    advocacy: Array  # +1 promoter, 0 passive, -1 detractor
    complaint: Array  # last complaint outcome code

    @property
    def size(self) -> int:
        return int(self.supplier.shape[0])

    def customer(self, i: int) -> dict[str, Any]:
        """One customer's current attributes as plain Python values."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)[i]
            out[f.name] = v.item() if hasattr(v, "item") else v
        out["tier"] = TIERS[out["tier"]]
        out["complaint"] = COMPLAINT_OUTCOMES[out["complaint"]]
        return out

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


@dataclass(frozen=True)
class MarketInputs:
    """Per-firm values the population reacts to this period (arrays of length n_firms)."""

    price: Array
    quality: Array  # delivered quality: service level x capacity effect
    reputation: Array
    awareness: Array
    wom: Array  # net word of mouth per capita, last period
    care: Array  # care intensity in [0, 1)
    complaint_capacity: Array  # complaints the firm can handle this period
    alive: Array  # bool
    margin_per_unit: Array  # price - unit cost (for customer equity)
    service_cost: Array  # per customer served this period
    scandal: Array  # satisfaction points lost by the firm's customers this period
    purchase_factor: float = 1.0  # recession / boom
    outside_boost: float = 0.0  # new entrant
    market_price: float = 0.0  # mean live price, for prospects' reference prices


@dataclass(frozen=True)
class PopulationOutcome:
    """Per-firm aggregates of one step (arrays of length n_firms) and the tracked panel."""

    customers_start: Array
    customers_end: Array
    acquired: Array
    lost: Array
    revenue: Array
    units_sold: Array
    buyers: Array
    wallet: Array  # units the firm's customers would buy at propensity (share-of-wallet base)
    complaints: Array
    resolved_quickly: Array
    resolved: Array
    unresolved: Array
    silent: Array
    dissatisfied: Array
    promoters: Array
    detractors: Array
    satisfaction_sum: Array
    loyalty_sum: Array
    customer_equity: Array
    tier_counts: Array  # (n_firms, 3)
    prospects_end: int
    adopters: int
    panel: dict[str, Array]


# ---------------------------------------------------------------------------
# initial population


def init_population(market: Market, n_firms: int, rng: np.random.Generator, xp: Any = np) -> Population:
    """Draw a heterogeneous customer base; a share starts with a firm, the rest are prospects."""
    n = market.customers
    p_buy = xp.asarray(rng.beta(market.purchase_alpha, market.purchase_beta, n))
    p_drop = xp.asarray(rng.beta(market.dropout_alpha, market.dropout_beta, n))
    units = xp.asarray(market.units_median * np.exp(market.units_sigma * rng.standard_normal(n)))
    k = market.sensitivity_shape
    price_sens = xp.asarray(rng.gamma(k, 1.0 / k, n))
    quality_sens = xp.asarray(rng.gamma(k, 1.0 / k, n))
    m, c = market.switching_cost_mean, market.switching_cost_concentration
    switch_cost = xp.asarray(rng.beta(m * c, (1 - m) * c, n))
    expectation = xp.clip(xp.asarray(rng.normal(market.expectation_mean, market.expectation_sd, n)), 0.0, 1.0)
    satisfaction = xp.clip(xp.asarray(rng.normal(market.satisfaction_start, 0.8, n)), 0.0, 10.0)
    loyalty = xp.clip(xp.asarray(rng.normal(market.loyalty_neutral, 0.1, n)), 0.0, 1.0)
    ref_price = xp.asarray(market.reference_price * np.exp(rng.normal(0.0, 0.05, n)))
    served = rng.random(n) < market.initial_served_share
    supplier = xp.asarray(np.where(served, rng.integers(0, n_firms, n), PROSPECT).astype(np.int32))
    tenure = xp.asarray(np.where(served, rng.integers(1, 25, n), 0).astype(np.int32))
    return Population(
        units=units,
        p_buy=p_buy,
        p_drop=p_drop,
        price_sens=price_sens,
        quality_sens=quality_sens,
        switch_cost=switch_cost,
        tier=value_tiers(units * p_buy, xp),
        supplier=supplier,
        expectation=expectation,
        satisfaction=satisfaction,
        loyalty=loyalty,
        ref_price=ref_price,
        tenure=tenure,
        advocacy=xp.zeros(n, dtype=xp.int8),
        complaint=xp.zeros(n, dtype=xp.int8),
    )


def value_tiers(expected_spend: Array, xp: Any = np) -> Array:
    """ABC tiers: top 20% of expected spend is A, next 30% B, the rest C."""
    n = expected_spend.shape[0]
    rank = xp.empty(n, dtype=xp.int64)
    rank[xp.argsort(expected_spend, kind="stable")] = xp.arange(n)
    a_from = n - int(round(TIER_SHARES[0] * n))
    b_from = n - int(round((TIER_SHARES[0] + TIER_SHARES[1]) * n))
    return xp.where(rank >= a_from, 0, xp.where(rank >= b_from, 1, 2)).astype(xp.int8)


# ---------------------------------------------------------------------------
# the rules, each over whole arrays


def memory_weight(tenure: Array, m: Market, xp: Any = np) -> Array:
    """Weight of past satisfaction, growing with tenure (Bolton 1998)."""
    return m.memory_max - (m.memory_max - m.memory_min) * xp.exp(-tenure / m.memory_tenure)


def transaction_satisfaction(perceived: Array, expectation: Array, log_price_ratio: Array, m: Market, xp: Any = np) -> Array:
    """Expectation-disconfirmation (Oliver 1980) with loss aversion (Anderson & Sullivan 1993).

    Shortfalls of quality below expectation, and prices above the reference,
    weigh ``loss_aversion`` times more than equal surpluses. Perceived quality
    also acts directly (ACSI, Fornell et al. 1996), measured from the market's
    mean expectation: once expectations have caught up with a firm, its quality
    still shows in satisfaction, so lasting excellence keeps customers
    delighted. At neutral settings (quality = expectation = expectation_mean,
    price = reference) satisfaction is ``satisfaction_neutral``.
    """
    d = perceived - expectation
    direct = m.quality_weight * (perceived - m.expectation_mean)
    quality = direct + m.disconfirmation_gain * xp.where(d >= 0, d, m.loss_aversion * d)
    value = m.value_weight * xp.where(log_price_ratio > 0, m.loss_aversion * log_price_ratio, log_price_ratio)
    return xp.clip(m.satisfaction_neutral + quality - value, 0.0, 10.0)


def newcomer_expectation(expectation: Array, joined: Array, reputation: Array, m: Market, xp: Any = np) -> Array:
    """A customer who joins a firm expects partly what the firm is known for (its reputation)."""
    r = m.reputation_expectation
    return xp.where(joined, (1 - r) * expectation + r * reputation, expectation)


def complaint_probability(s: Array, m: Market, xp: Any = np) -> Array:
    """Chance a dissatisfied customer complains: rises with dissatisfaction, capped (TARP: a few % to ~30%)."""
    return xp.clip(m.complaint_base + m.complaint_slope * (m.dissatisfied_below - s), m.complaint_base, m.complaint_max)


def defection_hazard(
    p_drop: Array, satisfaction: Array, loyalty: Array, switch_cost: Array, care: Array, complaint_mult: Array, m: Market, xp: Any = np
) -> Array:
    """Per-period chance of leaving the supplier (Jones & Sasser 1995: convex in satisfaction).

    Three zones of cumulative satisfaction: below ``defection_below`` the
    log-hazard rises steeply (zone of defection); in between it moves only by
    ``satisfaction_hazard`` per point (zone of indifference: the merely
    satisfied still leave); above ``affection_from`` it falls with the square
    of the excess (zone of affection: the totally satisfied stay). At neutral
    satisfaction and loyalty, average switching cost, no care and no complaint
    it equals the customer's own base dropout rate.
    """
    log_mult = (
        -m.satisfaction_hazard * (satisfaction - m.satisfaction_neutral)
        + m.defection_zone_hazard * xp.maximum(m.defection_below - satisfaction, 0.0)
        - m.affection_hazard * xp.maximum(satisfaction - m.affection_from, 0.0) ** 2
        - m.loyalty_hazard * (loyalty - m.loyalty_neutral)
        - m.switching_hazard * (switch_cost - m.switching_cost_mean)
        - m.care_hazard * care
    )
    return xp.minimum(p_drop * xp.exp(log_mult) * complaint_mult, m.max_hazard)


def purchase_probability(p_buy: Array, log_price_ratio: Array, price_sens: Array, factor: float, m: Market, xp: Any = np) -> Array:
    """Reference-price purchase response (Kalyanaram & Winer 1995): losses hurt more than gains help."""
    eta = xp.where(log_price_ratio > 0, m.price_loss_elasticity, m.price_gain_elasticity)
    return xp.clip(p_buy * factor * xp.exp(-eta * price_sens * log_price_ratio), 0.0, 1.0)


def choice_utility(
    inputs: MarketInputs, quality_sens: Array, price_sens: Array, log_ref: Array, m: Market, xp: Any = np
) -> Array:
    """Deterministic MNL utility of each firm for each chooser: (choosers, firms)."""
    log_price = xp.log(inputs.price)
    return (
        m.choice_quality * quality_sens[:, None] * inputs.reputation[None, :]
        - m.choice_price * price_sens[:, None] * (log_price[None, :] - log_ref[:, None])
        + m.choice_wom * inputs.wom[None, :]
        + m.choice_awareness * inputs.awareness[None, :]
    )


def sample_choice(utility: Array, rng: np.random.Generator, xp: Any = np) -> Array:
    """Draw one option per row with logit probabilities; rows of all -inf choose column 0."""
    u = utility - xp.max(utility, axis=1, keepdims=True)
    p = xp.exp(u)
    cum = xp.cumsum(p, axis=1)
    draw = xp.asarray(rng.random(utility.shape[0])) * cum[:, -1]
    return xp.minimum((draw[:, None] >= cum).sum(axis=1), utility.shape[1] - 1)


def adoption_hazard(adopted_share: float, mean_awareness: float, m: Market) -> float:
    """Bass (1969) hazard for a prospect: innovation + imitation x adopters' share + advertising."""
    return min(1.0, m.bass_p + m.bass_q * adopted_share + m.advertising_adoption * mean_awareness)


def _per_firm(index: Array, n_firms: int, xp: Any, weights: Array | None = None) -> Array:
    """Sum (or count) per firm; index PROSPECT rows must be masked out by the caller via weights."""
    return xp.bincount(index, weights=weights, minlength=n_firms)[:n_firms]


# ---------------------------------------------------------------------------
# one period


def step_population(
    pop: Population,
    inputs: MarketInputs,
    m: Market,
    rng: np.random.Generator,
    xp: Any = np,
    track: int = 0,
) -> tuple[Population, PopulationOutcome]:
    """Advance every customer one period. Pure: returns a new Population.

    Args:
        pop: the population at the start of the period.
        inputs: what each firm offers this period.
        m: the scenario's market parameters.
        rng: the period's random generator (consumed in a fixed order).
        xp: array namespace (numpy or cupy).
        track: record the panel for customers 0..track-1.
    """
    n = pop.size
    n_firms = int(inputs.price.shape[0])
    f64 = xp.float64

    # draw every random number up front, in a fixed order
    noise = xp.asarray(rng.standard_normal(n))
    u_complain = xp.asarray(rng.random(n))
    u_handle = xp.asarray(rng.random(n))
    u_defect = xp.asarray(rng.random(n))
    u_adopt = xp.asarray(rng.random(n))
    u_buy = xp.asarray(rng.random(n))

    active = pop.supplier >= 0
    sup = xp.where(active, pop.supplier, 0)
    activef = active.astype(f64)
    start = _per_firm(sup, n_firms, xp, activef)

    # 1. perceived quality
    perceived = xp.clip(inputs.quality[sup] + m.perception_noise * noise, 0.0, 1.0)
    # 2. transaction satisfaction (quality disconfirmation and value for money)
    log_ratio = xp.log(inputs.price[sup]) - xp.log(pop.ref_price)
    s = transaction_satisfaction(perceived, pop.expectation, log_ratio, m, xp) - inputs.scandal[sup]
    s = xp.clip(s, 0.0, 10.0)
    # 3. cumulative satisfaction
    w = memory_weight(pop.tenure, m, xp)
    cs = xp.where(active, w * pop.satisfaction + (1 - w) * s, pop.satisfaction)
    # 4. expectations move toward experience and word of mouth
    e = xp.where(
        active,
        xp.clip(pop.expectation + m.expectation_speed * (perceived - pop.expectation) + m.wom_expectation * inputs.wom[sup], 0.0, 1.0),
        pop.expectation,
    )
    # 5. complaints and their handling
    dissatisfied = active & (s < m.dissatisfied_below)
    complains = dissatisfied & (u_complain < complaint_probability(s, m, xp))
    complaints = _per_firm(sup, n_firms, xp, complains.astype(f64))
    p_resolve = xp.minimum(1.0, inputs.complaint_capacity / xp.maximum(complaints, 1.0))
    p_quick = p_resolve * inputs.care
    code = xp.where(
        complains,
        xp.where(u_handle < p_quick[sup], RESOLVED_QUICKLY, xp.where(u_handle < p_resolve[sup], RESOLVED, UNRESOLVED)),
        xp.where(dissatisfied, SILENT, NO_COMPLAINT),
    ).astype(xp.int8)
    cs = xp.clip(cs + xp.asarray(COMPLAINT_SATISFACTION)[code], 0.0, 10.0)
    # 6. defection
    hazard = defection_hazard(
        pop.p_drop, cs, pop.loyalty, pop.switch_cost, inputs.care[sup], xp.asarray(COMPLAINT_HAZARD)[code], m, xp
    )
    hazard = xp.where(inputs.alive[sup], hazard, 1.0)
    defects = active & (u_defect < hazard)
    # 7. choice: defectors (may leave the market) and Bass adopters among prospects
    served = float(activef.sum())
    adopt_p = adoption_hazard(served / n, float(xp.mean(inputs.awareness)), m)
    adopts = ~active & (u_adopt < adopt_p) & bool(xp.any(inputs.alive))
    choosers = xp.nonzero(defects | adopts)[0]
    utility = choice_utility(inputs, pop.quality_sens[choosers], pop.price_sens[choosers], xp.log(pop.ref_price[choosers]), m, xp)
    utility = xp.where(inputs.alive[None, :], utility, -xp.inf)
    is_defector = defects[choosers]
    current = sup[choosers]
    utility[xp.nonzero(is_defector)[0], current[is_defector]] = -xp.inf  # a defector leaves its supplier
    utility = utility - (m.switching_hazard * pop.switch_cost[choosers] * is_defector)[:, None]
    outside = xp.where(is_defector, m.outside_utility + inputs.outside_boost, -xp.inf)
    utility = xp.concatenate([utility, outside[:, None]], axis=1)
    pick = sample_choice(utility, rng, xp)
    new_sup_choosers = xp.where(pick >= n_firms, PROSPECT, pick).astype(xp.int32)
    supplier = pop.supplier.copy()
    supplier[choosers] = new_sup_choosers
    moved = xp.zeros(n, dtype=bool)
    moved[choosers] = True
    lost = _per_firm(sup, n_firms, xp, defects.astype(f64))
    joined = new_sup_choosers >= 0
    acquired = _per_firm(xp.where(joined, new_sup_choosers, 0), n_firms, xp, joined.astype(f64))
    # a new relationship starts fresh; a newcomer's expectation moves toward the chosen firm's reputation
    tenure = xp.where(moved, 0, pop.tenure + active.astype(xp.int32)).astype(xp.int32)
    cs = xp.where(moved, m.satisfaction_start, cs)
    loyalty = xp.where(moved, NEW_CUSTOMER_LOYALTY, pop.loyalty)
    e = newcomer_expectation(e, moved & (supplier >= 0), inputs.reputation[xp.maximum(supplier, 0)], m, xp)
    # 8. purchases
    now_active = supplier >= 0
    nsup = xp.where(now_active, supplier, 0)
    price_paid = inputs.price[nsup]
    log_ratio_now = xp.log(price_paid) - xp.log(pop.ref_price)
    p_buy = purchase_probability(pop.p_buy, log_ratio_now, pop.price_sens, inputs.purchase_factor, m, xp)
    buys = now_active & (u_buy < p_buy)
    units_bought = xp.where(buys, pop.units, 0.0)
    spend = units_bought * price_paid
    # 9. word of mouth
    advocacy = xp.where(
        now_active, xp.where(cs >= m.promoter_from, 1, xp.where(cs < m.detractor_below, -1, 0)), 0
    ).astype(xp.int8)
    now_activef = now_active.astype(f64)
    promoters = _per_firm(nsup, n_firms, xp, (advocacy == 1).astype(f64))
    detractors = _per_firm(nsup, n_firms, xp, (advocacy == -1).astype(f64))
    # 10. loyalty and reference price
    loyalty = xp.where(
        now_active & ~moved, m.loyalty_smoothing * loyalty + (1 - m.loyalty_smoothing) * cs / 10.0, loyalty
    )
    market_price = inputs.market_price if inputs.market_price > 0 else pop.ref_price
    # internal reference (price paid) blended with the external one (the market's prices), Kalyanaram & Winer 1995
    anchor = xp.where(now_active, (1 - m.external_reference) * price_paid + m.external_reference * market_price, market_price)
    ref_price = m.reference_smoothing * pop.ref_price + (1 - m.reference_smoothing) * anchor

    # customer equity: margin x r / (1 + d - r) (Gupta & Lehmann), r from this period's hazard
    retention = 1.0 - xp.where(moved, pop.p_drop, hazard)
    margin = pop.p_buy * pop.units * inputs.margin_per_unit[nsup] - inputs.service_cost[nsup]
    clv = margin * retention / (1.0 + m.discount_rate - retention)

    new_pop = replace(
        pop,
        supplier=supplier,
        expectation=e,
        satisfaction=cs,
        loyalty=loyalty,
        ref_price=ref_price,
        tenure=tenure,
        advocacy=advocacy,
        complaint=code,
    )
    tier_counts = xp.stack(
        [_per_firm(nsup, n_firms, xp, (now_active & (pop.tier == t)).astype(f64)) for t in range(3)], axis=1
    )
    t = min(track, n)
    panel = {
        "supplier": supplier[:t].copy(),
        "satisfaction": cs[:t].copy(),
        "expectation": e[:t].copy(),
        "loyalty": loyalty[:t].copy(),
        "perceived": xp.where(active[:t], perceived[:t], xp.nan),
        "bought": buys[:t].copy(),
        "units": units_bought[:t].copy(),
        "spend": spend[:t].copy(),
        "complaint": code[:t].copy(),
        "defected": defects[:t].copy(),
        "tenure": tenure[:t].copy(),
    }
    outcome = PopulationOutcome(
        customers_start=start,
        customers_end=_per_firm(nsup, n_firms, xp, now_activef),
        acquired=acquired,
        lost=lost,
        revenue=_per_firm(nsup, n_firms, xp, spend),
        units_sold=_per_firm(nsup, n_firms, xp, units_bought),
        buyers=_per_firm(nsup, n_firms, xp, buys.astype(f64)),
        wallet=_per_firm(nsup, n_firms, xp, now_activef * pop.p_buy * inputs.purchase_factor * pop.units),
        complaints=complaints,
        resolved_quickly=_per_firm(sup, n_firms, xp, (code == RESOLVED_QUICKLY).astype(f64)),
        resolved=_per_firm(sup, n_firms, xp, (code == RESOLVED).astype(f64)),
        unresolved=_per_firm(sup, n_firms, xp, (code == UNRESOLVED).astype(f64)),
        silent=_per_firm(sup, n_firms, xp, (code == SILENT).astype(f64)),
        dissatisfied=_per_firm(sup, n_firms, xp, dissatisfied.astype(f64)),
        promoters=promoters,
        detractors=detractors,
        satisfaction_sum=_per_firm(nsup, n_firms, xp, now_activef * cs),
        loyalty_sum=_per_firm(nsup, n_firms, xp, now_activef * loyalty),
        customer_equity=_per_firm(nsup, n_firms, xp, now_activef * clv),
        tier_counts=tier_counts,
        prospects_end=int(n - int(now_active.sum())),
        adopters=int(adopts.sum()),
        panel=panel,
    )
    return new_pop, outcome


def release_customers(pop: Population, firm: int, xp: Any = np) -> Population:
    """A bankrupt firm's customers become prospects."""
    mask = pop.supplier == firm
    return replace(
        pop,
        supplier=xp.where(mask, PROSPECT, pop.supplier).astype(xp.int32),
        tenure=xp.where(mask, 0, pop.tenure).astype(xp.int32),
        advocacy=xp.where(mask, 0, pop.advocacy).astype(xp.int8),
    )

