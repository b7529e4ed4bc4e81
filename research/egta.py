"""Empirical game-theoretic analysis (EGTA) of the strategy bots (Wellman 2006).

A game of n seats with k strategies is too large to tabulate whole, so it is
reduced by **deviation-preserving reduction** (DPR, Wiedenbeck & Wellman 2012)
to a symmetric two-player game: the payoff ``A[s, t]`` is the mean final score
of a seat playing ``s`` when every other seat plays ``t`` (one deviator among
n - 1 opponents), and ``A[s, s]`` the mean score when every seat plays ``s``.
A mixed strategy ``x`` of the reduced game answers "what if the field were
this mix of strategies?".

- :func:`dpr_lineups` lists the k*k line-ups that fill the table;
- :func:`payoff_table` estimates it from game rows (with a standard error per cell);
- :func:`replicator_nash` finds a symmetric Nash mixture by replicator dynamics
  from several starting points, keeping the one with the lowest regret;
- :func:`alpha_rank` ranks strategies by alpha-Rank (Omidshafiei et al. 2019)
  as a check that does not assume Nash play;
- :func:`analyse` puts it together with the verdict rule used by ``crmsim balance``.

Everything here is pure numpy on the table, usable on any line-up set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmsim import InputError

#: a strategy is in the Nash support when its probability is at least this
SUPPORT_THRESHOLD = 0.02
#: "balanced" needs at least this many strategies in the Nash support ...
MIN_SUPPORT = 3
#: ... and no strategy winning more than this share of the games it plays against the field
MAX_WIN_SHARE = 0.40


def dpr_lineups(strategies: Sequence[str], seats: int) -> list[tuple[str, ...]]:
    """Line-ups for the DPR table: for each s != t one `s` and seats - 1 `t`; for each s, all seats `s`.

    The deviator sits in seat 0 here; rotate seats across replicates (``seat_rotation``) so no seat is favoured.
    """
    names = list(dict.fromkeys(strategies))
    out = []
    for s in names:
        for t in names:
            out.append((s,) * seats if s == t else (s,) + (t,) * (seats - 1))
    return out


def seat_rotation(lineup: Sequence[str], replicate: int) -> tuple[str, ...]:
    """The line-up rotated by `replicate` seats (replicate r puts the deviator in seat r mod n)."""
    n = len(lineup)
    r = replicate % n
    return tuple(lineup[-r:] + lineup[:-r]) if r else tuple(lineup)


def deviation_of(lineup: Sequence[str]) -> tuple[str, str] | None:
    """(deviator, field) of a DPR line-up: ('s', 't') for one s among t's, ('s', 's') for all s; else None."""
    names = list(lineup)
    kinds = sorted(set(names))
    if len(kinds) == 1:
        return kinds[0], kinds[0]
    if len(kinds) != 2:
        return None
    a, b = kinds
    ca, cb = names.count(a), names.count(b)
    if ca == 1 and cb == len(names) - 1:
        return a, b
    if cb == 1 and ca == len(names) - 1:
        return b, a
    return None


@dataclass(frozen=True)
class PayoffTable:
    """The DPR-reduced symmetric game: ``payoff[s, t]`` is s's mean score against a field of t."""

    strategies: tuple[str, ...]
    payoff: np.ndarray  # (k, k)
    stderr: np.ndarray  # (k, k)
    games: np.ndarray  # (k, k) games behind each cell

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.payoff, index=list(self.strategies), columns=list(self.strategies))


def payoff_table(rows: pd.DataFrame, value: str = "score", game: str = "game", strategy: str = "strategy",
                 lineup: str = "lineup") -> PayoffTable:
    """Estimate the DPR table from one row per seat per game.

    Args:
        rows: must hold `game` (an id per game), `strategy` (the seat's strategy), `value` (its payoff) and
            `lineup` (the game's line-up as a comma-separated string, any seat order).

    Raises:
        InputError: when a cell has no game, naming the (deviator, field) pairs missing, or when no game in
            `rows` played a line-up of the reduction at all.
    """
    cells: dict[tuple[str, str], list[float]] = {}
    for _, g in rows.groupby(game, sort=True):
        dev = deviation_of(str(g[lineup].iloc[0]).split(","))
        if dev is None:
            continue
        s, t = dev
        seats = g[g[strategy] == s]
        cells.setdefault((s, t), []).append(float(seats[value].mean()))
    if not cells:
        raise InputError(f"payoff table: no games for any (deviator, field): none of the {rows[game].nunique()} games "
                         "played a line-up of the deviation-preserving reduction; play dpr_lineups() first")
    names = sorted({s for s, _ in cells} | {t for _, t in cells})
    k = len(names)
    pos = {n: i for i, n in enumerate(names)}
    payoff = np.full((k, k), np.nan)
    stderr = np.full((k, k), np.nan)
    games = np.zeros((k, k), dtype=int)
    for (s, t), vals in cells.items():
        v = np.asarray(vals)
        payoff[pos[s], pos[t]] = v.mean()
        stderr[pos[s], pos[t]] = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan
        games[pos[s], pos[t]] = v.size
    if np.isnan(payoff).any():
        missing = [(names[i], names[j]) for i, j in zip(*np.nonzero(np.isnan(payoff)))]
        raise InputError(f"payoff table: no games for (deviator, field) {missing[:5]}; play dpr_lineups() first")
    return PayoffTable(tuple(names), payoff, stderr, games)


def regret(payoff: np.ndarray, x: np.ndarray) -> float:
    """Most a single strategy gains over the mixture x against a field playing x: 0 at a symmetric Nash."""
    f = payoff @ x
    return float(max(f.max() - x @ f, 0.0))


def _unit_scaled(payoff: np.ndarray) -> np.ndarray:
    """Payoffs shifted and scaled to [0, 1] (the dynamics' speed then does not depend on score units)."""
    a = np.asarray(payoff, dtype=float)
    span = a.max() - a.min()
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def replicator(payoff: np.ndarray, x0: np.ndarray, *, steps: int = 20_000, dt: float = 0.05, tol: float = 1e-12) -> np.ndarray:
    """Continuous replicator dynamics dx_i = x_i ((A x)_i - x'Ax), by Euler steps on the payoffs scaled to [0, 1].

    `x0` is one mixture (k,) or a batch of starting mixtures (starts, k), all run together.
    """
    a = _unit_scaled(payoff)
    x = np.atleast_2d(np.asarray(x0, dtype=float))
    x = x / x.sum(axis=1, keepdims=True)
    for _ in range(steps):
        f = x @ a.T  # (starts, k): payoff of each strategy against each start's mix
        dx = x * (f - (x * f).sum(axis=1, keepdims=True))
        x = np.clip(x + dt * dx, 0.0, None)
        x = x / x.sum(axis=1, keepdims=True)
        if float(np.abs(dx).max()) < tol:
            break
    return x[0] if np.ndim(x0) == 1 else x


def replicator_nash(payoff: np.ndarray, *, starts: int = 24, seed: int = 0, steps: int = 20_000) -> tuple[np.ndarray, float]:
    """A symmetric Nash mixture: replicator dynamics from the uniform mix and `starts` random interior mixes;
    the end point with the lowest regret wins (ties: the wider support). Returns (mixture, regret)."""
    k = payoff.shape[0]
    rng = np.random.default_rng(seed)
    inits = np.vstack([np.full(k, 1.0 / k), rng.dirichlet(np.ones(k), size=starts)])
    ends = replicator(payoff, inits, steps=steps)
    best, best_regret = None, np.inf
    for x in ends:
        x = np.where(x < 1e-6, 0.0, x)
        x = x / x.sum()
        r = regret(payoff, x)
        wider = best is not None and abs(r - best_regret) <= 1e-9 and (x > SUPPORT_THRESHOLD).sum() > (best > SUPPORT_THRESHOLD).sum()
        if r < best_regret - 1e-9 or wider:
            best, best_regret = x, r
    return best, float(best_regret)


def alpha_rank(payoff: np.ndarray, *, alpha: float = 5.0, population: int = 50) -> np.ndarray:
    """Single-population alpha-Rank of a symmetric two-player game: the stationary distribution over
    strategies of a mutation-selection Markov chain (Omidshafiei et al. 2019, eq. 2-4).

    Payoffs are scaled to [0, 1] first, so `alpha` is comparable across tables.
    """
    a = _unit_scaled(payoff)
    k, m = a.shape[0], population
    eta = 1.0 / (k - 1) if k > 1 else 1.0
    chain = np.zeros((k, k))
    for s in range(k):  # resident
        for t in range(k):  # mutant
            if s == t:
                continue
            j = np.arange(1, m)  # mutants in the population
            f_mut = ((j - 1) * a[t, t] + (m - j) * a[t, s]) / (m - 1)
            f_res = (j * a[s, t] + (m - j - 1) * a[s, s]) / (m - 1)
            log_terms = np.cumsum(-alpha * (f_mut - f_res))
            rho = 1.0 / (1.0 + np.exp(np.clip(log_terms, -700, 700)).sum())
            chain[s, t] = eta * rho
        chain[s, s] = 1.0 - chain[s].sum()
    vals, vecs = np.linalg.eig(chain.T)
    pi = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    pi = np.abs(pi)
    return pi / pi.sum()


@dataclass
class EgtaResult:
    """The analysis: table, Nash mixture, alpha-Rank, win shares against the field, and the verdict."""

    table: PayoffTable
    nash: np.ndarray
    nash_regret: float
    alpha: np.ndarray
    win_share: dict[str, float] = field(default_factory=dict)

    @property
    def support(self) -> list[str]:
        return [s for s, p in zip(self.table.strategies, self.nash) if p >= SUPPORT_THRESHOLD]

    @property
    def dominant(self) -> list[str]:
        return [s for s, w in self.win_share.items() if w > MAX_WIN_SHARE]

    @property
    def balanced(self) -> bool:
        return len(self.support) >= MIN_SUPPORT and not self.dominant

    def verdict(self) -> str:
        problems = []
        if len(self.support) < MIN_SUPPORT:
            problems.append(f"the Nash mixture holds {len(self.support)} strategies ({', '.join(self.support)}); "
                            f"balanced needs at least {MIN_SUPPORT}")
        for s in self.dominant:
            problems.append(f"{s} wins {self.win_share[s]:.0%} of its games against the field (more than {MAX_WIN_SHARE:.0%})")
        return "balanced" if not problems else "not balanced: " + "; ".join(problems)

    def frame(self) -> pd.DataFrame:
        """One row per strategy: Nash probability, alpha-Rank mass, payoff against the Nash mix, win share."""
        f = self.table.payoff @ self.nash
        return pd.DataFrame({
            "strategy": list(self.table.strategies),
            "nash": self.nash,
            "alpha_rank": self.alpha,
            "payoff_vs_nash": f,
            "win_share_vs_field": [self.win_share.get(s, np.nan) for s in self.table.strategies],
        })


def analyse(table: PayoffTable, win_share: dict[str, float] | None = None, *, seed: int = 0) -> EgtaResult:
    """Nash mixture (replicator dynamics), alpha-Rank and the verdict for a payoff table."""
    nash, r = replicator_nash(table.payoff, seed=seed)
    return EgtaResult(table, nash, r, alpha_rank(table.payoff), dict(win_share or {}))
