"""The debrief's counterfactuals: "what if our bid had been different?" and "what if we had decided otherwise?".

- :func:`rescore_tender` re-runs the tender office on a published tender with one firm's bid changed. It
  reads only what is public after the award (every bid with its price, promised service, void reason and
  score breakdown, and the tender's terms) and the firm's own data, so a team may ask it while the game runs.
- :func:`replay_with_change` replays a finished game's decision log with one past decision of one firm
  changed. The teams' decisions are kept as logged; the bots decide again from what they observe, so they
  react to the change. It refuses a game that is not over: the rest of the game is not public before then.

Both are deterministic: a lot is drawn from a fixed generator, and a replay uses the game's own streams.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crmsim.agents.bots import BOTS
from crmsim.scenarios import Scenario, scenario_from_dict
from crmsim.sim.decisions import Bid, Decision, DecisionError
from crmsim.sim.engine import check_decision, logged_period
from crmsim.sim.events import unit_cost_factor_in
from crmsim.sim.model import LOG_FORMAT, STANDINGS_COLUMNS, CRMModel
from crmsim.sim.notices import Notice, json_ready
from crmsim.sim.preview import usable_decision
from crmsim.sim.state import Tender
from crmsim.sim.tenders import (
    ABNORMALLY_LOW,
    BANKRUPT,
    LATE,
    MALFORMED,
    UNQUALIFIED,
    BidRecord,
    Bidder,
    TenderOutcome,
    award_tender,
    bid_bond,
    check_bid,
    is_number,
    relationship_shown,
)

RESCORE_SEED = 0  # the fixed generator that breaks ties by lot in a re-scored tender
PASSED_BOND = (None, ABNORMALLY_LOW)  # void reasons of a bid that passed the capacity and bond checks (7, 8)


@dataclass(frozen=True)
class Rescore:
    """A tender re-scored with one bid changed (:func:`rescore_tender`).

    Attributes:
        winner, margin_points: who would have won and by how many points over the runner-up (None when the
            tender would fail or has one valid bid).
        winner_before, failed_before: the published award.
        rank, points_behind: the changed firm's rank (None: its bid void) and its points behind the winner.
        bids: every bid's new breakdown, in firm order (the changed one included).
    """

    tender: str
    firm: int
    price: float
    promised_service: float
    winner: int | None
    failed: bool
    margin_points: float | None
    max_winning_price: float | None
    tie_break: str | None
    winner_before: int | None
    failed_before: bool
    rank: int | None
    points_behind: float | None
    bids: tuple[dict[str, Any], ...]
    notices: tuple[Notice, ...] = ()

    @property
    def won(self) -> bool:
        return self.winner == self.firm

    @property
    def winner_changed(self) -> bool:
        return self.winner != self.winner_before

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "notices"}
        out.update(won=self.won, winner_changed=self.winner_changed, notices=[n.to_dict() for n in self.notices])
        return json_ready(out)


@dataclass(frozen=True)
class _Published:
    """One published bid, read from a BidRecord or a bid row."""

    firm: int
    price: float
    promised_service: float
    valid: bool
    void_reason: str | None
    void_detail: str
    relationship_score: float
    won: bool


def rescore_tender(
    published: TenderOutcome | Sequence[Mapping[str, Any]],
    tender: Tender | Mapping[str, Any] | None,
    firm: int,
    price: float,
    promised_service: float,
    scenario: Scenario,
    *,
    relationship: float | None = None,
    stage: int | None = None,
    unit_cost: float | None = None,
    bidder: Bidder | None = None,
    relationships: Mapping[int, float] | None = None,
    seed: int = RESCORE_SEED,
) -> Rescore:
    """Re-run the tender office on a published tender with `firm`'s bid at `price` and `promised_service`
    (a firm that did not bid is added), every other bid as published.

    The other bids keep the void reasons of checks 1-8 they were published with; the abnormally-low test,
    the minimum of valid bids, the scores and the ranking are re-run on the new set (docs/rules.md section
    6). Each valid bid's relationship is read back from its published relationship score. The changed bid
    is checked as the tender office did, with the firm's own data where the publication does not show it.
    Ties by lot are drawn from ``default_rng(seed)``, so the answer is always the same (it may differ from
    the real draw, which used the game's hidden seed). Only this tender is re-run.

    Args:
        published: the tender's outcome, or its published bid rows (``PeriodResult.bid_rows()``, the API's
            tender results; rows of other tenders, or of other periods, are ignored).
        tender: the tender's terms, a Tender or its ``to_dict()`` (None: the outcome's).
        firm: the firm whose bid changes.
        price, promised_service: its new bid.
        scenario: the game's scenario (bond rate, abnormally-low ratio, service cost per unit).
        relationship: the firm's relationship R with the client at the time; needed when its bid was not
            scored (void or absent) and relationship scores.
        stage: the firm's lifecycle stage with the client at the time, for an invited tender it was not
            published as qualifying for.
        unit_cost: the firm's unit cost at the time (default: the scenario's, after the cost shocks up to the
            tender's period, which every firm shares).
        bidder: the firm's capacity, load and cash at the time (default: not checked, and said so when the
            published bid does not show they suffice).
        relationships: R of other bidders whose bid was void ABNORMALLY_LOW (not published); such a bid that
            becomes valid is otherwise scored with R = 0, and said so.
        seed: the fixed generator's seed for ties by lot.

    Raises:
        ValueError: the tender is not given, or the firm's relationship or stage is needed and not given.
    """
    if tender is None:
        if not isinstance(published, TenderOutcome):
            raise ValueError("tender: the tender's terms are needed with published bid rows")
        tender = published.tender
    elif isinstance(tender, Mapping):
        tender = Tender(**tender)
    bids = _published_bids(published, tender)
    w_rel = tender.weights[2]
    rel: dict[int, float] = {}
    notices: list[Notice] = []
    unknown: list[int] = []
    records: list[BidRecord] = []
    for b in bids:
        if b.firm == firm:
            continue
        rec = BidRecord(tender.id, tender.client, b.firm, b.price, b.promised_service)
        if b.void_reason and b.void_reason != ABNORMALLY_LOW:
            rec.valid, rec.void_reason, rec.void_detail = False, b.void_reason, b.void_detail
        elif b.valid or w_rel <= 0:
            rel[b.firm] = relationship_shown(b.relationship_score, w_rel) if w_rel > 0 else 0.0
        elif relationships is not None and b.firm in relationships:
            rel[b.firm] = float(relationships[b.firm])
        else:
            rel[b.firm] = 0.0
            unknown.append(b.firm)
        records.append(rec)
    before = next((b for b in bids if b.firm == firm), None)
    mine, rel[firm], own_notices = _changed_bid(tender, firm, Bid(float(price), float(promised_service)), before, scenario,
                                                relationship, stage, unit_cost, bidder)
    records.append(mine)
    records.sort(key=lambda r: r.firm)
    out = award_tender(TenderOutcome(tender, bids=records), rel, scenario, defaultdict(float), np.random.default_rng(seed))
    notices += own_notices
    if any(r.firm in unknown and r.valid for r in records) and w_rel > 0:
        notices.append(Notice("RESCORE_RELATIONSHIP_UNKNOWN", "info", {"firms": [f for f in unknown if _valid(records, f)]}))
    if out.tie_break == "lot":
        notices.append(Notice("RESCORE_TIE_BY_LOT", "info"))
    notices.append(Notice("RESCORE_OTHER_TENDERS", "info"))
    new = next(r for r in records if r.firm == firm)
    return Rescore(
        tender=tender.id, firm=firm, price=float(price), promised_service=float(promised_service),
        winner=out.winner, failed=out.failed, margin_points=out.margin_points, max_winning_price=out.max_winning_price,
        tie_break=out.tie_break, winner_before=next((b.firm for b in bids if b.won), None),
        failed_before=not any(b.won for b in bids),
        rank=new.rank, points_behind=new.points_behind if new.valid and not out.failed else None,
        bids=tuple(_row(r) for r in records), notices=tuple(notices),
    )


def _changed_bid(
    tender: Tender, firm: int, bid: Bid, before: _Published | None, scenario: Scenario, relationship: float | None,
    stage: int | None, unit_cost: float | None, bidder: Bidder | None,
) -> tuple[BidRecord, float, list[Notice]]:
    """The changed bid through checks 1-8 (the tender office's :func:`check_bid`), the relationship it scores
    with, and what could not be checked.

    What the published bid shows is used where the firm's own data is not given: a scored bid shows R; a bid
    that passed a check (void by a later one, or valid) shows the firm was invited, had the capacity, or
    (at a bond no larger) the cash; a well-formed bid void MALFORMED was beyond the firm's bid limit, and a
    LATE or BANKRUPT one stays void.
    """
    reason = before.void_reason if before is not None else None
    invited = before is not None and reason not in (BANKRUPT, LATE, MALFORMED, UNQUALIFIED)
    w_rel = tender.weights[2]
    if relationship is None:
        if before is not None and before.valid and w_rel > 0:
            relationship = relationship_shown(before.relationship_score, w_rel)
        elif w_rel > 0 or (tender.closed and tender.min_stage is None and not invited):
            raise ValueError(f"relationship: the firm's relationship with {tender.client} in period {tender.period} is needed "
                             "(its bid was not scored)")
        else:
            relationship = tender.min_relationship if tender.closed else 0.0
    if stage is None and tender.min_stage is not None:
        if not invited:
            raise ValueError(f"stage: the firm's lifecycle stage with {tender.client} in period {tender.period} is needed "
                             "(the invited tender did not publish it as qualifying)")
        stage = tender.min_stage
    cost = unit_cost if unit_cost is not None else scenario.firms.unit_cost * unit_cost_factor_in(scenario, tender.period)
    late = reason in (LATE, BANKRUPT)
    notices: list[Notice] = []
    if bidder is None:
        st = scenario.tenders
        bond_shown = before is not None and reason in PASSED_BOND and bid_bond(st.bond_rate, bid.price, tender.volume) <= bid_bond(
            st.bond_rate, before.price, tender.volume)
        if not bond_shown:
            notices.append(Notice("RESCORE_CAPACITY_BOND_UNCHECKED", "info"))
        bidder = Bidder(firm=firm, bankrupt=reason == BANKRUPT, late=late, unit_cost=cost, capacity=math.inf, load=0.0, cash=math.inf)
    else:
        bidder = replace(bidder, firm=firm, late=bidder.late or late, unit_cost=cost if unit_cost is not None else bidder.unit_cost)
    over = reason == MALFORMED and _well_formed(before)
    rec = BidRecord(tender.id, tender.client, firm, bid.price, bid.promised_service)
    why, detail = check_bid(tender, bid, bidder, relationship, tender.period, scenario, {firm: max(0.0, bidder.cash)}, over, stage)
    if why:
        rec.valid, rec.void_reason, rec.void_detail = False, why, detail
    return rec, float(relationship), notices


def _published_bids(published: TenderOutcome | Sequence[Mapping[str, Any]], tender: Tender) -> list[_Published]:
    if isinstance(published, TenderOutcome):
        rows = [b.__dict__ for b in published.bids]
    else:  # a late bid on this tender, made in a later period, is published with that period's bids
        rows = [r for r in published if r.get("tender") == tender.id and r.get("period", tender.period) == tender.period]
    out = [_Published(firm=int(r["firm"]), price=float(r["price"]), promised_service=float(r["promised_service"]),
                      valid=bool(r["valid"]), void_reason=r.get("void_reason") or None, void_detail=r.get("void_detail") or "",
                      relationship_score=float(r.get("relationship_score") or 0.0), won=bool(r.get("won")))
           for r in rows]
    return sorted(out, key=lambda b: b.firm)


def _well_formed(b: _Published | None) -> bool:
    return b is not None and is_number(b.price) and math.isfinite(b.price) and b.price > 0 and 0 <= b.promised_service <= 1


def _valid(records: Sequence[BidRecord], firm: int) -> bool:
    return any(r.firm == firm and r.valid for r in records)


def _row(r: BidRecord) -> dict[str, Any]:
    keys = ("firm", "price", "promised_service", "valid", "void_reason", "void_detail", "price_score", "service_score",
            "relationship_score", "total", "rank", "won", "points_behind")
    return {k: getattr(r, k) for k in keys}


# ---------------------------------------------------------------------------
# replaying a finished game with one decision changed


@dataclass(frozen=True)
class Replay:
    """A finished game replayed with one decision changed (:func:`replay_with_change`).

    Attributes:
        real, counterfactual: the final standings, best first (``STANDINGS_COLUMNS`` of each firm's last row).
        side_by_side: per firm, in firm order: its rank, score, cumulative operating profit and equity in the
            real game and in the replay, and the change in score.
        bots: the seats whose bots decided again after the changed period.
        notices: the bots' reaction, and logged decisions that had to be adjusted in the changed game.
    """

    period: int
    firm: int
    change: dict[str, Any]
    decision: Decision
    real: list[dict[str, Any]]
    counterfactual: list[dict[str, Any]]
    side_by_side: list[dict[str, Any]]
    bots: tuple[int, ...]
    notices: tuple[Notice, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return json_ready({
            "period": self.period, "firm": self.firm, "change": self.change, "decision": self.decision.to_dict(),
            "real": self.real, "counterfactual": self.counterfactual, "side_by_side": self.side_by_side,
            "bots": list(self.bots), "notices": [n.to_dict() for n in self.notices],
        })


def replay_with_change(
    log: Mapping[str, Any],
    period: int,
    firm: int,
    change: Mapping[str, Any],
    bots: Mapping[int, str] | None = None,
) -> Replay:
    """Replay a finished game's decision log with `firm`'s decision in `period` changed, and compare the final
    standings with the real ones.

    Periods before `period` replay as logged. In `period`, every decision is as logged but `firm`'s, which
    is its logged decision (or, if it submitted none, its standing decision) with `change` laid over it:
    each field given replaces the logged one, except ``bids``, which are changed tender by tender (a tender
    id mapped to None withdraws that bid). After `period`, the teams' decisions are kept as logged, while
    the bots decide again from their observations with their own streams, so they react to the change
    (with nothing changed, they decide as they did and the replay reproduces the game). A logged decision
    that no longer fits the changed game (a loan beyond the credit room, staff the firm no longer has) keeps
    only its fields that do, and a firm bankrupt in the replay decides nothing more; the notices say so.

    Args:
        log: the game's decision log (:meth:`crmsim.sim.model.CRMModel.decision_log`).
        period: the period whose decision changes.
        firm: the firm whose decision changes.
        change: the fields to change, as a form or the API gives them.
        bots: seat -> bot spec of the seats that decide again (default: the seats the log labels with a
            registered bot's name; a team's seat is never a bot).

    Returns:
        The :class:`Replay`.

    Raises:
        ValueError: the log is not a decision log, the game is not over, or the period or firm is not in it.
        DecisionError: the changed decision breaks a rule (every problem named).
    """
    if log.get("format") != LOG_FORMAT:
        raise ValueError(f"format: expected {LOG_FORMAT!r}; got {log.get('format')!r}")
    real = CRMModel.replay(log)
    if not real.finished:
        raise ValueError(f"the game is not over (period {real.period} of {real.scenario.periods} is next): "
                         "a replay would reveal what is not yet public")
    entries = list(log["periods"])
    if not any(e["period"] == period for e in entries):
        raise ValueError(f"period: must be a period of the log, 1 to {len(entries)}; got {period!r}")
    scenario = scenario_from_dict(log["scenario_data"], source=f"log of {log.get('scenario')}")
    if not 0 <= firm < scenario.firms.count:
        raise ValueError(f"firm: must be a firm index in [0, {scenario.firms.count - 1}]; got {firm!r}")
    seats = dict(bots) if bots is not None else {i: s for i, s in enumerate(log.get("strategies", [])) if s in BOTS}
    model = CRMModel(scenario, seed=log["seed"], strategies=[seats.get(i) for i in range(scenario.firms.count)], collect=False)
    notices: list[Notice] = []
    changed: Decision | None = None
    for entry in entries:
        t = entry["period"]
        if model.finished:
            break
        if t < period:
            model.replay_period(entry)
            continue
        # in the changed period every logged decision stands; after it, the bots decide again
        logged = None if t == period else {i for i in range(scenario.firms.count) if i not in seats}
        decisions, adjustments = _still_possible(model, entry, logged, notices)
        if t == period:
            changed = changed_decision(model, firm, entry, change)
            decisions[firm] = changed
        model.pending.update(decisions)
        for i, amount in adjustments.items():
            model.adjust(i, amount)
        model.step()
    if seats:
        notices.insert(0, Notice("REPLAY_BOTS_REACT", "info", {"bots": [model.state.firms[i].name for i in sorted(seats)], "period": period}))
    return Replay(
        period=period, firm=firm, change=json_ready(dict(change)), decision=changed,
        real=standings_rows(real.results[-1].firm_rows), counterfactual=standings_rows(model.results[-1].firm_rows),
        side_by_side=side_by_side(real.results[-1].firm_rows, model.results[-1].firm_rows),
        bots=tuple(sorted(seats)), notices=tuple(notices),
    )


def changed_decision(model: CRMModel, firm: int, entry: Mapping[str, Any], change: Mapping[str, Any]) -> Decision:
    """`firm`'s decision in the entry's period (its standing decision if it logged none) with `change` laid over it,
    validated against the replayed game."""
    logged = entry["decisions"].get(str(firm), entry["decisions"].get(firm))
    base = dict(logged) if logged is not None else {**model.state.firms[firm].standing.to_dict(), "bids": {}}
    merged = {**base, **{k: v for k, v in change.items() if k != "bids"}}
    if "bids" in change:
        bids = {**(base.get("bids") or {}), **(change["bids"] or {})}
        merged["bids"] = {t: b for t, b in bids.items() if b is not None}
    return check_decision(model.state, firm, merged)


def _still_possible(model: CRMModel, entry: Mapping[str, Any], firms: set[int] | None,
                    notices: list[Notice]) -> tuple[dict[int, Decision], dict[int, float]]:
    """The entry's decisions of `firms` (None: every firm) and its adjustments as far as the replayed game still
    allows them: none for a firm now bankrupt; a decision's fields that no longer validate left out (its bids go
    to the tender office as logged, which voids those on tenders that are not open)."""
    state = model.state
    live = {f.index for f in state.firms if f.live}
    mine = {i: d for i, d in entry["decisions"].items() if firms is None or int(i) in firms}
    kept = {"period": entry["period"], "decisions": {i: d for i, d in mine.items() if int(i) in live},
            "adjustments": {i: a for i, a in entry.get("adjustments", {}).items() if int(i) in live}}
    dropped = sorted({int(i) for i in mine} - live)
    if dropped:
        notices.append(Notice("REPLAY_BANKRUPT_SKIPPED", "info", {"period": entry["period"], "firms": [state.firms[i].name for i in dropped]}))
    decisions, adjustments = logged_period(state, kept)
    for i, d in decisions.items():
        try:
            check_decision(state, i, replace(d, bids={}))
        except DecisionError:
            usable, problems = usable_decision(state, i, replace(d, bids={}).to_dict())
            decisions[i] = replace(usable, bids=d.bids)
            notices.append(Notice("REPLAY_DECISION_ADJUSTED", "info", {"period": entry["period"], "firm_name": state.firms[i].name,
                                                                       "fields": sorted({p.field for p in problems})}))
    return decisions, adjustments


def standings_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The standings (``STANDINGS_COLUMNS``) of a period's firm rows, best first."""
    return [{k: r[k] for k in STANDINGS_COLUMNS} for r in sorted(rows, key=lambda r: r["rank"])]


def side_by_side(real: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per firm: rank, score, cumulative operating profit, equity and bankruptcy, real and replayed."""
    out = []
    for a, b in zip(real, replayed):
        out.append({
            "firm": a["firm"], "name": a["name"],
            "rank_real": a["rank"], "rank_counterfactual": b["rank"],
            "score_real": a["score"], "score_counterfactual": b["score"], "score_change": b["score"] - a["score"],
            "cum_operating_profit_real": a["cum_operating_profit"], "cum_operating_profit_counterfactual": b["cum_operating_profit"],
            "equity_real": a["equity"], "equity_counterfactual": b["equity"],
            "bankrupt_real": a["bankrupt"], "bankrupt_counterfactual": b["bankrupt"],
        })
    return out
