"""Stylised facts of tenders (docs/validation.md section 1), each over many simulated tenders with its tolerance stated.

Bidders draw markups over their own delivery cost from one common distribution
(a symmetric sealed-bid market); the facts then follow from the scoring rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim import tenders as T
from crmsim.sim.decisions import Bid
from crmsim.sim.state import Tender

SC = load_scenario("classroom-v1")
COST = T.unit_delivery_cost(60.0, 0.6, SC.tenders.service_cost_per_unit)  # 66 at promised service 0.6
N_TENDERS = 400  # per setting: the winning markup's standard error is about 0.002


def tender(**kw) -> Tender:
    base = dict(id="acme-01", client="acme", period=1, issued=1, volume=1000.0, price_cap=100.0, required_service=0.5,
                closed=False, min_relationship=0.0, w_price=0.4, w_service=0.3, w_relationship=0.3,
                min_valid_bids=3, load_per_unit=0.0)
    base.update(kw)
    return Tender(**base)


def bidders(n: int) -> dict[int, T.Bidder]:
    return {i: T.Bidder(i, False, False, 60.0, 1e9, 0.0, 1e12) for i in range(n)}


def run(n: int, rng: np.random.Generator, rel: dict[int, float] | None = None, t: Tender | None = None) -> T.TenderOutcome:
    """One tender with n bidders whose markups over cost are drawn uniformly from [2%, 40%]."""
    markups = rng.uniform(0.02, 0.40, n)
    bids = {i: Bid(round(COST * (1 + markups[i]), 2), 0.6) for i in range(n)}
    rel = rel or {i: 0.2 for i in range(n)}
    return T.resolve_tender(t or tender(), bids, bidders(n), rel, SC, 1, {i: 1e12 for i in range(n)}, rng)


def winning_markup(out: T.TenderOutcome) -> float:
    return next(b.price for b in out.bids if b.won) / COST - 1


@pytest.mark.slow
def test_mean_winning_markup_falls_as_bidders_increase():
    """Competition: the mean winning markup over cost falls from 3 to 5 to 7 to 9 bidders, each step by
    more than twice its standard error, over 400 tenders per bidder count."""
    counts = (3, 5, 7, 9)
    means, ses = [], []
    for n in counts:
        rng = np.random.default_rng(1000 + n)
        w = np.array([winning_markup(o) for o in (run(n, rng) for _ in range(N_TENDERS)) if o.winner is not None])
        means.append(w.mean())
        ses.append(w.std(ddof=1) / np.sqrt(len(w)))
    for k in range(len(means) - 1):
        gap = means[k] - means[k + 1]
        band = 2 * np.hypot(ses[k], ses[k + 1])
        assert gap > band, f"n={counts[k]}->{counts[k + 1]}: mean winning markup {means[k]:.4f} -> {means[k + 1]:.4f} (need a fall > {band:.4f})"


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 5, 6])
def test_an_incumbent_with_a_strong_relationship_wins_more_than_its_share(n):
    """An incumbent with relationship 0.8 against rivals at 0.1 wins more than 1/n of the client's tenders:
    the lower bound of the 95% interval of its win rate over 400 tenders is above 1/n."""
    rng = np.random.default_rng(7 + n)
    rel = {0: 0.8, **{i: 0.1 for i in range(1, n)}}
    outs = [run(n, rng, rel) for _ in range(N_TENDERS)]
    wins = np.array([o.winner == 0 for o in outs if o.winner is not None])
    p = wins.mean()
    low = p - 1.96 * np.sqrt(p * (1 - p) / len(wins))
    assert low > 1 / n, f"incumbent win rate {p:.3f} (95% low {low:.3f}) vs fair share {1 / n:.3f}"


@pytest.mark.slow
def test_a_tender_with_fewer_valid_bids_than_the_minimum_always_fails():
    """Over 2,000 random tenders (1-6 bidders, some bids void for cap, cost or service, minimum 1-5 valid bids):
    a tender fails exactly when its valid bids are fewer than the minimum, and then has no winner."""
    rng = np.random.default_rng(3)
    for _ in range(2000):
        n = int(rng.integers(1, 7))
        need = int(rng.integers(1, 6))
        bids = {i: Bid(round(float(rng.uniform(50, 110)), 2), round(float(rng.uniform(0.3, 1.0)), 2)) for i in range(n)}
        out = T.resolve_tender(tender(min_valid_bids=need), bids, bidders(n), {i: 0.2 for i in range(n)}, SC, 1,
                               {i: 1e12 for i in range(n)}, rng)
        valid = sum(b.valid for b in out.bids)
        assert out.failed == (valid < need)
        if out.failed:
            assert out.winner is None and not any(b.won for b in out.bids)
        else:
            assert out.winner is not None
