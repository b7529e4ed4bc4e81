"""Tenders (标书): publishing, void bids (废标), failed tenders (流标), scoring, awards, delivery.

Award by comprehensive scoring (综合评分法, 财政部令第87号 art. 55):
price score = w_price x 100 x lowest valid price / bid price, service score =
w_service x 100 x promised service, relationship score = w_rel x 100 x R.
The highest total wins; a tie goes to the lower price, then to the rng.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from crmsim.scenarios.schema import STAGES, Client, Scenario
from crmsim.sim import libm
from crmsim.sim.decisions import Bid
from crmsim.sim.state import Contract, FirmIndex, Tender, TenderId

# void reasons, in the order they are checked (the first that applies is reported)
BANKRUPT = "BANKRUPT"
LATE = "LATE"
MALFORMED = "MALFORMED"
UNQUALIFIED = "UNQUALIFIED"
ABOVE_CAP = "ABOVE_CAP"
BELOW_COST = "BELOW_COST"
NO_CAPACITY = "NO_CAPACITY"
NO_BOND = "NO_BOND"
ABNORMALLY_LOW = "ABNORMALLY_LOW"
VOID_REASONS = (BANKRUPT, LATE, MALFORMED, UNQUALIFIED, ABOVE_CAP, BELOW_COST, NO_CAPACITY, NO_BOND, ABNORMALLY_LOW)
TIE_TOLERANCE = 1e-9
CLIENT_SATISFACTION_MAX = 10.0  # client satisfaction is on a 0-10 scale


@dataclass(frozen=True)
class Bidder:
    """What the tender office knows about a bidding firm when it opens the bids."""

    firm: FirmIndex
    bankrupt: bool
    late: bool
    unit_cost: float
    capacity: float  # customer-equivalents its service staff can serve
    load: float  # current load: customers plus contracts due
    cash: float  # available for bid bonds


@dataclass
class BidRecord:
    """One bid as published after the award."""

    tender: TenderId
    client: str
    firm: FirmIndex
    price: float
    promised_service: float
    valid: bool = True
    void_reason: str | None = None
    void_detail: str = ""
    price_score: float = 0.0
    service_score: float = 0.0
    relationship_score: float = 0.0
    total: float = 0.0
    rank: int | None = None
    won: bool = False
    points_behind: float = 0.0  # winner's total minus this bid's (0 for the winner)


@dataclass
class TenderOutcome:
    tender: Tender
    bids: list[BidRecord] = field(default_factory=list)
    winner: FirmIndex | None = None
    failed: bool = False
    margin_points: float | None = None  # winner's lead over the runner-up
    max_winning_price: float | None = None  # highest price at which the winner still wins
    tie_break: str | None = None


def tender_id(client: str, period: int, reissue: int = 0) -> TenderId:
    return f"{client}-{period:02d}" + (f"r{reissue}" if reissue else "")


def make_tender(client: Client, scenario: Scenario, period: int, rng: np.random.Generator, reissue_of: Tender | None = None) -> Tender:
    """A client's tender for `period`; a re-issue keeps the failed tender's terms."""
    if reissue_of is not None:
        n = reissue_of.reissue + 1
        return Tender(**{**reissue_of.__dict__, "id": tender_id(reissue_of.client, reissue_of.issued, n), "period": period, "reissue": n})
    volume = client.volume * (1 + client.volume_spread * (2 * rng.random() - 1))
    return Tender(
        id=tender_id(client.id, period),
        client=client.id,
        period=period,
        issued=period,
        volume=round(volume),
        price_cap=client.price_cap,
        required_service=client.required_service,
        closed=client.closed,
        min_relationship=client.min_relationship,
        w_price=client.weights.price,
        w_service=client.weights.service,
        w_relationship=client.weights.relationship,
        min_valid_bids=client.min_valid_bids or scenario.tenders.min_valid_bids,
        load_per_unit=client.load_per_unit,
        award=client.award,
        min_stage=invited_stage(client, scenario),
    )


def invited_stage(client: Client, scenario: Scenario) -> int | None:
    """The lifecycle stage an invited tender of `client` needs (None: not invited, or cultivation by spend)."""
    if not client.closed or scenario.cultivation.mode != "lifecycle":
        return None
    return STAGES.index(client.min_stage or scenario.cultivation.invited_min_stage)


def scheduled_clients(scenario: Scenario, period: int) -> list[Client]:
    """Clients whose schedule issues a tender in `period`."""
    return [c for c in scenario.clients if period >= c.first_period and (period - c.first_period) % c.every == 0]


def is_number(x: object) -> bool:
    """A real number that fits a float (bools are not numbers here)."""
    if type(x) is float:  # the common case, answered without the numbers ABC
        return True
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        return False
    try:
        float(x)
    except OverflowError:
        return False
    return True


def unit_delivery_cost(unit_cost: float, promised_service: float, service_cost_per_unit: float) -> float:
    """The firm's own cost of delivering one unit at the promised service."""
    return unit_cost + service_cost_per_unit * promised_service


def contract_load(tender: Tender) -> float:
    """Service capacity (customer-equivalents) a tender's contract takes when delivered: volume x ``load_per_unit``."""
    return tender.volume * tender.load_per_unit


def relationship_shown(relationship_score: float, w_relationship: float) -> float:
    """The relationship R a published bid's relationship score shows (score = w_relationship x 100 x R, section 6.5)."""
    return relationship_score / (100.0 * w_relationship)


def bid_bond(bond_rate: float, price: float, volume: float) -> float:
    """The bid bond (投标保证金) a bid pledges: ``tenders.bond_rate`` x price x volume."""
    return bond_rate * price * volume


def is_invited(tender: Tender, relationship: float, stage: int | None = None) -> bool:
    """Whether a firm may bid: any firm on an open tender; on an invited (closed) one only a firm whose
    lifecycle stage with the client has reached the tender's ``min_stage`` (lifecycle cultivation) or,
    cultivating by spend, whose R is at least the tender's ``min_relationship``."""
    if not tender.closed:
        return True
    if tender.min_stage is not None:
        return stage is not None and stage >= tender.min_stage
    return relationship >= tender.min_relationship


def below_required_service(tender: Tender, promised_service: float) -> bool:
    """Whether a promised service falls short of the tender's ``required_service`` (void UNQUALIFIED)."""
    return promised_service < tender.required_service


def unqualified(tender: Tender, promised_service: float, relationship: float, stage: int | None = None) -> str | None:
    """Why a bid does not qualify (void UNQUALIFIED), or None: the promised service is below the tender's
    requirement, or the tender is invited and the firm has not reached its stage (or relationship)."""
    if below_required_service(tender, promised_service):
        return f"promised service {promised_service:.2f} < required {tender.required_service:.2f}"
    if not is_invited(tender, relationship, stage):
        if tender.min_stage is not None:
            have = STAGES[stage] if stage is not None else "none"
            return f"invited tender: stage {have} < {STAGES[tender.min_stage]}"
        return f"invited tender: relationship {relationship:.2f} < {tender.min_relationship:.2f}"
    return None


def void_reason(*args: Any, **kwargs: Any) -> tuple[str | None, str]:
    """The first void reason that applies to a bid (before the abnormally-low check), with a detail, or (None, "");
    the arguments are :func:`void_checks`'s."""
    return next(void_checks(*args, **kwargs), (None, ""))


def void_checks(
    tender: Tender,
    bid: Bid,
    bidder: Bidder,
    relationship: float,
    current_period: int,
    service_cost_per_unit: float,
    stage: int | None = None,
) -> Iterator[tuple[str, str]]:
    """Checks 1-7 of one bid (docs/rules.md section 6.4), in order: each void reason that applies, with a detail;
    the first is the tender office's (:func:`void_reason`). After a bankrupt, late or malformed bid nothing else is
    checked."""
    if bidder.bankrupt:
        yield BANKRUPT, "the firm is bankrupt"
        return
    if bidder.late:
        yield LATE, "the decision arrived after the deadline"
        return
    if tender.period < current_period:
        yield LATE, f"tender closed in period {tender.period}"
        return
    if not (is_number(bid.price) and math.isfinite(bid.price) and bid.price > 0):
        yield MALFORMED, f"price must be a positive number, got {bid.price!r}"
        return
    if not (is_number(bid.promised_service) and 0 <= bid.promised_service <= 1):
        yield MALFORMED, f"promised_service must be in [0, 1], got {bid.promised_service!r}"
        return
    not_qualified = unqualified(tender, bid.promised_service, relationship, stage)
    if not_qualified:
        yield UNQUALIFIED, not_qualified
    if bid.price > tender.price_cap:
        yield ABOVE_CAP, f"price {bid.price:.2f} > cap {tender.price_cap:.2f}"
    cost = unit_delivery_cost(bidder.unit_cost, bid.promised_service, service_cost_per_unit)
    if bid.price < cost:
        yield BELOW_COST, f"price {bid.price:.2f} < own unit cost {cost:.2f}"
    need = contract_load(tender)
    if bidder.load + need > bidder.capacity:
        yield NO_CAPACITY, f"load {bidder.load:.0f} + {need:.0f} > capacity {bidder.capacity:.0f}"


def price_points(w_price: float, lowest: float, price: float) -> float:
    """A valid bid's price score: w_price x 100 x the lowest valid price / the bid's price."""
    return w_price * 100.0 * lowest / price


def service_points(w_service: float, promised_service: float) -> float:
    """A valid bid's service score: w_service x 100 x the promised service."""
    return w_service * 100.0 * promised_service


def relationship_points(w_relationship: float, relationship: float) -> float:
    """A valid bid's relationship score: w_relationship x 100 x R."""
    return w_relationship * 100.0 * relationship


def score_bids(records: Sequence[BidRecord], weights: tuple[float, float, float], relationship: Mapping[FirmIndex, float]) -> None:
    """Fill each valid record's score breakdown (in place)."""
    valid = [r for r in records if r.valid]
    if not valid:
        return
    low = min(r.price for r in valid)
    w_p, w_s, w_r = weights
    for r in valid:
        r.price_score = price_points(w_p, low, r.price)
        r.service_score = service_points(w_s, r.promised_service)
        r.relationship_score = relationship_points(w_r, relationship[r.firm])
        r.total = r.price_score + r.service_score + r.relationship_score


_total = attrgetter("total")


def rank_bids(valid: Sequence[BidRecord], rng: np.random.Generator) -> tuple[list[BidRecord], str | None]:
    """Order valid bids: highest total; totals within TIE_TOLERANCE of each other tie, and a tie
    goes to the lower price, then to a draw of the rng."""
    draws = rng.random(len(valid)).tolist()
    by_total = sorted(valid, key=_total, reverse=True)
    if all(a.total - b.total > TIE_TOLERANCE for a, b in zip(by_total, by_total[1:])):
        return by_total, None  # no two totals tie: the order by total is the ranking the groups below give
    remaining = list(range(len(valid)))
    ranked: list[BidRecord] = []
    tie = None
    while remaining:
        best = max(valid[i].total for i in remaining)
        group = [i for i in remaining if best - valid[i].total <= TIE_TOLERANCE]
        group.sort(key=lambda i: (valid[i].price, draws[i]))
        if not ranked and len(group) > 1:
            tie = "price" if valid[group[0]].price < valid[group[1]].price else "lot"
        ranked.extend(valid[i] for i in group)
        remaining = [i for i in remaining if i not in group]
    return ranked, tie


def abnormally_low_above(price: float, ratio: float) -> float:
    """The mean of the other valid bids' prices above which a bid at `price` is abnormally low: the
    threshold of :func:`abnormally_low` (`ratio` x that mean) exceeds the price exactly when the mean
    exceeds price / ratio (infinite for ratio 0: never abnormally low)."""
    return price / ratio if ratio > 0 else math.inf


def abnormally_low_threshold(ratio: float, prices_total: float, price: float, n_valid: int) -> float:
    """The price below which a valid bid is abnormally low: `ratio` x the mean of the other valid bids' prices
    (`prices_total` sums every valid bid's price, this one's included)."""
    return ratio * (prices_total - price) / (n_valid - 1)


def abnormally_low(records: Sequence[BidRecord], ratio: float) -> list[tuple[BidRecord, float]]:
    """Valid bids priced below `ratio` x the mean of the other valid bids, with that threshold."""
    valid = [r for r in records if r.valid]
    if len(valid) < 2:
        return []
    total = sum(r.price for r in valid)
    out = []
    for r in valid:
        threshold = abnormally_low_threshold(ratio, total, r.price, len(valid))
        if r.price < threshold:
            out.append((r, threshold))
    return out


def outscores(total: float, price: float, rival_total: float, rival_price: float) -> bool:
    """Whether a bid beats a rival outright: a higher total by more than TIE_TOLERANCE, or a tied total at a lower price."""
    return total - rival_total > TIE_TOLERANCE or (abs(total - rival_total) <= TIE_TOLERANCE and price < rival_price)


def max_winning_price(
    winner: BidRecord,
    others: Sequence[BidRecord],
    weights: tuple[float, float, float],
    relationship: Mapping[FirmIndex, float],
    cap: float,
    ratio: float = 0.0,
    min_valid: int = 1,
) -> float:
    """Highest price (up to the cap) at which the winner would still have won, other bids unchanged.

    The trial re-applies the abnormally-low rule and the minimum number of valid
    bids, so a higher price that voids a rival and fails the tender does not count.
    """

    # the trial game at price p, in plain numbers: the rules above (abnormally_low_threshold, price_points,
    # outscores) written out on every bid valid before check 9, in the same floating-point operations (calling
    # them costs twice the time of the 50 trials; tests/sim/test_tenders.py checks the two agree bit for bit)
    rival_prices = [o.price for o in others]
    w_p, w_s, w_r = weights
    points = w_p * 100.0  # price_points: w_price x 100 x lowest / price
    fixed = [service_points(w_s, b.promised_service) for b in (winner, *others)]
    ties = [relationship_points(w_r, relationship[b.firm]) for b in (winner, *others)]
    mine_fixed, mine_ties = fixed[0], ties[0]
    rivals = list(zip(rival_prices, fixed[1:], ties[1:]))
    others_n = len(rival_prices)
    rivals_needed = min_valid - 1  # valid rivals the tender needs besides the winner

    def wins(p: float) -> bool:
        valid = []
        low = p
        if others_n:
            total = sum(rival_prices, p)
            if p < ratio * (total - p) / others_n:  # the winner abnormally low
                return False
            for rival in rivals:  # the rivals not abnormally low, and the lowest valid price
                x = rival[0]
                if not x < ratio * (total - x) / others_n:
                    valid.append(rival)
                    if x < low:
                        low = x
        if len(valid) < rivals_needed:
            return False
        mine = points * low / p + mine_fixed + mine_ties
        for x, f, t in valid:  # the winner must outscore every valid rival
            lead = mine - (points * low / x + f + t)
            if not (lead > TIE_TOLERANCE or (abs(lead) <= TIE_TOLERANCE and p < x)):
                return False
        return True

    # The steady case, the common one: a rival's abnormally-low line only rises with the trial price (the others'
    # mean rises with it, and every operation above rounds monotonically), so a rival valid in the trial at the cap
    # is valid below it, and one void at the winner's price is void above it. When that places every rival, and the
    # winner's price clears its own line by far more than any rounding, every trial has the same valid rivals: the
    # trial needs only the scores, in the same operations, and a rival's total is the same in each trial where the
    # lowest price is a rival's (tests/sim/test_tenders.py checks both trials against the rules).
    price = winner.price
    if (others_n and ratio >= 0 and min(rival_prices) > 0 and price <= cap < 1e300
            and price > clear_of_abnormally_low(ratio, rival_prices, cap)):
        steady = valid_rivals(rival_prices, cap, ratio)
        if steady == valid_rivals(rival_prices, price, ratio):
            kept = [rivals[j] for j in steady]
            low_rival = min((x for x, _, _ in kept), default=math.inf)
            at_low_rival = [(x, points * low_rival / x + f + t) for x, f, t in kept]
            # the strongest of those totals: a winner ahead of it by more than a tie is ahead of each (subtraction
            # rounds monotonically); none with a NaN among them
            top = max((total for _, total in at_low_rival), default=-math.inf)
            if any(total != total for _, total in at_low_rival):
                top = math.inf

            short = len(kept) < rivals_needed  # too few valid rivals: no trial wins
            low_points = points * low_rival  # the price score's numerator while a rival's price is the lowest

            def wins(p: float) -> bool:  # the trial above, its valid rivals known
                if short:
                    return False
                if low_rival < p:
                    mine = low_points / p + mine_fixed + mine_ties
                    if mine - top > TIE_TOLERANCE:
                        return True
                    scored = at_low_rival
                else:
                    mine = points * p / p + mine_fixed + mine_ties
                    scored = [(x, points * p / x + f + t) for x, f, t in kept]
                for x, total in scored:
                    lead = mine - total
                    if not (lead > TIE_TOLERANCE or (abs(lead) <= TIE_TOLERANCE and p < x)):
                        return False
                return True

    return highest_winning_price(wins, price, cap)


def valid_rivals(rival_prices: Sequence[float], p: float, ratio: float) -> list[int]:
    """The rivals (by index) that are not abnormally low in :func:`max_winning_price`'s trial at price `p`."""
    total = sum(rival_prices, p)
    return [j for j, x in enumerate(rival_prices) if not x < ratio * (total - x) / len(rival_prices)]


def clear_of_abnormally_low(ratio: float, rival_prices: Sequence[float], cap: float) -> float:
    """A price above which a winner is not abnormally low in any of :func:`max_winning_price`'s trials up to `cap`:
    the abnormally-low line (`ratio` x the mean of the rivals' prices, all positive), with margins of 1e-9 for the
    trial's rounding (the rivals' total in each trial is off by far less than 1e-9 of itself plus the trial price)."""
    return ratio * (sum(rival_prices) * (1 + 1e-9) + cap * 1e-9) / len(rival_prices) * (1 + 1e-9)


def highest_winning_price(wins: Callable[[float], bool], price: float, cap: float) -> float:
    """The cap if `wins` there, else the highest price in [price, cap] that `wins`, by 50 halvings from `price`."""
    if wins(cap):
        return cap
    lo, hi = price, cap
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if wins(mid) else (lo, mid)
    return lo


def resolve_tender(
    tender: Tender,
    bids: Mapping[FirmIndex, Bid],
    bidders: Mapping[FirmIndex, Bidder],
    relationship: Mapping[FirmIndex, float],
    scenario: Scenario,
    current_period: int,
    bond_left: dict[FirmIndex, float],
    rng: np.random.Generator,
    over_limit: frozenset[FirmIndex] | set[FirmIndex] = frozenset(),
    stage: Mapping[FirmIndex, int] | None = None,
) -> TenderOutcome:
    """Check, score and award one tender.

    `bond_left` is each firm's cash not yet pledged as bonds (updated);
    `over_limit` names firms whose bid here is beyond what their sales staff can prepare;
    `stage` is each firm's lifecycle stage with the client (lifecycle cultivation).
    """
    out = TenderOutcome(tender)
    for firm in sorted(bids):
        bid = bids[firm]
        rec = BidRecord(tender.id, tender.client, firm, bid.price, bid.promised_service)
        reason, detail = check_bid(tender, bid, bidders[firm], relationship[firm], current_period, scenario, bond_left,
                                   firm in over_limit, stage.get(firm) if stage else None)
        if reason:
            rec.valid, rec.void_reason, rec.void_detail = False, reason, detail
        out.bids.append(rec)
    return award_tender(out, relationship, scenario, bond_left, rng)


def check_bid(
    tender: Tender,
    bid: Bid,
    bidder: Bidder,
    relationship: float,
    current_period: int,
    scenario: Scenario,
    bond_left: dict[FirmIndex, float],
    over_limit: bool = False,
    stage: int | None = None,
) -> tuple[str | None, str]:
    """Checks 1-8 of one bid (docs/rules.md section 6.4): the first void reason with its detail, or (None, "").

    A bid beyond the firm's bid limit (`over_limit`) is MALFORMED ahead of checks 4-7. A bid that passes
    checks 1-7 pledges its bond: ``bond_left[bidder.firm]`` falls by it, or the bid is void NO_BOND.
    """
    st = scenario.tenders
    reason, detail = void_reason(tender, bid, bidder, relationship, current_period, st.service_cost_per_unit, stage)
    if reason in (None, UNQUALIFIED, ABOVE_CAP, BELOW_COST, NO_CAPACITY) and over_limit:
        reason, detail = MALFORMED, "more bids than the firm's sales staff can prepare"
    if reason is None:
        firm = bidder.firm
        bond = bid_bond(st.bond_rate, bid.price, tender.volume)
        if bond > bond_left[firm]:
            reason, detail = NO_BOND, f"bond {bond:.0f} > cash available {bond_left[firm]:.0f}"
        else:
            bond_left[firm] -= bond
    return reason, detail


def award_tender(
    out: TenderOutcome,
    relationship: Mapping[FirmIndex, float],
    scenario: Scenario,
    bond_left: dict[FirmIndex, float],
    rng: np.random.Generator,
) -> TenderOutcome:
    """The award of a tender whose bids have passed or failed checks 1-8 (in place): check 9 (abnormally low),
    the minimum of valid bids (流标), scoring, ranking and the published results (sections 6.4-6.7).

    Bonds of bids voided here, of losing bids and of a failed tender's bids go back to ``bond_left``.
    Draws ``rng`` once per valid bid when the tender is awarded (the tie-break), never when it fails.
    """
    tender = out.tender
    st = scenario.tenders
    for r, threshold in abnormally_low(out.bids, st.abnormally_low_ratio):
        r.valid, r.void_reason = False, ABNORMALLY_LOW
        r.void_detail = f"price {r.price:.2f} < {st.abnormally_low_ratio:.0%} of the others' mean ({threshold:.2f})"
        bond_left[r.firm] += bid_bond(st.bond_rate, r.price, tender.volume)
    valid = [r for r in out.bids if r.valid]
    if len(valid) < tender.min_valid_bids:
        out.failed = True
        for r in valid:
            bond_left[r.firm] += bid_bond(st.bond_rate, r.price, tender.volume)
        return out
    weights = tender.weights
    score_bids(out.bids, weights, relationship)
    ranked, out.tie_break = rank_bids(valid, rng)
    for i, r in enumerate(ranked):
        r.rank = i + 1
        r.points_behind = ranked[0].total - r.total
    win = ranked[0]
    win.won = True
    out.winner = win.firm
    out.margin_points = win.total - ranked[1].total if len(ranked) > 1 else None
    out.max_winning_price = max_winning_price(
        win, ranked[1:], weights, relationship, tender.price_cap, st.abnormally_low_ratio, tender.min_valid_bids
    )
    for r in ranked[1:]:
        bond_left[r.firm] += bid_bond(st.bond_rate, r.price, tender.volume)
    return out


def award_contract(out: TenderOutcome, scenario: Scenario, current_period: int) -> Contract | None:
    if out.winner is None:
        return None
    win = next(r for r in out.bids if r.won)
    t = out.tender
    return Contract(
        tender_id=t.id,
        client=t.client,
        firm=win.firm,
        volume=t.volume,
        price=win.price,
        promised_service=win.promised_service,
        deliver_period=current_period + 1,
        load=contract_load(t),
        bond=bid_bond(scenario.tenders.bond_rate, win.price, t.volume),
    )


@dataclass(frozen=True)
class Delivery:
    """How a contract was delivered."""

    contract: Contract
    share: float  # of the volume delivered
    service: float  # delivered service level
    revenue: float
    cost_of_goods: float
    service_cost: float
    penalty: float

    @property
    def outcome(self) -> float:
        """1 for a full, on-promise delivery; lower for shortfalls."""
        c = self.contract
        kept = 1.0 if c.promised_service <= 0 else min(1.0, self.service / c.promised_service)
        return self.share * kept


def deliver(contract: Contract, unit_cost: float, capacity_share: float, quality_factor: float, scenario: Scenario) -> Delivery:
    """Deliver a contract with the firm's capacity this period.

    Args:
        capacity_share: share of the firm's total load it can serve (min(1, capacity / load)).
        quality_factor: the capacity effect on delivered service (1 below the utilisation knee).
    """
    st = scenario.tenders
    share = max(0.0, min(1.0, capacity_share))
    service = contract.promised_service * quality_factor
    units = contract.volume * share
    short_volume = 1.0 - share
    short_service = max(0.0, contract.promised_service - service)
    return Delivery(
        contract=contract,
        share=share,
        service=service,
        revenue=contract.price * units,
        cost_of_goods=unit_cost * units,
        service_cost=st.service_cost_per_unit * contract.promised_service * units,
        penalty=st.penalty_rate * contract.value * (short_volume + short_service),
    )


def cultivation_gain(relationship: np.ndarray, spend: np.ndarray, scale: float, rivalry: float) -> np.ndarray:
    """Relationship bought by cultivation spend (firms x clients).

    Diminishing returns in spend, and a share-of-attention effect: the more a
    rival already holds the client, the less a newcomer's spend buys.
    """
    n_firms = relationship.shape[0]
    if n_firms > 1:
        # strongest rival hold on each client, for each firm
        order = np.sort(relationship, axis=0)
        top, second = order[-1], order[-2]
        rival = np.where(relationship >= top[None, :], second[None, :], top[None, :])
    else:
        rival = np.zeros_like(relationship)
    return (1.0 - relationship) * (1.0 - libm.exp(-spend / scale)) * (1.0 - rivalry * rival)


def update_relationships(
    relationship: np.ndarray, spend: np.ndarray, delivery_outcome: np.ndarray, delivered: np.ndarray, scenario: Scenario
) -> np.ndarray:
    """R <- (1 - decay) R + gain(cultivation) + delivery outcome, clipped to [0, 1].

    `delivery_outcome` is 1 for a perfect delivery and lower for shortfalls, where `delivered` is True.
    """
    st = scenario.tenders
    r = (1.0 - st.relationship_decay) * relationship + cultivation_gain(relationship, spend, st.cultivation_scale, st.attention_rivalry)
    good = st.delivery_gain * delivery_outcome * (1.0 - r)
    bad = st.delivery_loss * (1.0 - delivery_outcome)
    r = np.where(delivered, r + good - bad, r)
    return np.clip(r, 0.0, 1.0)


def update_client_satisfaction(
    client_satisfaction: np.ndarray, delivery_outcome: np.ndarray, delivered: np.ndarray, scenario: Scenario
) -> np.ndarray:
    """A client's satisfaction with a firm moves toward 10 x the outcome of a delivery, where `delivered` is True:
    (1 - w) x satisfaction + w x 10 x outcome, w = ``tenders.client_satisfaction_weight``."""
    w = scenario.tenders.client_satisfaction_weight
    return np.where(
        delivered, (1 - w) * client_satisfaction + w * CLIENT_SATISFACTION_MAX * delivery_outcome, client_satisfaction
    )
