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

Per-customer numbers are kept narrow (float32 reals, int8 codes, int16
tenure) so that a million customers fit in about 50 MiB and a step moves
half the memory float64 would; per-firm totals are summed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from crmsim.scenarios.schema import Market

Array = Any  # an xp array (numpy.ndarray or cupy.ndarray)

PROSPECT = -1

# dtypes of the per-customer arrays (names, so that numpy and CuPy read them alike)
REAL = "float32"  # every per-customer real number: traits, state and random draws
CODE = "int8"  # supplier (at most 16 firms), tier, advocacy, complaint outcome
TENURE = "int16"  # periods with the current supplier

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

    # fixed traits (reals are float32, codes int8: see REAL, CODE, TENURE)
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
    p_buy = rng.beta(market.purchase_alpha, market.purchase_beta, n)
    p_drop = rng.beta(market.dropout_alpha, market.dropout_beta, n)
    units = market.units_median * np.exp(market.units_sigma * rng.standard_normal(n))
    k = market.sensitivity_shape
    price_sens = rng.gamma(k, 1.0 / k, n)
    quality_sens = rng.gamma(k, 1.0 / k, n)
    m, c = market.switching_cost_mean, market.switching_cost_concentration
    switch_cost = rng.beta(m * c, (1 - m) * c, n)
    expectation = np.clip(rng.normal(market.expectation_mean, market.expectation_sd, n), 0.0, 1.0)
    satisfaction = np.clip(rng.normal(market.satisfaction_start, 0.8, n), 0.0, 10.0)
    loyalty = np.clip(rng.normal(market.loyalty_neutral, 0.1, n), 0.0, 1.0)
    ref_price = market.reference_price * np.exp(rng.normal(0.0, 0.05, n))
    served = rng.random(n) < market.initial_served_share
    supplier = np.where(served, rng.integers(0, n_firms, n), PROSPECT)
    tenure = np.where(served, rng.integers(1, 25, n), 0)

    def real(a: np.ndarray) -> Array:
        return xp.asarray(a.astype(REAL))

    return Population(
        units=real(units),
        p_buy=real(p_buy),
        p_drop=real(p_drop),
        price_sens=real(price_sens),
        quality_sens=real(quality_sens),
        switch_cost=real(switch_cost),
        tier=value_tiers(xp.asarray(units * p_buy), xp),
        supplier=xp.asarray(supplier.astype(CODE)),
        expectation=real(expectation),
        satisfaction=real(satisfaction),
        loyalty=real(loyalty),
        ref_price=real(ref_price),
        tenure=xp.asarray(tenure.astype(TENURE)),
        advocacy=xp.zeros(n, dtype=CODE),
        complaint=xp.zeros(n, dtype=CODE),
    )


def value_tiers(expected_spend: Array, xp: Any = np) -> Array:
    """ABC tiers: top 20% of expected spend is A, next 30% B, the rest C (exact counts; a tie at a
    boundary is split deterministically)."""
    n = expected_spend.shape[0]
    a_from = n - int(round(TIER_SHARES[0] * n))
    b_from = n - int(round((TIER_SHARES[0] + TIER_SHARES[1]) * n))
    tier = xp.full(n, 2, dtype=CODE)
    if n == 0:
        return tier
    order = xp.argpartition(expected_spend, (min(b_from, n - 1), min(a_from, n - 1)))  # O(n), no full sort
    tier[order[b_from:]] = 1
    tier[order[a_from:]] = 0
    return tier


# ---------------------------------------------------------------------------
# random draws (float32: half the bytes of float64, and faster to make)


def uniforms(rng: np.random.Generator, k: int, xp: Any = np) -> Array:
    """k uniform draws in [0, 1)."""
    return xp.asarray(rng.random(k, dtype=REAL))


def normals(rng: np.random.Generator, k: int, xp: Any = np) -> Array:
    """k standard normal draws."""
    return xp.asarray(rng.standard_normal(k, dtype=REAL))


# ---------------------------------------------------------------------------
# the rules, each over whole arrays


def perceive_quality(delivered: Array, noise: Array, m: Market, xp: Any = np) -> Array:
    """Perceived quality: the supplier's delivered quality seen through the customer's noise, in [0, 1]."""
    return xp.clip(delivered + m.perception_noise * noise, 0.0, 1.0)


def memory_weight(tenure: Array, m: Market, xp: Any = np) -> Array:
    """Weight of past satisfaction, growing with tenure (Bolton 1998)."""
    return m.memory_max - (m.memory_max - m.memory_min) * xp.exp(tenure.astype(REAL) * (-1.0 / m.memory_tenure))


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
    # loss_aversion >= 1 (schema), so the loss side of d is min(d, la*d) and of a price ratio max(r, la*r)
    d = perceived - expectation
    direct = m.quality_weight * (perceived - m.expectation_mean)
    quality = direct + m.disconfirmation_gain * xp.minimum(d, m.loss_aversion * d)
    value = m.value_weight * xp.maximum(log_price_ratio, m.loss_aversion * log_price_ratio)
    return xp.clip(m.satisfaction_neutral + quality - value, 0.0, 10.0)


def cumulative_satisfaction(satisfaction: Array, transaction: Array, weight: Array, xp: Any = np) -> Array:
    """CS: the memory-weighted blend of past CS and this period's transaction satisfaction, in [0, 10]."""
    return xp.clip(weight * satisfaction + (1.0 - weight) * transaction, 0.0, 10.0)


def update_expectation(expectation: Array, perceived: Array, wom: Array | float, m: Market, xp: Any = np) -> Array:
    """Expectations move toward experience and the supplier's net word of mouth, in [0, 1]."""
    return xp.clip(expectation + m.expectation_speed * (perceived - expectation) + m.wom_expectation * wom, 0.0, 1.0)


def newcomer_expectation(expectation: Array, reputation: Array, m: Market, xp: Any = np) -> Array:
    """A customer who joins a firm expects partly what the firm is known for (its reputation)."""
    r = m.reputation_expectation
    return (1 - r) * expectation + r * reputation


def complaint_probability(s: Array, m: Market, xp: Any = np) -> Array:
    """Chance a dissatisfied customer complains: rises with dissatisfaction, capped (TARP: a few % to ~30%)."""
    return xp.clip(m.complaint_base + m.complaint_slope * (m.dissatisfied_below - s), m.complaint_base, m.complaint_max)


def complaint_outcome(complains: Array, u_handle: Array, p_quick: Array, p_resolve: Array, xp: Any = np) -> Array:
    """Outcome code of each dissatisfied customer: silent, or a complaint resolved quickly (p_quick),
    resolved (p_resolve) or not; u_handle, p_quick and p_resolve are given for the complainers only."""
    handled = xp.where(u_handle < p_quick, RESOLVED_QUICKLY, xp.where(u_handle < p_resolve, RESOLVED, UNRESOLVED))
    code = xp.full(complains.shape, SILENT, dtype=CODE)
    code[complains] = handled
    return code


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
    affection = xp.maximum(satisfaction - m.affection_from, 0.0)
    log_mult = (
        -m.satisfaction_hazard * (satisfaction - m.satisfaction_neutral)
        + m.defection_zone_hazard * xp.maximum(m.defection_below - satisfaction, 0.0)
        - m.affection_hazard * (affection * affection)
        - m.loyalty_hazard * (loyalty - m.loyalty_neutral)
        - m.switching_hazard * (switch_cost - m.switching_cost_mean)
        - m.care_hazard * care
    )
    return xp.minimum(p_drop * xp.exp(log_mult) * complaint_mult, m.max_hazard)


def purchase_probability(p_buy: Array, log_price_ratio: Array, price_sens: Array, factor: float, m: Market, xp: Any = np) -> Array:
    """Reference-price purchase response (Kalyanaram & Winer 1995): losses hurt more than gains help.

    The elasticity is ``price_loss_elasticity`` above the reference (ratio > 0)
    and ``price_gain_elasticity`` below it; ``-eta * ratio`` is the smaller of
    the two products when losses weigh more, the larger otherwise.
    """
    loss, gain = -m.price_loss_elasticity * log_price_ratio, -m.price_gain_elasticity * log_price_ratio
    response = xp.minimum(loss, gain) if m.price_loss_elasticity >= m.price_gain_elasticity else xp.maximum(loss, gain)
    scale = p_buy if factor == 1.0 else p_buy * factor
    return xp.minimum(scale * xp.exp(price_sens * response), 1.0)


def advocacy_of(satisfaction: Array, active: Array, m: Market, xp: Any = np) -> Array:
    """Word of mouth: +1 promoter (CS >= promoter_from), -1 detractor (CS < detractor_below), else 0; prospects 0."""
    promoter = (active & (satisfaction >= m.promoter_from)).astype(CODE)
    detractor = (active & (satisfaction < m.detractor_below)).astype(CODE)
    return promoter - detractor


def update_loyalty(loyalty: Array, satisfaction: Array, m: Market, xp: Any = np) -> Array:
    """Loyalty of a customer who stays with the supplier moves toward CS/10."""
    return m.loyalty_smoothing * loyalty + (1 - m.loyalty_smoothing) * (satisfaction * 0.1)


def reference_price(ref_price: Array, anchor: Array, m: Market, xp: Any = np) -> Array:
    """Reference price smoothed toward this period's anchor (Kalyanaram & Winer 1995)."""
    return m.reference_smoothing * ref_price + (1 - m.reference_smoothing) * anchor


def equity_multiple(hazard: Array, m: Market, xp: Any = np) -> Array:
    """r / (1 + d - r), the margin multiple of customer lifetime value (Gupta & Lehmann), r = 1 - hazard."""
    return (1.0 - hazard) / (m.discount_rate + hazard)


def choice_utility(
    inputs: MarketInputs, quality_sens: Array, price_sens: Array, log_ref: Array, m: Market, xp: Any = np
) -> Array:
    """Deterministic MNL utility of each firm (row) for each chooser (column): (firms, choosers)."""
    log_price = xp.log(inputs.price)
    return (
        (m.choice_quality * inputs.reputation)[:, None] * quality_sens[None, :]
        - m.choice_price * (log_price[:, None] - log_ref[None, :]) * price_sens[None, :]
        + (m.choice_wom * inputs.wom + m.choice_awareness * inputs.awareness)[:, None]
    )


def sample_choice(utility: Array, rng: np.random.Generator, xp: Any = np) -> Array:
    """Draw one option (row) per chooser (column) with logit probabilities; columns of all -inf choose row 0."""
    u = utility - xp.max(utility, axis=0, keepdims=True)
    cum = xp.cumsum(xp.exp(u), axis=0)
    draw = uniforms(rng, utility.shape[1], xp) * cum[-1]
    return xp.minimum((draw[None, :] >= cum).sum(axis=0), utility.shape[0] - 1)


def adoption_hazard(adopted_share: float, mean_awareness: float, m: Market) -> float:
    """Bass (1969) hazard for a prospect: innovation + imitation x adopters' share + advertising."""
    return min(1.0, m.bass_p + m.bass_q * adopted_share + m.advertising_adoption * mean_awareness)


# ---------------------------------------------------------------------------
# per-firm values and totals


def firm_bins(supplier: Array, xp: Any = np) -> Array:
    """Each customer's bin: 0 for a prospect, firm + 1 for a firm's customer (an index into firm tables)."""
    return (supplier + 1).astype(xp.intp)


def firm_table(values: Array, prospect: float, xp: Any = np) -> Array:
    """A per-firm value as a float32 table indexed by bin: the prospects' value first, then firm 0, 1, ..."""
    return xp.concatenate([xp.full(1, prospect, dtype=REAL), xp.asarray(values, dtype=REAL)])


def per_customer(table: Array, bins: Array, xp: Any = np) -> Array | float:
    """Each customer's entry of a firm table; 0.0 (no array) if the table is all zero."""
    return table[bins] if bool(xp.any(table)) else 0.0


def per_firm(bins: Array, n_firms: int, xp: Any = np, weights: Array | None = None) -> Array:
    """Sum of `weights` (or count) per firm in float64, prospects (bin 0) left out."""
    if weights is not None:
        weights = weights.astype(xp.float64)
    return xp.bincount(bins, weights=weights, minlength=n_firms + 1)[1 : n_firms + 1].astype(xp.float64)


def per_firm_and_kind(bins: Array, kind: Array, n_kinds: int, n_firms: int, xp: Any = np) -> Array:
    """Counts per firm and kind (0 <= kind < n_kinds) in one pass: (n_firms, n_kinds) float64, prospects left out."""
    counts = xp.bincount(bins * n_kinds + kind, minlength=(n_firms + 1) * n_kinds)[: (n_firms + 1) * n_kinds]
    return counts.reshape(n_firms + 1, n_kinds)[1:].astype(xp.float64)


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

    Each rule runs over the customers it concerns: rules 1-6 over those served
    at the start of the period, adoption over the prospects, choice over the
    defectors and adopters, purchases over those with a supplier after the
    choice, word of mouth and the reference price over everyone. Random
    numbers, in this order: perception noise and a defection draw for each
    served customer, an adoption draw for each prospect, a complaint draw for
    each dissatisfied customer, a handling draw for each complainer, a choice
    draw for each chooser and a purchase draw for each customer after the
    choice, each in customer order.

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

    # whom the rules concern, and the random draws for each of them (a suffix _s: over the served customers)
    bins = firm_bins(pop.supplier, xp)  # 0 for prospects, firm + 1: indexes firm tables and per-firm totals
    active = pop.supplier >= 0
    served = xp.flatnonzero(active)
    prospects = xp.flatnonzero(~active)
    bins_s = bins[served]
    noise = normals(rng, served.shape[0], xp)
    u_defect = uniforms(rng, served.shape[0], xp)
    u_adopt = uniforms(rng, prospects.shape[0], xp)
    log_price = firm_table(xp.log(inputs.price), 0.0, xp)
    log_ref = xp.log(pop.ref_price)
    expectation_s = pop.expectation[served]

    # 1. perceived quality
    perceived = perceive_quality(firm_table(inputs.quality, 0.0, xp)[bins_s], noise, m, xp)
    # 2. transaction satisfaction (quality disconfirmation and value for money), less any scandal
    s = transaction_satisfaction(perceived, expectation_s, log_price[bins_s] - log_ref[served], m, xp)
    if bool(xp.any(inputs.scandal)):
        s = xp.clip(s - firm_table(inputs.scandal, 0.0, xp)[bins_s], 0.0, 10.0)
    # 3. cumulative satisfaction
    cs_s = cumulative_satisfaction(pop.satisfaction[served], s, memory_weight(pop.tenure[served], m, xp), xp)
    # 4. expectations move toward experience and word of mouth
    wom = per_customer(firm_table(inputs.wom, 0.0, xp), bins_s, xp) if m.wom_expectation else 0.0
    e = pop.expectation.copy()
    e[served] = update_expectation(expectation_s, perceived, wom, m, xp)
    # 5. complaints and their handling: the dissatisfied may complain, complaints are handled up to capacity
    dissatisfied = xp.flatnonzero(s < m.dissatisfied_below)  # positions among the served
    bins_d = bins_s[dissatisfied]
    complains = uniforms(rng, dissatisfied.shape[0], xp) < complaint_probability(s[dissatisfied], m, xp)
    complainers = bins_d[complains]
    complaints = per_firm(complainers, n_firms, xp)
    p_resolve = firm_table(xp.minimum(1.0, inputs.complaint_capacity / xp.maximum(complaints, 1.0)), 0.0, xp)
    p_quick = p_resolve * firm_table(inputs.care, 0.0, xp)
    u_handle = uniforms(rng, complainers.shape[0], xp)
    code_d = complaint_outcome(complains, u_handle, p_quick[complainers], p_resolve[complainers], xp)
    code = xp.zeros(n, dtype=CODE)
    code[served[dissatisfied]] = code_d
    cs_s[dissatisfied] = xp.clip(cs_s[dissatisfied] + xp.asarray(COMPLAINT_SATISFACTION, dtype=REAL)[code_d], 0.0, 10.0)
    complaint_mult = xp.ones(served.shape[0], dtype=REAL)
    complaint_mult[dissatisfied] = xp.asarray(COMPLAINT_HAZARD, dtype=REAL)[code_d]
    # 6. defection (a closed firm's customers all leave)
    care = per_customer(firm_table(inputs.care, 0.0, xp), bins_s, xp)
    loyalty_s = pop.loyalty[served]
    hazard = defection_hazard(pop.p_drop[served], cs_s, loyalty_s, pop.switch_cost[served], care, complaint_mult, m, xp)
    if not bool(xp.all(inputs.alive)):
        hazard = xp.maximum(hazard, firm_table(~xp.asarray(inputs.alive), 0.0, xp)[bins_s])
    quits = xp.flatnonzero(u_defect < hazard)  # positions among the served
    defectors = served[quits]
    left = bins_s[quits]  # the bins of the firms they leave
    # 7. choice: defectors (may leave the market) and Bass adopters among prospects
    adopt_p = adoption_hazard(served.shape[0] / n, float(xp.mean(inputs.awareness)), m)
    adopters = prospects[u_adopt < adopt_p] if bool(xp.any(inputs.alive)) else prospects[:0]
    choosers = xp.sort(xp.concatenate([defectors, adopters]))
    is_defector = active[choosers]
    log_ref_c = log_ref[choosers]
    utility = choice_utility(inputs, pop.quality_sens[choosers], pop.price_sens[choosers], log_ref_c, m, xp)
    utility = xp.where(inputs.alive[:, None], utility, -xp.inf)
    utility[left - 1, xp.flatnonzero(is_defector)] = -xp.inf  # a defector leaves its supplier
    utility = utility - (m.switching_hazard * pop.switch_cost[choosers] * is_defector)[None, :]
    outside = xp.where(is_defector, m.outside_utility + inputs.outside_boost, -xp.inf)
    utility = xp.concatenate([utility, outside[None, :]], axis=0)
    pick = sample_choice(utility, rng, xp)
    new_bin = xp.where(pick >= n_firms, 0, pick + 1)  # the outside option makes a prospect
    supplier = pop.supplier.copy()
    supplier[choosers] = new_bin - 1
    bins_now = bins.copy()
    bins_now[choosers] = new_bin
    # a new relationship starts fresh; a newcomer's expectation moves toward the chosen firm's reputation
    newcomers = choosers[new_bin > 0]
    joined = new_bin[new_bin > 0]
    tenure = pop.tenure + active
    tenure[choosers] = 0
    cs = pop.satisfaction.copy()
    cs[served] = cs_s
    cs[choosers] = m.satisfaction_start
    e[newcomers] = newcomer_expectation(e[newcomers], firm_table(inputs.reputation, 0.0, xp)[joined], m, xp)
    # 8. purchases
    now_active = supplier >= 0
    customers = xp.flatnonzero(now_active)
    bins_c = bins_now[customers]
    log_ratio = log_price[bins_c] - log_ref[customers]
    p_buy = purchase_probability(pop.p_buy[customers], log_ratio, pop.price_sens[customers], inputs.purchase_factor, m, xp)
    buys = uniforms(rng, customers.shape[0], xp) < p_buy
    buyers = customers[buys]
    bins_b = bins_c[buys]
    units_bought = pop.units[buyers]
    # 9. word of mouth
    advocacy = advocacy_of(cs, now_active, m, xp)
    # 10. loyalty (of those who stay) and reference price
    loyalty_s = update_loyalty(loyalty_s, cs_s, m, xp)
    loyalty = pop.loyalty.copy()
    loyalty[served] = loyalty_s
    loyalty[choosers] = NEW_CUSTOMER_LOYALTY
    # internal reference (price paid) blended with the external one (the market's prices), Kalyanaram & Winer 1995
    x = m.external_reference
    if inputs.market_price > 0:
        anchor = firm_table((1 - x) * inputs.price + x * inputs.market_price, inputs.market_price, xp)[bins_now]
    else:  # no live price: each customer's own reference price stands in for the market's
        price_paid = firm_table(inputs.price, 0.0, xp)[bins_now]
        anchor = xp.where(now_active, (1 - x) * price_paid + x * pop.ref_price, pop.ref_price)
    ref_price = reference_price(pop.ref_price, anchor, m, xp)

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

    # per-firm totals: counts by (tier, advocacy) in one pass over everyone; purchases over the buyers; sums over a
    # firm's customers at the end as those who stayed (bins `stay` over the served, 0 for defectors) plus newcomers
    kinds = per_firm_and_kind(bins_now, pop.tier * 3 + (advocacy + 1), 9, n_firms, xp).reshape(n_firms, 3, 3)
    outcomes = per_firm_and_kind(bins_d, code_d, 5, n_firms, xp)  # by complaint outcome code
    end = kinds.sum(axis=(1, 2))
    lost = per_firm(left, n_firms, xp)
    acquired = per_firm(joined, n_firms, xp)
    stay = bins_s.copy()
    stay[quits] = 0
    # customer equity: margin x r / (1 + d - r) (Gupta & Lehmann), r from this period's hazard (a newcomer's: its
    # base dropout); margin = expected units x margin per unit - service cost, so summed per firm as two totals
    expected_units = pop.p_buy[served] * pop.units[served]
    expected_units_new = pop.p_buy[newcomers] * pop.units[newcomers]
    multiple = equity_multiple(hazard, m, xp)
    multiple_new = equity_multiple(pop.p_drop[newcomers], m, xp)
    units_sold = per_firm(bins_b, n_firms, xp, units_bought)
    wallet = per_firm(stay, n_firms, xp, expected_units) + per_firm(joined, n_firms, xp, expected_units_new)
    margin_total = per_firm(stay, n_firms, xp, expected_units * multiple) + per_firm(
        joined, n_firms, xp, expected_units_new * multiple_new
    )
    multiple_total = per_firm(stay, n_firms, xp, multiple) + per_firm(joined, n_firms, xp, multiple_new)
    t = min(track, n)
    bought = _marked(buyers, t, xp)
    panel = {
        "supplier": supplier[:t].copy(),
        "satisfaction": cs[:t].copy(),
        "expectation": e[:t].copy(),
        "loyalty": loyalty[:t].copy(),
        "perceived": _served_values(perceived, served, t, xp),
        "bought": bought,
        "units": pop.units[:t] * bought,
        "spend": pop.units[:t] * bought * firm_table(inputs.price, 0.0, xp)[bins_now[:t]],
        "complaint": code[:t].copy(),
        "defected": _marked(defectors, t, xp),
        "tenure": tenure[:t].copy(),
    }
    outcome = PopulationOutcome(
        customers_start=end + lost - acquired,  # a defector never rejoins its own firm
        customers_end=end,
        acquired=acquired,
        lost=lost,
        revenue=inputs.price * units_sold,
        units_sold=units_sold,
        buyers=per_firm(bins_b, n_firms, xp),
        wallet=inputs.purchase_factor * wallet,
        complaints=complaints,
        resolved_quickly=outcomes[:, RESOLVED_QUICKLY],
        resolved=outcomes[:, RESOLVED],
        unresolved=outcomes[:, UNRESOLVED],
        silent=outcomes[:, SILENT],
        dissatisfied=outcomes.sum(axis=1),
        promoters=kinds[:, :, 2].sum(axis=1),
        detractors=kinds[:, :, 0].sum(axis=1),
        satisfaction_sum=per_firm(stay, n_firms, xp, cs_s) + m.satisfaction_start * acquired,
        loyalty_sum=per_firm(stay, n_firms, xp, loyalty_s) + NEW_CUSTOMER_LOYALTY * acquired,
        customer_equity=inputs.margin_per_unit * margin_total - inputs.service_cost * multiple_total,
        tier_counts=kinds.sum(axis=2),
        prospects_end=int(n - int(end.sum())),
        adopters=int(adopters.shape[0]),
        panel=panel,
    )
    return new_pop, outcome


def _served_values(values: Array, served: Array, t: int, xp: Any) -> Array:
    """The first t customers' values of an array over the served customers (sorted indices); NaN for prospects."""
    k = int(xp.searchsorted(served, t))
    out = xp.full(t, xp.nan, dtype=values.dtype)
    out[served[:k]] = values[:k]
    return out


def _marked(customers: Array, t: int, xp: Any) -> Array:
    """For the first t customers, whether each is among `customers` (sorted indices)."""
    out = xp.zeros(t, dtype=bool)
    out[customers[: int(xp.searchsorted(customers, t))]] = True
    return out


def customer_counts(supplier: Array, n_firms: int, xp: Any = np) -> Array:
    """Customers of each firm (float64, length n_firms)."""
    return per_firm(firm_bins(supplier, xp), n_firms, xp)


def release_customers(pop: Population, firm: int, xp: Any = np) -> Population:
    """A bankrupt firm's customers become prospects."""
    mask = pop.supplier == firm
    return replace(
        pop,
        supplier=xp.where(mask, PROSPECT, pop.supplier).astype(pop.supplier.dtype),
        tenure=xp.where(mask, 0, pop.tenure).astype(pop.tenure.dtype),
        advocacy=xp.where(mask, 0, pop.advocacy).astype(pop.advocacy.dtype),
    )
