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

from scenarios.schema import Market

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
    """ABC tiers: top 20% of expected spend is A, next 30% B, the rest C."""
    n = expected_spend.shape[0]
    rank = xp.empty(n, dtype=xp.int64)
    rank[xp.argsort(expected_spend, kind="stable")] = xp.arange(n)
    a_from = n - int(round(TIER_SHARES[0] * n))
    b_from = n - int(round((TIER_SHARES[0] + TIER_SHARES[1]) * n))
    return xp.where(rank >= a_from, 0, xp.where(rank >= b_from, 1, 2)).astype(CODE)


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


def cumulative_satisfaction(satisfaction: Array, transaction: Array, weight: Array, active: Array, xp: Any = np) -> Array:
    """CS moves to this period's transaction satisfaction by 1 - memory weight; a prospect's (active 0) stays."""
    return xp.clip(satisfaction + ((1.0 - weight) * active) * (transaction - satisfaction), 0.0, 10.0)


def update_expectation(expectation: Array, perceived: Array, wom: Array, active: Array, m: Market, xp: Any = np) -> Array:
    """Expectations move toward experience and the supplier's word of mouth; a prospect's (active 0, wom 0) stay."""
    return xp.clip(expectation + (m.expectation_speed * active) * (perceived - expectation) + m.wom_expectation * wom, 0.0, 1.0)


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
    return xp.clip((p_buy * factor) * xp.exp(price_sens * response), 0.0, 1.0)


def advocacy_of(satisfaction: Array, active: Array, m: Market, xp: Any = np) -> Array:
    """Word of mouth: +1 promoter (CS >= promoter_from), -1 detractor (CS < detractor_below), else 0; prospects 0."""
    promoter = (active & (satisfaction >= m.promoter_from)).astype(CODE)
    detractor = (active & (satisfaction < m.detractor_below)).astype(CODE)
    return promoter - detractor


def update_loyalty(loyalty: Array, satisfaction: Array, stayed: Array, m: Market, xp: Any = np) -> Array:
    """Loyalty of a customer who stayed with the supplier (stayed 1) moves toward CS/10; others' (stayed 0) is unchanged."""
    return loyalty + ((1 - m.loyalty_smoothing) * stayed) * (satisfaction * 0.1 - loyalty)


def reference_price(ref_price: Array, anchor: Array, m: Market, xp: Any = np) -> Array:
    """Reference price smoothed toward this period's anchor (Kalyanaram & Winer 1995)."""
    return m.reference_smoothing * ref_price + (1 - m.reference_smoothing) * anchor


def equity_multiple(hazard: Array, m: Market, xp: Any = np) -> Array:
    """r / (1 + d - r), the margin multiple of customer lifetime value (Gupta & Lehmann), r = 1 - hazard."""
    return (1.0 - hazard) / (m.discount_rate + hazard)


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
    draw = uniforms(rng, utility.shape[0], xp) * cum[:, -1]
    return xp.minimum((draw[:, None] >= cum).sum(axis=1), utility.shape[1] - 1)


def adoption_hazard(adopted_share: float, mean_awareness: float, m: Market) -> float:
    """Bass (1969) hazard for a prospect: innovation + imitation x adopters' share + advertising."""
    return min(1.0, m.bass_p + m.bass_q * adopted_share + m.advertising_adoption * mean_awareness)


# ---------------------------------------------------------------------------
# per-firm values and totals


def firm_table(values: Array, prospect: float, xp: Any = np) -> Array:
    """A per-firm value as a float32 table with one more entry, for prospects, at index -1 (= PROSPECT)."""
    return xp.concatenate([xp.asarray(values, dtype=REAL), xp.full(1, prospect, dtype=REAL)])


def per_customer(table: Array, supplier: Array, xp: Any = np) -> Array | float:
    """Each customer's value of a firm table (prospects get its last entry); 0.0 if the table is all zero."""
    return table[supplier] if bool(xp.any(table)) else 0.0


def firm_bins(supplier: Array, xp: Any = np) -> Array:
    """Bin of each customer for per-firm totals: 0 for prospects, firm + 1 for customers."""
    return supplier.astype(xp.intp) + 1


def per_firm(bins: Array, n_firms: int, xp: Any = np, weights: Array | None = None) -> Array:
    """Sum of `weights` (or count) per firm in float64; bins from :func:`firm_bins` (prospects are dropped)."""
    return xp.bincount(bins, weights=weights, minlength=n_firms + 1)[1 : n_firms + 1].astype(xp.float64)


def per_firm_and_kind(bins: Array, kind: Array, n_kinds: int, n_firms: int, xp: Any = np) -> Array:
    """Counts per firm and kind (0 <= kind < n_kinds) in one pass: (n_firms, n_kinds), float64."""
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

    Random numbers, in this order: perception noise, a move draw (defection
    for a customer, adoption for a prospect: the two never meet) and a
    purchase draw for every customer; then a complaint draw for each
    dissatisfied customer, a handling draw for each complainer and a choice
    draw for each chooser, in customer order.

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

    noise = normals(rng, n, xp)
    u_move = uniforms(rng, n, xp)
    u_buy = uniforms(rng, n, xp)

    sup = pop.supplier.astype(xp.intp)  # PROSPECT (-1) reads a firm table's prospect entry
    active = pop.supplier >= 0
    activef = active.astype(REAL)
    log_price = firm_table(xp.log(inputs.price), 0.0, xp)

    # 1. perceived quality
    perceived = perceive_quality(firm_table(inputs.quality, 0.0, xp)[sup], noise, m, xp)
    # 2. transaction satisfaction (quality disconfirmation and value for money), less any scandal
    log_ref = xp.log(pop.ref_price)
    log_ratio = log_price[sup] - log_ref
    s = transaction_satisfaction(perceived, pop.expectation, log_ratio, m, xp)
    if bool(xp.any(inputs.scandal)):
        s = xp.clip(s - firm_table(inputs.scandal, 0.0, xp)[sup], 0.0, 10.0)
    # 3. cumulative satisfaction
    cs = cumulative_satisfaction(pop.satisfaction, s, memory_weight(pop.tenure, m, xp), activef, xp)
    # 4. expectations move toward experience and word of mouth
    wom = per_customer(firm_table(inputs.wom, 0.0, xp), sup, xp)
    e = update_expectation(pop.expectation, perceived, wom, activef, m, xp)
    # 5. complaints and their handling: the dissatisfied may complain, complaints are handled up to capacity
    dissatisfied = xp.flatnonzero(active & (s < m.dissatisfied_below))
    sup_d = sup[dissatisfied]
    complains = uniforms(rng, dissatisfied.shape[0], xp) < complaint_probability(s[dissatisfied], m, xp)
    complainers = sup_d[complains]
    complaints = per_firm(complainers + 1, n_firms, xp)
    p_resolve = xp.minimum(1.0, inputs.complaint_capacity / xp.maximum(complaints, 1.0))
    p_quick = p_resolve * inputs.care
    u_handle = uniforms(rng, complainers.shape[0], xp)
    code_d = complaint_outcome(complains, u_handle, p_quick[complainers], p_resolve[complainers], xp)
    code = xp.zeros(n, dtype=CODE)
    code[dissatisfied] = code_d
    cs[dissatisfied] = xp.clip(cs[dissatisfied] + xp.asarray(COMPLAINT_SATISFACTION, dtype=REAL)[code_d], 0.0, 10.0)
    complaint_mult = xp.ones(n, dtype=REAL)
    complaint_mult[dissatisfied] = xp.asarray(COMPLAINT_HAZARD, dtype=REAL)[code_d]
    # 6. defection (a closed firm's customers all leave)
    care = per_customer(firm_table(inputs.care, 0.0, xp), sup, xp)
    hazard = defection_hazard(pop.p_drop, cs, pop.loyalty, pop.switch_cost, care, complaint_mult, m, xp)
    if not bool(xp.all(inputs.alive)):
        hazard = xp.maximum(hazard, firm_table(~xp.asarray(inputs.alive), 0.0, xp)[sup])
    defects = active & (u_move < hazard)
    # 7. choice: defectors (may leave the market) and Bass adopters among prospects
    served = int(xp.count_nonzero(active))
    adopt_p = adoption_hazard(served / n, float(xp.mean(inputs.awareness)), m)
    adopts = ~active & (u_move < adopt_p) & bool(xp.any(inputs.alive))
    choosers = xp.flatnonzero(defects | adopts)
    is_defector = active[choosers]
    current = sup[choosers]
    log_ref_c = log_ref[choosers]
    utility = choice_utility(inputs, pop.quality_sens[choosers], pop.price_sens[choosers], log_ref_c, m, xp)
    utility = xp.where(inputs.alive[None, :], utility, -xp.inf)
    utility[xp.flatnonzero(is_defector), current[is_defector]] = -xp.inf  # a defector leaves its supplier
    utility = utility - (m.switching_hazard * pop.switch_cost[choosers] * is_defector)[:, None]
    outside = xp.where(is_defector, m.outside_utility + inputs.outside_boost, -xp.inf)
    utility = xp.concatenate([utility, outside[:, None]], axis=1)
    pick = sample_choice(utility, rng, xp)
    new_sup = xp.where(pick >= n_firms, PROSPECT, pick)
    joined = new_sup >= 0
    supplier = pop.supplier.copy()
    supplier[choosers] = new_sup
    sup_now = sup.copy()
    sup_now[choosers] = new_sup
    # a new relationship starts fresh; a newcomer's expectation moves toward the chosen firm's reputation
    tenure = pop.tenure + active
    tenure[choosers] = 0
    cs[choosers] = m.satisfaction_start
    newcomers = choosers[joined]
    e[newcomers] = newcomer_expectation(e[newcomers], firm_table(inputs.reputation, 0.0, xp)[new_sup[joined]], m, xp)
    # 8. purchases
    now_active = supplier >= 0
    log_ratio[choosers] = log_price[new_sup] - log_ref_c
    p_buy = purchase_probability(pop.p_buy, log_ratio, pop.price_sens, inputs.purchase_factor, m, xp)
    buys = now_active & (u_buy < p_buy)
    units_bought = pop.units * buys
    # 9. word of mouth
    advocacy = advocacy_of(cs, now_active, m, xp)
    # 10. loyalty and reference price
    stayed = activef.copy()
    stayed[choosers] = 0.0
    loyalty = update_loyalty(pop.loyalty, cs, stayed, m, xp)
    loyalty[choosers] = NEW_CUSTOMER_LOYALTY
    # internal reference (price paid) blended with the external one (the market's prices), Kalyanaram & Winer 1995
    x = m.external_reference
    if inputs.market_price > 0:
        anchor = firm_table((1 - x) * inputs.price + x * inputs.market_price, inputs.market_price, xp)[sup_now]
    else:  # no live price: each customer's own reference price stands in for the market's
        price_paid = firm_table(inputs.price, 0.0, xp)[sup_now]
        anchor = xp.where(now_active, (1 - x) * price_paid + x * pop.ref_price, pop.ref_price)
    ref_price = reference_price(pop.ref_price, anchor, m, xp)

    # customer equity: margin x r / (1 + d - r) (Gupta & Lehmann), r from this period's hazard (a newcomer's base
    # dropout); margin = expected units x margin per unit - service cost, summed per firm as two totals
    hazard[choosers] = pop.p_drop[choosers]
    multiple = equity_multiple(hazard, m, xp)
    expected_units = pop.p_buy * pop.units

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
    # per-firm totals: one pass for the counts by (tier, bought, advocacy), one per weighted sum
    bins = firm_bins(supplier, xp)
    kinds = per_firm_and_kind(bins, pop.tier * 6 + buys.astype(CODE) * 3 + (advocacy + 1), 18, n_firms, xp)
    kinds = kinds.reshape(n_firms, 3, 2, 3)  # tier, bought, advocacy + 1
    outcomes = per_firm_and_kind(sup_d + 1, code_d, 5, n_firms, xp)  # by complaint outcome code
    end = kinds.sum(axis=(1, 2, 3))
    lost = per_firm(current[is_defector] + 1, n_firms, xp)
    acquired = per_firm(new_sup[joined] + 1, n_firms, xp)
    units_sold = per_firm(bins, n_firms, xp, units_bought)
    equity = inputs.margin_per_unit * per_firm(bins, n_firms, xp, expected_units * multiple) - inputs.service_cost * per_firm(
        bins, n_firms, xp, multiple
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
        "spend": units_bought[:t] * firm_table(inputs.price, 0.0, xp)[sup_now[:t]],
        "complaint": code[:t].copy(),
        "defected": defects[:t].copy(),
        "tenure": tenure[:t].copy(),
    }
    outcome = PopulationOutcome(
        customers_start=end + lost - acquired,  # a defector never rejoins its own firm
        customers_end=end,
        acquired=acquired,
        lost=lost,
        revenue=inputs.price * units_sold,
        units_sold=units_sold,
        buyers=kinds[:, :, 1, :].sum(axis=(1, 2)),
        wallet=inputs.purchase_factor * per_firm(bins, n_firms, xp, expected_units),
        complaints=complaints,
        resolved_quickly=outcomes[:, RESOLVED_QUICKLY],
        resolved=outcomes[:, RESOLVED],
        unresolved=outcomes[:, UNRESOLVED],
        silent=outcomes[:, SILENT],
        dissatisfied=outcomes.sum(axis=1),
        promoters=kinds[:, :, :, 2].sum(axis=(1, 2)),
        detractors=kinds[:, :, :, 0].sum(axis=(1, 2)),
        satisfaction_sum=per_firm(bins, n_firms, xp, cs),
        loyalty_sum=per_firm(bins, n_firms, xp, loyalty),
        customer_equity=equity,
        tier_counts=kinds.sum(axis=(2, 3)),
        prospects_end=int(n - int(end.sum())),
        adopters=int(choosers.shape[0] - int(xp.count_nonzero(is_defector))),
        panel=panel,
    )
    return new_pop, outcome


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
