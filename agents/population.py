"""The mass-market customer population, as arrays: one array per attribute, one operation per rule.

Every rule is a small function over whole arrays written against an array
namespace ``xp`` (numpy by default; CuPy has the same calls), so the same
rules can run on a GPU. No rule loops over customers in Python. A step is
pure: it returns a new :class:`Population` and leaves the old one untouched.

Rules, in order (docs/rules.md section 5.2): perceive quality, transaction
satisfaction by expectation-disconfirmation, cumulative satisfaction,
expectations, complaints and their handling, defection hazard, supplier
choice by multinomial logit (defectors and Bass adopters), purchases, word of
mouth, loyalty and reference price; then the per-firm totals, customer equity
among them. Every number that shapes customers is a ``[market]`` setting of
the scenario (scenarios/schema.py); the constants here are codes and dtypes.

Per-customer numbers are kept narrow (float32 reals, int8 codes, int16
tenure) so that a million customers fit in about 50 MiB and a step moves
half the memory float64 would; per-firm totals are summed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from crmsim.scenarios.schema import Market
from crmsim.sim import libm

Array = Any  # an xp array (numpy.ndarray or cupy.ndarray)

PROSPECT = -1

# dtypes of the per-customer arrays (names, so that numpy and CuPy read them alike)
REAL = "float32"  # every per-customer real number: traits, state and random draws
CODE = "int8"  # supplier (at most 16 firms), tier, advocacy, complaint outcome
TENURE = "int16"  # periods with the current supplier

# complaint outcome codes (TARP ordering: quick > resolved > unresolved > silent)
NO_COMPLAINT, RESOLVED_QUICKLY, RESOLVED, UNRESOLVED, SILENT = 0, 1, 2, 3, 4
COMPLAINT_OUTCOMES = ("none", "resolved_quickly", "resolved", "unresolved", "silent")

TIERS = ("A", "B", "C")

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
    recent_spend: Array  # units bought per period, smoothed (tiers follow it when crm.tiers_follow_spend)
    at_risk: Array  # bool: flagged by the churn early warning (defection hazard above crm.churn_threshold)

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
    # the CRM levers (crm settings); None or 0 leaves the first version's rules exactly as they were
    care_tier: Array | None = None  # (n_firms, 3) care intensity by ABC tier, when a firm splits its care budget
    retention: Array | None = None  # per firm, the share of an at-risk customer's hazard its retention budget removes
    churn_threshold: float = 1.0  # a customer whose hazard exceeds this is flagged at risk for next period
    tier_memory: float | None = None  # tiers follow recent spend with this smoothing weight (None: tiers fixed)


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
    revenue_tiers: Array  # (n_firms, 3) revenue by the buyer's tier at the start of the period
    units_tiers: Array  # (n_firms, 3)
    at_risk_tiers: Array  # (n_firms, 3) the firm's customers flagged at risk at the end, by tier
    tier_moves: int  # customers whose tier changed this period
    prospects_end: int
    adopters: int
    panel: dict[str, Array]


# ---------------------------------------------------------------------------
# initial population


def init_population(market: Market, n_firms: int, rng: np.random.Generator, xp: Any = np) -> Population:
    """Draw a heterogeneous customer base; a share starts with a firm, the rest are prospects (docs/rules.md 5.1)."""
    n = market.customers
    p_buy = rng.beta(market.purchase_alpha, market.purchase_beta, n)
    p_drop = rng.beta(market.dropout_alpha, market.dropout_beta, n)
    units = market.units_median * libm.exp(market.units_sigma * rng.standard_normal(n))
    k = market.sensitivity_shape
    price_sens = rng.gamma(k, 1.0 / k, n)
    quality_sens = rng.gamma(k, 1.0 / k, n)
    m, c = market.switching_cost_mean, market.switching_cost_concentration
    switch_cost = rng.beta(m * c, (1 - m) * c, n)
    expectation = np.clip(rng.normal(market.expectation_mean, market.expectation_sd, n), 0.0, 1.0)
    satisfaction = np.clip(rng.normal(market.satisfaction_start, market.satisfaction_start_sd, n), 0.0, 10.0)
    loyalty = np.clip(rng.normal(market.loyalty_neutral, market.loyalty_start_sd, n), 0.0, 1.0)
    ref_price = market.reference_price * libm.exp(rng.normal(0.0, market.reference_price_sd, n))
    served = rng.random(n) < market.initial_served_share
    supplier = np.where(served, rng.integers(0, n_firms, n), PROSPECT)
    tenure = np.where(served, rng.integers(market.tenure_start_min, market.tenure_start_max + 1, n), 0)
    expected_spend = units * p_buy

    def real(a: np.ndarray) -> Array:
        return xp.asarray(a.astype(REAL))

    return Population(
        units=real(units),
        p_buy=real(p_buy),
        p_drop=real(p_drop),
        price_sens=real(price_sens),
        quality_sens=real(quality_sens),
        switch_cost=real(switch_cost),
        tier=value_tiers(xp.asarray(expected_spend), market, xp),
        supplier=xp.asarray(supplier.astype(CODE)),
        expectation=real(expectation),
        satisfaction=real(satisfaction),
        loyalty=real(loyalty),
        ref_price=real(ref_price),
        tenure=xp.asarray(tenure.astype(TENURE)),
        advocacy=xp.zeros(n, dtype=CODE),
        complaint=xp.zeros(n, dtype=CODE),
        recent_spend=real(expected_spend),
        at_risk=xp.zeros(n, dtype=bool),
    )


def value_tiers(expected_spend: Array, m: Market, xp: Any = np) -> Array:
    """ABC tiers: the top ``tier_a_share`` of expected spend is A, the next ``tier_b_share`` B, the rest C
    (exact counts; a tie at a boundary is split deterministically)."""
    n = expected_spend.shape[0]
    a_from = n - int(round(m.tier_a_share * n))
    b_from = n - int(round((m.tier_a_share + m.tier_b_share) * n))
    tier = xp.full(n, 2, dtype=CODE)
    if n == 0 or b_from >= n:
        return tier
    ranked = xp.sort(expected_spend)
    if _clear_cut(ranked, b_from) and (a_from >= n or _clear_cut(ranked, a_from)):
        tier -= expected_spend >= ranked[b_from]  # the same sets as the partition below, found faster
        if a_from < n:
            tier -= expected_spend >= ranked[a_from]
        return tier
    order = xp.argpartition(expected_spend, (min(b_from, n - 1), min(a_from, n - 1)))  # ties split as ever
    tier[order[b_from:]] = 1
    tier[order[a_from:]] = 0
    return tier


def _clear_cut(ranked: Array, k: int) -> bool:
    """Whether the top n - k of sorted values `ranked` are exactly those >= ranked[k]: no tie across the cut, no NaN."""
    return bool((k == 0 or ranked[k - 1] < ranked[k]) and ranked[-1] == ranked[-1])


def join_firm(pop: Population, firm: int, m: Market, xp: Any = np, who: Array | None = None) -> Population:
    """Customers `who` (every customer by default) join `firm` as newcomers: each starts fresh (:func:`fresh_start`)."""
    who = xp.arange(pop.size) if who is None else who
    supplier, tenure, satisfaction, loyalty = pop.supplier.copy(), pop.tenure.copy(), pop.satisfaction.copy(), pop.loyalty.copy()
    supplier[who] = firm
    fresh_start(who, tenure, satisfaction, loyalty, m)
    return replace(pop, supplier=supplier, tenure=tenure, satisfaction=satisfaction, loyalty=loyalty)


def fresh_start(who: Array, tenure: Array, satisfaction: Array, loyalty: Array, m: Market) -> None:
    """A customer who moves (joins a firm, or leaves the market) starts fresh: tenure 0, cumulative
    satisfaction ``satisfaction_start`` and loyalty ``new_customer_loyalty``. Writes the three arrays at `who`."""
    tenure[who] = 0
    satisfaction[who] = m.satisfaction_start
    loyalty[who] = m.new_customer_loyalty


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


def memory_weights(tenure: Array, m: Market, xp: Any = np) -> Array:
    """:func:`memory_weight` of each customer, worked out once per tenure (0 to the longest) and looked up."""
    if tenure.shape[0] == 0:
        return memory_weight(tenure, m, xp)
    return memory_weight(xp.arange(int(tenure.max()) + 1, dtype=tenure.dtype), m, xp).take(tenure)


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


def complaint_handling(complaints: Array, capacity: Array, care: Array, xp: Any = np) -> tuple[Array, Array]:
    """Per firm: the chance a complaint is resolved quickly and the chance it is resolved at all.

    A firm resolves ``min(1, capacity / complaints)`` of its complaints (its
    service staff handle a fixed number each); care makes a share of those
    quick. Returned as firm tables (see :func:`firm_table`): (p_quick, p_resolve).
    """
    p_resolve = firm_table(xp.minimum(1.0, capacity / xp.maximum(complaints, 1.0)), 0.0, xp)
    return p_resolve * firm_table(care, 0.0, xp), p_resolve


def complaint_effects(m: Market) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The scenario's complaint tables, indexed by outcome code (NO_COMPLAINT .. SILENT): the cumulative-satisfaction
    points each outcome adds (no complaint: 0) and this period's defection-hazard multiplier (no complaint: 1)."""
    satisfaction = (0.0, m.quick_resolution_satisfaction, m.resolution_satisfaction, m.unresolved_satisfaction, m.silent_satisfaction)
    hazard = (1.0, m.quick_resolution_hazard, m.resolution_hazard, m.unresolved_hazard, m.silent_hazard)
    return satisfaction, hazard


def complaint_satisfaction(code: Array, m: Market, xp: Any = np) -> Array:
    """Cumulative-satisfaction points each customer's complaint outcome adds (:func:`complaint_effects`)."""
    return xp.asarray(complaint_effects(m)[0], dtype=REAL)[code]


def complaint_hazard(code: Array, m: Market, xp: Any = np) -> Array:
    """Each customer's defection-hazard multiplier this period from its complaint outcome (:func:`complaint_effects`)."""
    return xp.asarray(complaint_effects(m)[1], dtype=REAL)[code]


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


def care_of(inputs: MarketInputs, bins: Array, tiers: Array, xp: Any = np, table: Array | None = None) -> Array | float:
    """Each customer's care intensity: the firm's, or the firm's for the customer's ABC tier when the firm
    splits its care budget by tier (``inputs.care_tier``); 0.0 (no array) when no firm spends on care.
    `table`: the firm table of ``inputs.care``, when the caller has it."""
    if inputs.care_tier is None:
        return per_customer(firm_table(inputs.care, 0.0, xp) if table is None else table, bins, xp)
    table = xp.concatenate([xp.zeros((1, 3), dtype=REAL), xp.asarray(inputs.care_tier, dtype=REAL)]).reshape(-1)
    return table[bins * 3 + tiers]


def retention_relief(hazard: Array, at_risk: Array, relief: Array | float, xp: Any = np) -> Array:
    """The churn warning acted on: an at-risk customer's hazard falls by its firm's retention relief."""
    return hazard * (1.0 - relief * at_risk)


def flag_at_risk(hazard: Array, threshold: float) -> Array:
    """The churn early warning (流失预警): customers whose defection hazard is above the threshold."""
    return hazard > threshold


def update_recent_spend(recent: Array, spent: Array, memory: float) -> Array:
    """Recent spend: the smoothed units a customer bought per period (ABC tiers follow it)."""
    return memory * recent + (1.0 - memory) * spent


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
    promoter = active & (satisfaction >= m.promoter_from)
    detractor = active & (satisfaction < m.detractor_below)
    return xp.subtract(promoter, detractor, dtype=CODE)


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
    log_price = libm.log(inputs.price, xp)
    return (
        (m.choice_quality * inputs.reputation)[:, None] * quality_sens[None, :]
        - m.choice_price * (log_price[:, None] - log_ref[None, :]) * price_sens[None, :]
        + (m.choice_wom * inputs.wom + m.choice_awareness * inputs.awareness)[:, None]
    )


def sample_choice(utility: Array, rng: np.random.Generator, xp: Any = np) -> Array:
    """Draw one option (row) per chooser (column) with logit probabilities; columns of all -inf choose row 0."""
    u = utility - utility.max(axis=0, keepdims=True)
    cum = xp.cumsum(libm.exp(u, xp), axis=0)
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
    return table[bins] if bool(table.any()) else 0.0


def per_firm(bins: Array, n_firms: int, xp: Any = np, weights: Array | None = None) -> Array:
    """Sum of `weights` (or count) per firm in float64, prospects (bin 0) left out.

    bincount sums the weights as float64 (it widens float32 weights itself), one customer after another.
    """
    return xp.bincount(bins, weights=weights, minlength=n_firms + 1)[1 : n_firms + 1].astype(xp.float64, copy=False)


def per_firm_and_kind(bins: Array, kind: Array, n_kinds: int, n_firms: int, xp: Any = np, weights: Array | None = None) -> Array:
    """Counts (or sums of `weights`) per firm and kind (0 <= kind < n_kinds) in one pass: (n_firms, n_kinds)
    float64, prospects left out."""
    counts = xp.bincount(bins * n_kinds + kind, weights=weights, minlength=(n_firms + 1) * n_kinds)[: (n_firms + 1) * n_kinds]
    return counts.reshape(n_firms + 1, n_kinds)[1:].astype(xp.float64, copy=False)


# ---------------------------------------------------------------------------
# customer equity


@dataclass(frozen=True)
class Cohort:
    """Customers a firm holds at the end of the period, of one kind (those who stayed, or newcomers)."""

    bins: Array  # each one's firm bin (0: not the firm's at the end)
    expected_units: Array  # p_buy x units: what each buys per period on average
    multiple: Array  # the margin multiple of each one's lifetime value (:func:`equity_multiple`)


def customer_equity(stayers: Cohort, joiners: Cohort, inputs: MarketInputs, n_firms: int, xp: Any = np) -> Array:
    """Customer equity of each firm: Σ CLV over its customers at the end (Gupta & Lehmann).

    CLV = margin x r / (1 + d - r) with margin = expected units x margin per
    unit - service cost; summed per firm as two totals, so the margin per unit
    and the service cost multiply once per firm.
    """
    margin_total = per_firm(stayers.bins, n_firms, xp, stayers.expected_units * stayers.multiple) + per_firm(
        joiners.bins, n_firms, xp, joiners.expected_units * joiners.multiple
    )
    multiple_total = per_firm(stayers.bins, n_firms, xp, stayers.multiple) + per_firm(joiners.bins, n_firms, xp, joiners.multiple)
    return inputs.margin_per_unit * margin_total - inputs.service_cost * multiple_total


# ---------------------------------------------------------------------------
# one period: the steps, each over the customers it concerns (a suffix _s: over the customers served at the start)


@dataclass(frozen=True)
class FirmTables:
    """The period's per-firm values as float32 tables indexed by bin (the values :func:`firm_table` gives),
    made once a step."""

    quality: Array  # delivered quality
    log_price: Array
    price: Array
    reputation: Array
    wom: Array
    care: Array
    anchor: Array  # a firm's customers' reference-price anchor (:func:`price_anchor`); prospects: the market price
    scandal: Array | None  # satisfaction points lost; None when no firm has a scandal


def firm_tables(inputs: MarketInputs, m: Market, xp: Any = np) -> FirmTables:
    """The firm tables a step reads, made together: one float32 array, a row per table."""
    rows = (inputs.quality, libm.log(inputs.price, xp), inputs.price, inputs.reputation, inputs.wom, inputs.care,
            blended_anchor(inputs.price, inputs.market_price, m), inputs.scandal)
    table = xp.zeros((len(rows), int(inputs.price.shape[0]) + 1), dtype=REAL)
    table[:, 1:] = xp.concatenate(rows).reshape(len(rows), -1)
    table[6, 0] = inputs.market_price
    quality, log_price, price, reputation, wom, care, anchor, scandal = table
    return FirmTables(quality=quality, log_price=log_price, price=price, reputation=reputation, wom=wom, care=care,
                      anchor=anchor, scandal=scandal if bool(inputs.scandal.any()) else None)


@dataclass(frozen=True)
class Audience:
    """Whom the period's rules concern, fixed at the start of the period."""

    bins: Array  # each customer's bin: 0 for a prospect, firm + 1 (indexes firm tables and per-firm totals)
    active: Array  # bool: served at the start
    served: Array  # indices of the served customers (sorted)
    prospects: Array  # indices of the prospects (sorted)
    bins_s: Array  # the served customers' bins
    tier_s: Array | None  # the served customers' ABC tiers, when care is split by tier (else None)


@dataclass(frozen=True)
class Experience:
    """Rules 1-4 over the served customers, and everyone's expectation after rule 4."""

    perceived: Array
    transaction: Array  # transaction satisfaction S, less any scandal
    cumulative: Array  # cumulative satisfaction CS, before complaint outcomes
    expectation: Array  # every customer's E


@dataclass(frozen=True)
class Complaints:
    """Rule 5 over the dissatisfied among the served."""

    dissatisfied: Array  # positions among the served
    bins: Array  # their bins
    code: Array  # their outcome codes (SILENT or a handled complaint)
    complaints: Array  # complaints per firm


@dataclass(frozen=True)
class Defections:
    """Rule 6 over the served: each one's hazard, and who leaves which firm."""

    hazard: Array  # over the served
    quits: Array  # positions among the served
    left: Array  # the bins of the firms they leave


@dataclass(frozen=True)
class Moves:
    """Rule 7: who chose, and where everyone is after the choice."""

    choosers: Array  # defectors and adopters (sorted indices)
    adopters: Array
    bins: Array  # every customer's bin after the choice
    supplier: Array  # every customer's supplier after the choice
    active: Array  # bool: with a supplier after the choice
    newcomers: Array  # choosers who joined a firm
    joined: Array  # their bins


@dataclass(frozen=True)
class Purchases:
    """Rule 8 over the customers with a supplier after the choice."""

    buyers: Array
    bins: Array  # the buyers' bins
    units: Array  # units each buyer bought


def audience(pop: Population, inputs: MarketInputs, xp: Any = np) -> Audience:
    """Served customers and prospects at the start of the period."""
    bins = firm_bins(pop.supplier, xp)
    active = pop.supplier >= 0
    served = active.nonzero()[0]
    return Audience(bins=bins, active=active, served=served, prospects=(~active).nonzero()[0], bins_s=bins.take(served),
                    tier_s=pop.tier.take(served) if inputs.care_tier is not None else None)


def experience(pop: Population, tables: FirmTables, who: Audience, noise: Array, m: Market, xp: Any = np) -> Experience:
    """Rules 1-4: perceived quality, transaction satisfaction (less any scandal), cumulative satisfaction, expectations."""
    served, bins_s = who.served, who.bins_s
    expectation_s = pop.expectation.take(served)
    perceived = perceive_quality(tables.quality.take(bins_s), noise, m, xp)
    log_price_ratio = tables.log_price.take(bins_s) - xp.log(pop.ref_price.take(served))
    s = transaction_satisfaction(perceived, expectation_s, log_price_ratio, m, xp)
    if tables.scandal is not None:
        s = xp.clip(s - tables.scandal[bins_s], 0.0, 10.0)
    cs_s = cumulative_satisfaction(pop.satisfaction.take(served), s, memory_weights(pop.tenure.take(served), m, xp), xp)
    wom = per_customer(tables.wom, bins_s, xp) if m.wom_expectation else 0.0
    e = pop.expectation.copy()
    e[served] = update_expectation(expectation_s, perceived, wom, m, xp)
    return Experience(perceived=perceived, transaction=s, cumulative=cs_s, expectation=e)


def handle_complaints(
    s: Array, bins_s: Array, inputs: MarketInputs, n_firms: int, rng: np.random.Generator, m: Market, xp: Any = np,
    tier_s: Array | None = None,
) -> Complaints:
    """Rule 5: the dissatisfied may complain (one draw each), complaints are handled up to capacity (one draw each).

    With care split by tier, a complaint's chance of a quick resolution follows the care of the complainer's tier.
    """
    dissatisfied = (s < m.dissatisfied_below).nonzero()[0]
    bins_d = bins_s[dissatisfied]
    complains = uniforms(rng, dissatisfied.shape[0], xp) < complaint_probability(s[dissatisfied], m, xp)
    complainers = bins_d[complains]
    complaints = per_firm(complainers, n_firms, xp)
    p_quick, p_resolve = complaint_handling(complaints, inputs.complaint_capacity, inputs.care, xp)
    u_handle = uniforms(rng, complainers.shape[0], xp)
    if inputs.care_tier is None:
        quick = p_quick[complainers]
    else:
        quick = p_resolve[complainers] * care_of(inputs, complainers, tier_s[dissatisfied][complains], xp)
    code = complaint_outcome(complains, u_handle, quick, p_resolve[complainers], xp)
    return Complaints(dissatisfied=dissatisfied, bins=bins_d, code=code, complaints=complaints)


def after_complaints(cs_s: Array, heard: Complaints, m: Market, xp: Any = np) -> Array:
    """Cumulative satisfaction of the served once each complaint outcome has shifted it, in [0, 10]."""
    out = cs_s.copy()
    out[heard.dissatisfied] = xp.clip(cs_s[heard.dissatisfied] + complaint_satisfaction(heard.code, m, xp), 0.0, 10.0)
    return out


def defect(
    pop: Population, inputs: MarketInputs, tables: FirmTables, who: Audience, cs_s: Array, loyalty_s: Array,
    heard: Complaints, u_defect: Array, m: Market, xp: Any = np,
) -> Defections:
    """Rule 6: each served customer's defection hazard and draw (a closed firm's customers all leave)."""
    complaint_mult = xp.ones(who.served.shape[0], dtype=REAL)
    complaint_mult[heard.dissatisfied] = complaint_hazard(heard.code, m, xp)
    served = who.served
    care = care_of(inputs, who.bins_s, who.tier_s, xp, table=tables.care)
    hazard = defection_hazard(pop.p_drop.take(served), cs_s, loyalty_s, pop.switch_cost.take(served), care, complaint_mult, m, xp)
    if inputs.retention is not None and bool(inputs.retention.any()):
        hazard = retention_relief(hazard, pop.at_risk[served], firm_table(inputs.retention, 0.0, xp)[who.bins_s], xp)
    if not bool(inputs.alive.all()):
        hazard = xp.maximum(hazard, firm_table(~xp.asarray(inputs.alive), 0.0, xp)[who.bins_s])
    quits = (u_defect < hazard).nonzero()[0]
    return Defections(hazard=hazard, quits=quits, left=who.bins_s[quits])


def supplier_choice(
    pop: Population, choosers: Array, is_defector: Array, left: Array, inputs: MarketInputs, rng: np.random.Generator,
    m: Market, xp: Any = np,
) -> Array:
    """Each chooser's new bin by multinomial logit (one draw each); 0 is the outside option (a prospect again).

    A defector cannot pick the firm it leaves (`left`, in chooser order), pays
    its switching cost on every firm, and may leave the market; an adopter
    always picks a live firm.
    """
    n_firms = int(inputs.price.shape[0])
    utility = choice_utility(inputs, pop.quality_sens[choosers], pop.price_sens[choosers], xp.log(pop.ref_price[choosers]), m, xp)
    utility = xp.where(inputs.alive[:, None], utility, -xp.inf)
    utility[left - 1, is_defector.nonzero()[0]] = -xp.inf
    utility = utility - (m.switching_hazard * pop.switch_cost[choosers] * is_defector)[None, :]
    outside = xp.where(is_defector, m.outside_utility + inputs.outside_boost, -xp.inf)
    pick = sample_choice(xp.concatenate([utility, outside[None, :]], axis=0), rng, xp)
    return xp.where(pick >= n_firms, 0, pick + 1)


def choose(
    pop: Population, inputs: MarketInputs, who: Audience, gone: Defections, u_adopt: Array, rng: np.random.Generator,
    m: Market, xp: Any = np,
) -> Moves:
    """Rule 7: defectors and Bass adopters among the prospects choose a supplier (or, defectors, none)."""
    defectors = who.served[gone.quits]
    adopt_p = adoption_hazard(who.served.shape[0] / pop.size, float(inputs.awareness.mean()), m)
    adopters = who.prospects[(u_adopt < adopt_p).nonzero()[0]] if bool(inputs.alive.any()) else who.prospects[:0]
    choosers = xp.sort(xp.concatenate([defectors, adopters]))
    new_bin = supplier_choice(pop, choosers, who.active[choosers], gone.left, inputs, rng, m, xp)
    supplier = pop.supplier.copy()
    supplier[choosers] = new_bin - 1
    bins = who.bins.copy()
    bins[choosers] = new_bin
    joined = new_bin > 0
    return Moves(choosers=choosers, adopters=adopters, bins=bins, supplier=supplier, active=supplier >= 0,
                 newcomers=choosers[joined], joined=new_bin[joined])


def purchase(
    pop: Population, inputs: MarketInputs, tables: FirmTables, moved: Moves, rng: np.random.Generator, m: Market,
    xp: Any = np,
) -> Purchases:
    """Rule 8: every customer with a supplier after the choice buys or not (one draw each), at the supplier's price."""
    customers = moved.active.nonzero()[0]
    bins_c = moved.bins.take(customers)
    log_ratio = tables.log_price.take(bins_c) - xp.log(pop.ref_price.take(customers))
    p_buy = purchase_probability(pop.p_buy.take(customers), log_ratio, pop.price_sens.take(customers), inputs.purchase_factor, m, xp)
    buys = (uniforms(rng, customers.shape[0], xp) < p_buy).nonzero()[0]
    buyers = customers[buys]
    return Purchases(buyers=buyers, bins=bins_c[buys], units=pop.units[buyers])


def price_anchor(pop: Population, inputs: MarketInputs, tables: FirmTables, bins: Array, m: Market, xp: Any = np) -> Array:
    """Each customer's reference-price anchor: the price paid blended with the market's mean price
    (Kalyanaram & Winer 1995); with no live price, each customer's own reference stands in for the market's."""
    if inputs.market_price > 0:
        return tables.anchor.take(bins)
    return xp.where(bins > 0, blended_anchor(tables.price[bins], pop.ref_price, m), pop.ref_price)


def blended_anchor(price_paid: Array, reference: Array | float, m: Market) -> Array:
    """The anchor of :func:`price_anchor`: ``(1 - external_reference)`` x the price paid + ``external_reference``
    x the outside reference (the market's mean price, or the customer's own reference)."""
    x = m.external_reference
    return (1 - x) * price_paid + x * reference


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
    n_firms = int(inputs.price.shape[0])
    tables = firm_tables(inputs, m, xp)
    # whom the rules concern, and the random draws for each of them
    who = audience(pop, inputs, xp)
    noise = normals(rng, who.served.shape[0], xp)
    u_defect = uniforms(rng, who.served.shape[0], xp)
    u_adopt = uniforms(rng, who.prospects.shape[0], xp)
    # 1. perceived quality; 2.-4. transaction and cumulative satisfaction, expectations
    felt = experience(pop, tables, who, noise, m, xp)
    # 5. complaints and their handling
    heard = handle_complaints(felt.transaction, who.bins_s, inputs, n_firms, rng, m, xp, who.tier_s)
    cs_s = after_complaints(felt.cumulative, heard, m, xp)
    # 6. defection
    loyalty_s = pop.loyalty.take(who.served)
    gone = defect(pop, inputs, tables, who, cs_s, loyalty_s, heard, u_defect, m, xp)
    # 7. supplier choice: whoever moves starts fresh, a newcomer expecting partly what its firm is known for
    moved = choose(pop, inputs, who, gone, u_adopt, rng, m, xp)
    tenure = pop.tenure + who.active
    cs = pop.satisfaction.copy()
    cs[who.served] = cs_s
    loyalty_s = update_loyalty(loyalty_s, cs_s, m, xp)  # 10. loyalty of those who stay
    loyalty = pop.loyalty.copy()
    loyalty[who.served] = loyalty_s
    fresh_start(moved.choosers, tenure, cs, loyalty, m)
    e = felt.expectation
    e[moved.newcomers] = newcomer_expectation(e[moved.newcomers], tables.reputation[moved.joined], m, xp)
    # 8. purchases
    bought = purchase(pop, inputs, tables, moved, rng, m, xp)
    # 9. word of mouth; 10. reference price
    advocacy = advocacy_of(cs, moved.active, m, xp)
    ref_price = reference_price(pop.ref_price, price_anchor(pop, inputs, tables, moved.bins, m, xp), m, xp)
    # 11. the churn early warning for next period; 12. ABC tiers that follow recent spend
    tier, recent = pop.tier, pop.recent_spend
    if inputs.tier_memory is not None:
        spent = xp.zeros(pop.size, dtype=REAL)
        spent[bought.buyers] = bought.units
        recent = update_recent_spend(pop.recent_spend, spent, inputs.tier_memory)
        tier = value_tiers(recent, m, xp)
    new_pop = replace(
        pop,
        tier=tier,
        supplier=moved.supplier,
        expectation=e,
        satisfaction=cs,
        loyalty=loyalty,
        ref_price=ref_price,
        tenure=tenure,
        advocacy=advocacy,
        complaint=complaint_codes(pop.size, who, heard, xp),
        recent_spend=recent,
        at_risk=at_risk_after(pop.size, who, gone, inputs.churn_threshold, xp),
    )
    # per-firm totals and the tracked customers' panel
    outcome = tally(pop, new_pop, inputs, tables, who, felt, heard, gone, moved, bought, cs_s, loyalty_s, m, xp, track)
    return new_pop, outcome


def at_risk_after(n: int, who: Audience, gone: Defections, threshold: float, xp: Any = np) -> Array:
    """Every customer's churn-warning flag for next period: those who stayed whose hazard was above the threshold
    (a newcomer or a prospect is not flagged)."""
    flagged = flag_at_risk(gone.hazard, threshold)
    flagged[gone.quits] = False
    flag = xp.zeros(n, dtype=bool)
    flag[who.served] = flagged
    return flag


def complaint_codes(n: int, who: Audience, heard: Complaints, xp: Any = np) -> Array:
    """Every customer's complaint outcome code this period (NO_COMPLAINT unless dissatisfied)."""
    code = xp.zeros(n, dtype=CODE)
    code[who.served[heard.dissatisfied]] = heard.code
    return code


def tally(
    pop: Population, new: Population, inputs: MarketInputs, tables: FirmTables, who: Audience, felt: Experience,
    heard: Complaints, gone: Defections, moved: Moves, bought: Purchases, cs_s: Array, loyalty_s: Array, m: Market,
    xp: Any, track: int,
) -> PopulationOutcome:
    """Per-firm totals of the period, and the tracked customers' panel.

    Counts by (tier, advocacy) in one pass over everyone; purchases over the
    buyers; sums over a firm's customers at the end as those who stayed (bins
    `stay` over the served, 0 for defectors) plus newcomers.
    """
    n_firms = int(inputs.price.shape[0])
    n = pop.size
    kinds = per_firm_and_kind(moved.bins, new.tier * 3 + (new.advocacy + 1), 9, n_firms, xp).reshape(n_firms, 3, 3)
    outcomes = per_firm_and_kind(heard.bins, heard.code, 5, n_firms, xp)  # by complaint outcome code
    end = kinds.sum(axis=(1, 2))
    lost = per_firm(gone.left, n_firms, xp)
    acquired = per_firm(moved.joined, n_firms, xp)
    stay = who.bins_s.copy()
    stay[gone.quits] = 0
    # r from this period's hazard (a newcomer's: its base dropout)
    stayers = Cohort(stay, pop.p_buy.take(who.served) * pop.units.take(who.served), equity_multiple(gone.hazard, m, xp))
    joiners = Cohort(moved.joined, pop.p_buy[moved.newcomers] * pop.units[moved.newcomers], equity_multiple(pop.p_drop[moved.newcomers], m, xp))
    units_sold = per_firm(bought.bins, n_firms, xp, bought.units)
    wallet = per_firm(stayers.bins, n_firms, xp, stayers.expected_units) + per_firm(joiners.bins, n_firms, xp, joiners.expected_units)
    buyer_tier = pop.tier[bought.buyers]  # at the start of the period
    at_risk = new.at_risk.nonzero()[0]
    return PopulationOutcome(
        customers_start=end + lost - acquired,  # a defector never rejoins its own firm
        customers_end=end,
        acquired=acquired,
        lost=lost,
        revenue=inputs.price * units_sold,
        units_sold=units_sold,
        buyers=per_firm(bought.bins, n_firms, xp),
        wallet=inputs.purchase_factor * wallet,
        complaints=heard.complaints,
        resolved_quickly=outcomes[:, RESOLVED_QUICKLY],
        resolved=outcomes[:, RESOLVED],
        unresolved=outcomes[:, UNRESOLVED],
        silent=outcomes[:, SILENT],
        dissatisfied=outcomes.sum(axis=1),
        promoters=kinds[:, :, 2].sum(axis=1),
        detractors=kinds[:, :, 0].sum(axis=1),
        satisfaction_sum=per_firm(stay, n_firms, xp, cs_s) + m.satisfaction_start * acquired,
        loyalty_sum=per_firm(stay, n_firms, xp, loyalty_s) + m.new_customer_loyalty * acquired,
        customer_equity=customer_equity(stayers, joiners, inputs, n_firms, xp),
        tier_counts=kinds.sum(axis=2),
        revenue_tiers=per_firm_and_kind(bought.bins, buyer_tier, 3, n_firms, xp, bought.units * tables.price[bought.bins]),
        units_tiers=per_firm_and_kind(bought.bins, buyer_tier, 3, n_firms, xp, bought.units),
        at_risk_tiers=per_firm_and_kind(moved.bins[at_risk], new.tier[at_risk], 3, n_firms, xp),
        tier_moves=int((new.tier != pop.tier).sum()) if new.tier is not pop.tier else 0,
        prospects_end=int(n - int(end.sum())),
        adopters=int(moved.adopters.shape[0]),
        panel=panel(pop, new, tables, who, felt, gone, moved, bought, xp, min(track, n)),
    )


def panel(
    pop: Population, new: Population, tables: FirmTables, who: Audience, felt: Experience, gone: Defections,
    moved: Moves, bought: Purchases, xp: Any, t: int,
) -> dict[str, Array]:
    """The period's record of the first t customers (the tracked ones)."""
    did_buy = _marked(bought.buyers, t, xp)
    return {
        "supplier": new.supplier[:t].copy(),
        "satisfaction": new.satisfaction[:t].copy(),
        "expectation": new.expectation[:t].copy(),
        "loyalty": new.loyalty[:t].copy(),
        "perceived": _served_values(felt.perceived, who.served, t, xp),
        "bought": did_buy,
        "units": pop.units[:t] * did_buy,
        "spend": pop.units[:t] * did_buy * tables.price[moved.bins[:t]],
        "complaint": new.complaint[:t].copy(),
        "defected": _marked(who.served[gone.quits], t, xp),
        "tenure": new.tenure[:t].copy(),
    }


def _served_values(values: Array, served: Array, t: int, xp: Any) -> Array:
    """The first t customers' values of an array over the served customers (sorted indices); NaN for prospects."""
    out = xp.full(t, xp.nan, dtype=values.dtype)
    if t:
        k = int(xp.searchsorted(served, t))
        out[served[:k]] = values[:k]
    return out


def _marked(customers: Array, t: int, xp: Any) -> Array:
    """For the first t customers, whether each is among `customers` (sorted indices)."""
    out = xp.zeros(t, dtype=bool)
    if t:
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
        at_risk=pop.at_risk & ~mask,
    )
