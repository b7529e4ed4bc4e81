"""Typed, frozen scenario data: every setting of a game with its bounds declared beside it.

A scenario file (TOML) is parsed into :class:`Scenario`. Defaults live here, so a
scenario file only states what differs; ``extends = "classroom-v1"`` inherits a
whole shipped scenario. Money is in yuan (¥); one period is one month.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ClientId = str
AwardType = Literal["scoring", "lowest_price"]
ReissuePolicy = Literal["replace_schedule", "fill_gaps"]
#: the lifecycle stages of a firm-client relationship, in order (潜在期, 目标期, 考察期, 形成期, 稳定期)
STAGES = ("potential", "target", "evaluation", "formation", "stable")
Stage = Literal["potential", "target", "evaluation", "formation", "stable"]
#: the sales activities (客户调查, 电话联系, 上门拜访, 产品演示, 维护), in the order the course teaches them
ACTIVITIES = ("investigate", "call", "visit", "demo", "maintain")
ActivityName = Literal["investigate", "call", "visit", "demo", "maintain"]
ScoreReference = Literal["start", "market", "fixed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True)


class Text(_Frozen):
    """A label in both UI languages."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class FirmSetup(_Frozen):
    """Starting state shared by every firm (the game is symmetric at the start)."""

    count: int = Field(6, ge=2, le=16, description="number of firms (teams or bots)")
    names: tuple[str, ...] = Field((), description="display names; defaults to Firm 1..n")
    cash: float = Field(300_000, ge=0, le=1e12)
    debt: float = Field(0, ge=0, le=1e12)
    sales_staff: int = Field(3, ge=0, le=1000)
    service_staff: int = Field(12, ge=0, le=100_000)
    unit_cost: float = Field(60, gt=0, le=1e6, description="cost of goods per unit")
    price: float = Field(100, gt=0, le=1e6, description="starting mass-market price")
    service_level: float = Field(0.6, ge=0, le=1)
    care_budget: float = Field(10_000, ge=0, le=1e12)
    advertising_budget: float = Field(10_000, ge=0, le=1e12)
    reputation: float = Field(0.6, ge=0, le=1)
    awareness: float = Field(0.5, ge=0, le=1, description="starting awareness (share of the market that knows the firm)")
    relationship: float = Field(0.1, ge=0, le=1, description="starting R[firm, client]")
    client_satisfaction: float = Field(7.0, ge=0, le=10, description="starting satisfaction of each key client with each firm (0-10)")

    @model_validator(mode="after")
    def _names_match_count(self) -> FirmSetup:
        if self.names and len(self.names) != self.count:
            raise ValueError(
                f"names must list exactly count={self.count} firms; got {len(self.names)}"
            )
        twice = sorted({n for n in self.names if self.names.count(n) > 1})
        if twice:
            raise ValueError(f"names must be unique; got {', '.join(twice)} more than once")
        return self

    def firm_names(self) -> tuple[str, ...]:
        return self.names or tuple(f"Firm {i + 1}" for i in range(self.count))


class Costs(_Frozen):
    """Cost structure, capacity and finance."""

    salary_sales: float = Field(6_000, ge=0, le=1e9, description="per sales head per period")
    salary_service: float = Field(3_500, ge=0, le=1e9, description="per service head per period")
    hire_cost: float = Field(3_000, ge=0, le=1e9, description="per head hired")
    severance: float = Field(8_000, ge=0, le=1e9, description="per head fired")
    service_cost: float = Field(25, ge=0, le=1e6, description="per customer served per period at service level 1")
    service_cost_curve: float = Field(1.0, ge=1.0, le=4.0, description="the service cost grows as level ** curve: 1 is linear "
                                      "(v1); above 1, the last steps toward service 1.0 cost the most (docs/rules.md section 9)")
    customers_per_service_staff: float = Field(100, gt=0, le=1e7)
    complaints_per_service_staff: float = Field(8, gt=0, le=1e6)
    clients_per_sales_staff: int = Field(2, ge=1, le=100, description="key clients one sales head can cultivate")
    bids_per_sales_staff: int = Field(2, ge=1, le=100, description="tenders one sales head can bid per period")
    max_hire_per_period: int = Field(50, ge=0, le=100_000)
    credit_line: float = Field(200_000, ge=0, le=1e12)
    interest_rate: float = Field(0.01, ge=0, le=1, description="per period on debt")
    emergency_rate: float = Field(0.04, ge=0, le=1, description="per period on emergency loans")
    care_scale: float = Field(15, gt=0, le=1e6, description="care spend per customer that buys 63% of full care effect")
    advertising_scale: float = Field(40_000, gt=0, le=1e12, description="ad spend that buys 63% awareness of the unaware")
    awareness_decay: float = Field(0.3, ge=0, le=1)


class Market(_Frozen):
    """The mass market: population size, customer traits and the behavioural rules' parameters."""

    customers: int = Field(10_000, ge=10, le=50_000_000)
    initial_served_share: float = Field(0.6, ge=0, le=1, description="share of customers already with a firm at the start")
    price_cap: float = Field(200, gt=0, le=1e6, description="highest mass-market price a firm may set")
    reference_price: float = Field(100, gt=0, le=1e6)
    # latent traits (BG/BB-style heterogeneity)
    purchase_alpha: float = Field(0.25, gt=0, le=100, description="Beta alpha of per-period purchase propensity")
    purchase_beta: float = Field(1.25, gt=0, le=100)
    dropout_alpha: float = Field(2.0, gt=0, le=100, description="Beta alpha of per-period base dropout")
    dropout_beta: float = Field(70.0, gt=0, le=10_000)
    units_median: float = Field(10.8, gt=0, le=1e6, description="median units per purchase (lognormal); with the purchase Beta, about 3 units per customer-period")
    units_sigma: float = Field(1.0, ge=0, le=3)
    sensitivity_shape: float = Field(4.0, gt=0, le=1000, description="Gamma shape of price and quality sensitivity (mean 1)")
    switching_cost_mean: float = Field(0.3, gt=0, lt=1)
    switching_cost_concentration: float = Field(6.0, gt=0, le=1000)
    expectation_mean: float = Field(0.6, ge=0, le=1)
    expectation_sd: float = Field(0.08, ge=0, le=1)
    satisfaction_start: float = Field(7.0, ge=0, le=10, description="centre of starting cumulative satisfaction; a customer who moves restarts at exactly this")
    satisfaction_start_sd: float = Field(0.8, ge=0, le=10, description="s.d. of starting cumulative satisfaction")
    loyalty_start_sd: float = Field(0.1, ge=0, le=1, description="s.d. of starting loyalty (centred on loyalty_neutral)")
    reference_price_sd: float = Field(0.05, ge=0, le=2, description="s.d. of the log of starting reference prices (centred on reference_price)")
    tenure_start_min: int = Field(1, ge=0, le=1000, description="shortest starting tenure (periods) of a customer served at the start")
    tenure_start_max: int = Field(24, ge=0, le=1000, description="longest starting tenure (periods); tenures are drawn uniformly in [min, max]")
    new_customer_loyalty: float = Field(0.5, ge=0, le=1, description="loyalty of a customer who has just moved (joined a firm or left the market)")
    tier_a_share: float = Field(0.2, ge=0, le=1, description="share of customers in value tier A (highest expected spend)")
    tier_b_share: float = Field(0.3, ge=0, le=1, description="share of customers in value tier B (next); the rest are C")
    # satisfaction (Oliver 1980; Anderson & Sullivan 1993)
    perception_noise: float = Field(0.03, ge=0, le=1, description="s.d. of a customer's perception of delivered quality")
    satisfaction_neutral: float = Field(7.0, ge=0, le=10)
    quality_weight: float = Field(7.0, ge=0, le=100, description="satisfaction points per unit of perceived quality above expectation_mean (ACSI: quality acts directly, not only through disconfirmation)")
    disconfirmation_gain: float = Field(9.0, ge=0, le=100, description="satisfaction points per unit of quality surplus")
    loss_aversion: float = Field(2.5, ge=1, le=5, description="shortfalls weigh this many times more than surpluses")
    value_weight: float = Field(3.0, ge=0, le=100, description="satisfaction points per unit log(price/reference)")
    memory_min: float = Field(0.5, ge=0, lt=1, description="weight of past satisfaction for a new customer (Bolton 1998)")
    memory_max: float = Field(0.85, ge=0, lt=1, description="weight of past satisfaction for a long-tenured customer")
    memory_tenure: float = Field(12.0, gt=0, le=1000)
    expectation_speed: float = Field(0.2, ge=0, le=1)
    reputation_expectation: float = Field(0.5, ge=0, le=1, description="weight of the chosen firm's reputation in a newcomer's expectation")
    # complaints (TARP)
    dissatisfied_below: float = Field(5.0, ge=0, le=10)
    complaint_base: float = Field(0.04, ge=0, le=1)
    complaint_slope: float = Field(0.05, ge=0, le=1)
    complaint_max: float = Field(0.30, ge=0, le=1)
    # complaint outcomes (TARP ordering): satisfaction points added to CS, and the defection hazard's multiplier
    quick_resolution_satisfaction: float = Field(1.0, ge=-10, le=10, description="CS points after a complaint resolved quickly")
    resolution_satisfaction: float = Field(0.3, ge=-10, le=10, description="CS points after a complaint resolved")
    unresolved_satisfaction: float = Field(-0.3, ge=-10, le=10, description="CS points after a complaint left unresolved")
    silent_satisfaction: float = Field(0.0, ge=-10, le=10, description="CS points of a dissatisfied customer who does not complain")
    quick_resolution_hazard: float = Field(0.35, ge=0, le=20, description="defection hazard multiplier this period after a complaint resolved quickly")
    resolution_hazard: float = Field(0.65, ge=0, le=20, description="defection hazard multiplier after a complaint resolved")
    unresolved_hazard: float = Field(0.9, ge=0, le=20, description="defection hazard multiplier after a complaint left unresolved")
    silent_hazard: float = Field(2.2, ge=0, le=20, description="defection hazard multiplier of a dissatisfied customer who does not complain")
    # defection (Jones & Sasser 1995)
    satisfaction_hazard: float = Field(0.0, ge=0, le=10, description="log-hazard drop per satisfaction point in the zone of indifference (Jones & Sasser: flat)")
    defection_below: float = Field(6.0, ge=0, le=10, description="satisfaction below which the zone of defection begins (Jones & Sasser 1995)")
    defection_zone_hazard: float = Field(0.8, ge=0, le=20, description="extra log-hazard rise per satisfaction point inside the zone of defection")
    affection_from: float = Field(8.5, ge=0, le=10, description="satisfaction above which the zone of affection begins (Jones & Sasser 1995)")
    affection_hazard: float = Field(6.0, ge=0, le=50, description="log-hazard drop per squared satisfaction point above affection_from")
    loyalty_hazard: float = Field(0.3, ge=0, le=20, description="log-hazard drop per unit of loyalty above loyalty_neutral")
    loyalty_neutral: float = Field(0.7, ge=0, le=1)
    switching_hazard: float = Field(2.0, ge=0, le=20)
    care_hazard: float = Field(0.5, ge=0, le=5)
    max_hazard: float = Field(0.95, gt=0, le=1)
    # choice (multinomial logit)
    choice_quality: float = Field(4.0, ge=0, le=100)
    choice_price: float = Field(2.5, ge=0, le=100, description="minus the log-price coefficient")
    choice_wom: float = Field(2.0, ge=0, le=100)
    choice_awareness: float = Field(1.5, ge=0, le=100)
    outside_utility: float = Field(1.0, ge=-100, le=100, description="utility of leaving the market for a defector")
    # adoption (Bass 1969), per period
    bass_p: float = Field(0.003, ge=0, le=1)
    bass_q: float = Field(0.04, ge=0, le=1)
    advertising_adoption: float = Field(0.03, ge=0, le=1, description="extra adoption hazard at full awareness")
    # purchase response to price (Kalyanaram & Winer 1995)
    price_gain_elasticity: float = Field(1.8, ge=0, le=20, description="purchase response to a price below the reference")
    price_loss_elasticity: float = Field(4.5, ge=0, le=20, description="purchase response to a price above the reference")
    reference_smoothing: float = Field(0.8, ge=0, le=1)
    external_reference: float = Field(0.5, ge=0, le=1, description="weight of the market's mean price (vs the price paid) in reference prices")
    loyalty_smoothing: float = Field(0.8, ge=0, le=1)
    # word of mouth (Anderson 1998)
    promoter_from: float = Field(9.0, ge=0, le=10)
    detractor_below: float = Field(6.0, ge=0, le=10)
    promoter_contacts: float = Field(2.0, ge=0, le=100)
    detractor_contacts: float = Field(4.0, ge=0, le=100)
    wom_expectation: float = Field(0.0, ge=0, le=1, description="expectation shift per unit of the supplier's net word of mouth (0: customers' expectations follow their own experience; word of mouth acts on choice)")
    # capacity (queueing)
    utilisation_knee: float = Field(0.8, gt=0, le=1)
    overload_slope: float = Field(2.5, ge=0, le=100)
    min_quality_factor: float = Field(0.1, ge=0, le=1, description="floor of the capacity effect: the least share of its service level an overloaded firm delivers")
    reputation_smoothing: float = Field(0.8, ge=0, le=1)
    scandal_reputation_loss: float = Field(0.3, ge=0, le=1, description="share of a firm's reputation a scandal takes in its first period")
    # customer lifetime value
    discount_rate: float = Field(0.01, ge=0, le=1, description="per period, for customer equity")
    track_customers: int = Field(20_000, ge=0, le=50_000_000, description="customers whose history is recorded (first n)")

    @model_validator(mode="after")
    def _memory_order(self) -> Market:
        if self.memory_max < self.memory_min:
            raise ValueError(f"memory_max must be >= memory_min={self.memory_min}; got {self.memory_max}")
        return self

    @model_validator(mode="after")
    def _start_ranges(self) -> Market:
        if self.tenure_start_max < self.tenure_start_min:
            raise ValueError(f"tenure_start_max must be >= tenure_start_min={self.tenure_start_min}; got {self.tenure_start_max}")
        if self.tier_a_share + self.tier_b_share > 1:
            raise ValueError(f"tier_a_share + tier_b_share must be <= 1; got {self.tier_a_share + self.tier_b_share:g}")
        return self

    @model_validator(mode="after")
    def _zones_order(self) -> Market:
        # the zones of defection and affection must leave neutral satisfaction at the base dropout rate
        if not self.defection_below <= self.satisfaction_neutral <= self.affection_from:
            raise ValueError(
                f"defection_below <= satisfaction_neutral <= affection_from must hold; got "
                f"{self.defection_below:g}, {self.satisfaction_neutral:g}, {self.affection_from:g}"
            )
        return self


class Weights(_Frozen):
    price: float = Field(0.4, ge=0.1, le=1, description="Chinese procurement: >= 0.1 for services")
    service: float = Field(0.3, ge=0, le=1)
    relationship: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Weights:
        total = self.price + self.service + self.relationship
        if abs(total - 1) > 1e-9:
            raise ValueError(f"weights must sum to 1; got {total:g}")
        return self


class Client(_Frozen):
    """A named key client that issues tenders (标书)."""

    id: ClientId = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)
    name: Text
    volume: float = Field(gt=0, le=1e9, description="units per tender")
    volume_spread: float = Field(0.2, ge=0, lt=1, description="+- share of random variation of volume")
    price_cap: float = Field(gt=0, le=1e6, description="最高投标限价 per unit")
    required_service: float = Field(0.5, ge=0, le=1)
    closed: bool = Field(False, description="invited tender: only firms with R >= min_relationship")
    min_relationship: float = Field(0.0, ge=0, le=1)
    every: int = Field(2, ge=1, le=100, description="a tender every n periods")
    first_period: int = Field(1, ge=1, le=1000)
    weights: Weights = Weights()
    load_per_unit: float = Field(0.02, ge=0, le=100, description="service capacity (customer-equivalents) per unit delivered")
    min_valid_bids: int | None = Field(None, ge=1, le=100, description="fewer valid bids and this client's tender fails (流标); default tenders.min_valid_bids")
    award: AwardType = Field("scoring", description="scoring: comprehensive scoring (综合评分法); lowest_price: the lowest valid price wins (最低价中标)")
    min_stage: Stage | None = Field(None, description="lifecycle cultivation: the stage an invited tender needs; default cultivation.invited_min_stage")


class Tenders(_Frozen):
    min_valid_bids: int = Field(3, ge=1, le=100, description="fewer valid bids and the tender fails (流标)")
    abnormally_low_ratio: float = Field(0.8, ge=0, le=1)
    bond_rate: float = Field(0.02, ge=0, le=1, description="bid bond as a share of bid value")
    penalty_rate: float = Field(0.2, ge=0, le=10, description="penalty per undelivered or under-served share of contract value")
    service_cost_per_unit: float = Field(10, ge=0, le=1e6, description="delivery service cost per unit at promised service 1")
    relationship_decay: float = Field(0.05, ge=0, le=1)
    cultivation_scale: float = Field(20_000, gt=0, le=1e12, description="spend that buys 63% of the open relationship gap")
    attention_rivalry: float = Field(0.8, ge=0, le=1, description="how much a rival's hold on a client blunts a newcomer's spend")
    delivery_gain: float = Field(0.08, ge=0, le=1)
    delivery_loss: float = Field(0.25, ge=0, le=1)
    client_satisfaction_weight: float = Field(0.3, ge=0, le=1, description="weight of a delivery's outcome (x 10) in the client's satisfaction; the old satisfaction keeps the rest")
    default_relationship_factor: float = Field(0.5, ge=0, le=1, description="R with a client is multiplied by this when the firm defaults on its contract (bankruptcy)")
    reissue_limit: int = Field(2, ge=0, le=100, description="times a failed tender is re-issued")
    reissue_policy: ReissuePolicy = Field("replace_schedule", description="replace_schedule (v1): a re-issue takes the place of the client's scheduled tender that period; fill_gaps: a scheduled tender supersedes a pending re-issue, so re-issues never starve the schedule")


class MetricScale(_Frozen):
    """How one scorecard metric becomes points (method "reference"): 50 at the reference, +-50 at one span away.

    points = clip(50 + 50 x (value - reference) / span, 0, 100). The reference is the firm's starting
    position ("start"), the mean of the live firms this period ("market") or a fixed number ("fixed": `value`).
    The span is `span`, or `span` x |reference| when `relative` (e.g. customer equity, whose size depends on
    the market).
    """

    reference: ScoreReference = "market"
    value: float = Field(0.0, ge=-1e12, le=1e12, description="the reference for reference = fixed")
    span: float = Field(gt=0, le=1e12, description="distance from the reference worth 50 points")
    relative: bool = Field(False, description="span is a share of |reference| (at least span x 1e-9)")


def _over_defaults(value: object, defaults: dict[str, BaseModel]) -> object:
    """A table of named entries given in part (a file or --param sets one key of one entry): each entry's
    keys are laid over the default entry of that name, and entries not named keep their defaults."""
    if not isinstance(value, dict):
        return value
    out: dict[str, object] = {k: v.model_dump() for k, v in defaults.items()}
    for key, entry in value.items():
        if isinstance(entry, BaseModel):
            entry = entry.model_dump()
        if isinstance(entry, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **entry}
        else:
            out[key] = entry
    return out


def _default_metric_scales() -> dict[str, MetricScale]:
    return {
        "equity": MetricScale(reference="start", span=300_000),
        "cum_operating_profit": MetricScale(reference="market", span=150_000),
        "avg_satisfaction": MetricScale(reference="fixed", value=7.0, span=3.0),
        "retention_rate": MetricScale(reference="market", span=0.05),
        "market_share_customers": MetricScale(reference="market", span=1.0, relative=True),
        "relationship_mean": MetricScale(reference="fixed", value=0.2, span=0.4),
        "customer_equity": MetricScale(reference="market", span=1.0, relative=True),
    }


#: the metrics that can take reference = "start" (the others have no value before period 1)
START_METRICS = ("equity", "cum_operating_profit", "avg_satisfaction", "market_share_customers", "relationship_mean")


class Scoring(_Frozen):
    """Balanced scorecard: component weights (must sum to 1) and how each metric becomes points.

    method = "minmax" (v1) scales each metric from the worst live firm (0) to the best (100);
    method = "reference" scales it against a reference the scenario fixes (see :class:`MetricScale`), so
    the worst live firm does not score 0 by construction and a student can recompute every point.
    """

    financial: float = Field(0.40, ge=0, le=1)
    customer: float = Field(0.30, ge=0, le=1)
    relationship: float = Field(0.15, ge=0, le=1)
    growth: float = Field(0.15, ge=0, le=1)
    method: Literal["minmax", "reference"] = Field("minmax", description="minmax (v1) or reference (scaled against the metrics' references)")
    metrics: dict[str, MetricScale] = Field(default_factory=_default_metric_scales, description="method = reference: the scale of each metric")

    @model_validator(mode="after")
    def _sum_to_one(self) -> Scoring:
        total = self.financial + self.customer + self.relationship + self.growth
        if abs(total - 1) > 1e-9:
            raise ValueError(f"scorecard weights must sum to 1; got {total:g}")
        return self

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics_over_defaults(cls, value: object) -> object:
        return _over_defaults(value, _default_metric_scales())

    @model_validator(mode="after")
    def _metrics_known(self) -> Scoring:
        unknown = sorted(set(self.metrics) - set(_default_metric_scales()))
        if unknown:
            raise ValueError(f"metrics: unknown metric {unknown}; metrics: {', '.join(_default_metric_scales())}")
        for name, m in self.metrics.items():
            if m.reference == "start" and name not in START_METRICS:
                raise ValueError(f"metrics.{name}.reference: 'start' is only for {', '.join(START_METRICS)} (no value before period 1)")
        return self


class Activity(_Frozen):
    """One sales activity with a key client: what it costs, the sales hours (工时) it uses, and the progress
    it buys toward the next lifecycle stage at the stages where it counts."""

    cost: float = Field(ge=0, le=1e9, description="¥ per activity")
    hours: float = Field(ge=0, le=1e4, description="sales-staff hours per activity")
    progress: float = Field(ge=0, le=1, description="progress toward the next stage (1 = a whole stage)")
    stages: tuple[Stage, ...] = Field(min_length=1, description="the stages at which the activity counts")


def _default_activities() -> dict[str, Activity]:
    return {
        "investigate": Activity(cost=2_000, hours=8, progress=1.0, stages=("potential",)),
        "call": Activity(cost=500, hours=6, progress=0.5, stages=("target",)),
        "visit": Activity(cost=4_000, hours=16, progress=0.5, stages=("evaluation", "formation")),
        "demo": Activity(cost=8_000, hours=24, progress=0.75, stages=("evaluation", "formation")),
        "maintain": Activity(cost=3_000, hours=10, progress=0.35, stages=("formation", "stable")),
    }


class Cultivation(_Frozen):
    """How firms cultivate key clients (顾客培养).

    mode = "spend" (v1): a ¥ budget per client buys relationship with diminishing returns
    (tenders.cultivation_scale, attention_rivalry). mode = "lifecycle": each firm-client relationship sits
    in a stage (潜在期 potential, 目标期 target, 考察期 evaluation, 形成期 formation, 稳定期 stable); sales
    activities cost money and sales hours and advance it one stage at a time; an unmaintained stage slips
    back; a rival's stable client resists newcomers; the relationship score in tenders follows from the
    stage, the progress toward the next and how recently the firm was in touch.
    """

    mode: Literal["spend", "lifecycle"] = "spend"
    hours_per_sales_staff: float = Field(80, gt=0, le=1e4, description="sales hours (工时) one sales head has per period")
    activities: dict[ActivityName, Activity] = Field(default_factory=_default_activities)
    stage_relationship: tuple[float, float, float, float, float] = Field(
        (0.05, 0.2, 0.4, 0.6, 0.85), description="relationship score at the start of each stage (potential..stable)"
    )
    idle_relationship_loss: float = Field(0.1, ge=0, le=1, description="share of the relationship score lost per period without contact")
    slip_after: int = Field(2, ge=1, le=100, description="periods without contact before the stage slips back one step")
    rival_stable_resistance: float = Field(0.35, ge=0, le=1, description="progress multiplier when a rival holds the client in its stable stage")
    rival_formation_resistance: float = Field(0.7, ge=0, le=1, description="progress multiplier when a rival holds the client in its formation stage")
    delivery_progress: float = Field(0.25, ge=0, le=1, description="progress from a full, on-promise contract delivery (it also counts as contact)")
    delivery_shortfall_below: float = Field(0.9, ge=0, le=1, description="a delivery whose outcome is below this slips the stage back one step")
    invited_min_stage: Stage = Field("evaluation", description="the stage an invited tender needs (unless the client sets min_stage)")
    bankrupt_relationships_end: bool = Field(False, description="a bankrupt firm's relationships (and holds on clients) end with it")

    @functools.cached_property
    def activity_hours(self) -> dict[str, float]:
        """Sales hours each activity takes (worked out once: a Cultivation is frozen)."""
        return {a: spec.hours for a, spec in self.activities.items()}

    @functools.cached_property
    def activity_stages(self) -> dict[str, tuple[str, ...]]:
        """The stages at which each activity counts."""
        return {a: tuple(spec.stages) for a, spec in self.activities.items()}

    @field_validator("activities", mode="before")
    @classmethod
    def _activities_over_defaults(cls, value: object) -> object:
        return _over_defaults(value, _default_activities())

    @model_validator(mode="after")
    def _stages_rise(self) -> Cultivation:
        r = self.stage_relationship
        if any(b < a for a, b in zip(r, r[1:])) or not all(0 <= x <= 1 for x in r):
            raise ValueError(f"stage_relationship must rise from stage to stage within [0, 1]; got {list(r)}")
        return self


class Research(_Frozen):
    """Market research (市场调研) a firm may buy each period; only the buyer sees the results."""

    offered: bool = Field(False, description="whether firms may buy research in this scenario")
    rivals_fee: float = Field(3_000, ge=0, le=1e9, description="¥ per client: rivals' relationship band with it (weak / medium / strong)")
    survey_fee: float = Field(1_000, ge=0, le=1e9, description="¥ per survey of the firm's own customers (plus per response)")
    survey_fee_per_response: float = Field(10, ge=0, le=1e6, description="¥ per customer surveyed")
    survey_max: int = Field(2_000, ge=10, le=1_000_000, description="largest survey sample")
    forecast_fee: float = Field(2_000, ge=0, le=1e9, description="¥ for the tender forecast")
    forecast_horizon: int = Field(3, ge=1, le=24, description="periods ahead the tender forecast covers")
    medium_from: float = Field(0.3, ge=0, le=1, description="spend mode: relationship from which a rival's band is medium")
    strong_from: float = Field(0.6, ge=0, le=1, description="spend mode: relationship from which a rival's band is strong")


class Crm(_Frozen):
    """The CRM tools of the course made playable: churn early warning (流失预警), retention budget, ABC tiers."""

    churn_threshold: float = Field(0.1, gt=0, le=1, description="a customer is at risk when its defection hazard is above this")
    retention_offered: bool = Field(False, description="firms may spend a retention budget on their at-risk customers")
    retention_scale: float = Field(40, gt=0, le=1e6, description="¥ per at-risk customer that buys 63% of the full retention effect")
    retention_effect: float = Field(0.5, ge=0, le=1, description="share of an at-risk customer's defection hazard removed at full retention effort")
    tier_care: bool = Field(False, description="firms may split the care budget by ABC tier")
    tiers_follow_spend: bool = Field(False, description="customers move between A, B and C as their recent spend changes")
    tier_memory: float = Field(0.7, ge=0, lt=1, description="weight of past spend in a customer's recent spend (tiers_follow_spend)")


EventKind = Literal["recession", "boom", "scandal", "cost_shock", "new_entrant"]


class Event(_Frozen):
    """A scheduled shock, announced when its period opens.

    recession/boom: purchase propensity x magnitude; scandal: the firm's
    customers' transaction satisfaction loses `magnitude` points that period
    (cumulative satisfaction falls by its memory-weighted share) and the
    firm's reputation drops by market.scandal_reputation_loss (30%);
    cost_shock: every firm's unit cost x magnitude (permanent);
    new_entrant: an off-stage rival adds `magnitude` to the outside option.
    """

    period: int = Field(ge=1, le=1000)
    kind: EventKind
    magnitude: float = Field(ge=0, le=100)
    duration: int = Field(1, ge=1, le=1000)
    firm: int | None = Field(None, ge=0, le=15, description="scandal: index of the firm hit")
    news: Text | None = None
    announce_before: int = Field(0, ge=0, le=24, description="periods ahead the news is published (0: when the event starts)")


class Scenario(_Frozen):
    """A whole game: rules' parameters, starting state, key clients, events."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*-v[0-9]+$", description="versioned, e.g. classroom-v1")
    title: Text
    description: Text | None = None
    periods: int = Field(12, ge=1, le=240)
    firms: FirmSetup = FirmSetup()
    costs: Costs = Costs()
    market: Market = Market()
    clients: tuple[Client, ...] = Field(min_length=0, max_length=40)
    tenders: Tenders = Tenders()
    scoring: Scoring = Scoring()
    cultivation: Cultivation = Cultivation()
    research: Research = Research()
    crm: Crm = Crm()
    events: tuple[Event, ...] = ()

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        ids = [c.id for c in self.clients]
        if len(set(ids)) != len(ids):
            raise ValueError(f"client ids must be unique; got {ids}")
        problems = []
        for i, e in enumerate(self.events):
            if e.kind == "scandal" and (e.firm is None or e.firm >= self.firms.count):
                problems.append(f"events.{i}.firm must name a firm index in [0, {self.firms.count - 1}] for a scandal; got {e.firm}")
            if e.period > self.periods:
                problems.append(f"events.{i}.period must be <= periods={self.periods}; got {e.period}")
            if e.kind in ("cost_shock", "recession", "boom") and e.magnitude <= 0:
                problems.append(f"events.{i}.magnitude must be > 0 for a {e.kind}; got {e.magnitude:g}")
        for i, c in enumerate(self.clients):
            if c.first_period > self.periods:
                problems.append(f"clients.{i}.first_period must be <= periods={self.periods}; got {c.first_period}")
        for i, c in enumerate(self.clients):
            if c.min_valid_bids is not None and c.min_valid_bids > self.firms.count:
                problems.append(f"clients.{i}.min_valid_bids must be <= firms.count={self.firms.count} (else every tender fails); got {c.min_valid_bids}")
        if self.research.medium_from > self.research.strong_from:
            problems.append(f"research.medium_from must be <= research.strong_from={self.research.strong_from:g}; got {self.research.medium_from:g}")
        if self.tenders.min_valid_bids > self.firms.count:
            problems.append(
                f"tenders.min_valid_bids must be <= firms.count={self.firms.count} (else every tender fails); got {self.tenders.min_valid_bids}"
            )
        if self.market.price_cap < self.firms.price:
            problems.append(f"firms.price must be <= market.price_cap={self.market.price_cap:g}; got {self.firms.price:g}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def client(self, client_id: ClientId) -> Client:
        for c in self.clients:
            if c.id == client_id:
                return c
        raise KeyError(client_id)

    @functools.cached_property
    def client_ids(self) -> tuple[ClientId, ...]:
        """The clients' ids in the scenario's client order (worked out once: a Scenario is frozen)."""
        return tuple(c.id for c in self.clients)
