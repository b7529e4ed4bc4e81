"""Calibrate crmsim's customer population to a transaction log by maximum likelihood.

Buy-till-you-die models, fitted with scipy (no ``lifetimes`` code is used):

- **BG/NBD** (Fader, Hardie & Lee 2005): while alive a customer buys as a
  Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat
  purchase he drops out with probability p ~ Beta(a, b).
- **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987), optional: the same
  purchases, an exponential lifetime with rate mu ~ Gamma(s, beta).
- **BG/BB** (Fader, Hardie & Shang 2010): discrete periods; an alive customer
  buys in a period with probability p ~ Beta(alpha, beta) and drops out at the
  start of each period with probability theta ~ Beta(gamma, delta). On
  neutral settings crmsim's population *is* this model with one period a
  month (rule 6, defection, runs before rule 8, purchase), so its fit gives
  crmsim's own Beta parameters directly.
- **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"): spend per
  transaction z ~ Gamma(p, nu), nu ~ Gamma(q, gamma) across customers.

Every fit maximises the log-likelihood over log-parameters (L-BFGS-B, then
Nelder-Mead polish) and reports standard errors from the inverse of the
numerical Hessian of the log-likelihood at the optimum (delta method from the
log scale, which at the optimum equals the inverse Hessian in the natural
parameters).

The BG/NBD fit becomes crmsim's ``[market]`` parameters by projection
(:func:`project_bgnbd`): the per-period purchase and dropout Betas of the
BG/BB that best reproduces the BG/NBD's customers seen month by month.
Gamma-Gamma spend becomes units per purchase at the reference price
(:func:`units_from_spend`). The mapping, and why plain moment matching of each
trait (:func:`market_from_moments`) is not used, are in docs/validation.md.

Example::

    from crmsim.research.calibration import read_transactions, calibrate
    tx = read_transactions("orders.csv", id_col="customer", date_col="day", amount_col="total")
    cal = calibrate(tx, unit="week")
    print(cal.fits["bgnbd"].table())
    print(cal.toml())
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from crmsim import InputError
from crmsim.sim.streams import CALIBRATION_STREAM, stream_rng

#: Days in one time unit of the fitted models.
DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
#: crmsim's period (one month), in days.
PERIOD_DAYS = 365.25 / 12
#: Published CDNOW estimates (2,357 customers of the 1997-Q1 cohort, 39-week calibration, time in weeks):
#: BG/NBD and Pareto/NBD from Fader, Hardie & Lee (2005, Marketing Science 24(2), "Counting your customers
#: the easy way"); Gamma-Gamma from Fader, Hardie & Lee (2005, JMR 42(4), "RFM and CLV"), 946 repeat buyers.
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "paretonbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
#: CDNOW's calibration period ends here (39 weeks after 1997-01-01); the holdout runs 39 weeks more.
CDNOW_CALIBRATION_END = pd.Timestamp("1997-09-30")
CDNOW_HOLDOUT_END = pd.Timestamp("1998-06-30")

Params = dict[str, float]


# ---------------------------------------------------------------------------
# data


def lifetimes_dataset(name: str) -> Path:
    """Path of a data file shipped in the ``lifetimes`` wheel (lifetimes/datasets/NAME), found without importing lifetimes.

    (``import lifetimes.datasets`` needs pkg_resources, and importing lifetimes pulls in autograd and warns
    under pandas 3; locating its folder does neither.) Raises ImportError when lifetimes is not installed:
    ``pip install lifetimes==0.11.3`` (it is in the project's test extra).
    """
    import importlib.resources
    import importlib.util

    hint = "the CDNOW data ship with lifetimes: pip install lifetimes==0.11.3 (in the test extra)"
    spec = importlib.util.find_spec("lifetimes")
    if spec is None:
        raise ImportError(f"lifetimes is not installed; {hint}")
    path = Path(next(iter(spec.submodule_search_locations or [])), "datasets", name) if spec.submodule_search_locations else None
    if path is None or not path.is_file():  # not a plain folder (a zip, say): let importlib.resources find it
        resource = importlib.resources.files("lifetimes") / "datasets" / name
        if not resource.is_file():
            raise ImportError(f"lifetimes is installed but has no datasets/{name}; {hint}")
        path = Path(str(resource))
    return path


def load_cdnow_transactions() -> pd.DataFrame:
    """The CDNOW sample's transaction log (customer, date, amount; 6,919 rows, 2,357 customers, 1997-01 to 1998-06)."""
    raw = pd.read_csv(lifetimes_dataset("CDNOW_sample.txt"), sep=r"\s+", header=None,
                      names=["customer_id", "customer", "date", "units", "amount"])
    return pd.DataFrame({
        "customer": raw["customer"].astype("int64"),
        "date": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
        "amount": raw["amount"].astype(float),
    })


def load_cdnow_summary() -> pd.DataFrame:
    """FHL's published CDNOW calibration summary: frequency, recency, T (weeks) and mean repeat spend, by customer."""
    s = pd.read_csv(lifetimes_dataset("cdnow_customers_summary.csv")).set_index("ID")
    w = pd.read_csv(lifetimes_dataset("cdnow_customers_summary_with_transactions.csv")).set_index("ID")
    s["monetary_value"] = w["zbar"]
    s.index.name = "customer"
    return s


def _column(df: pd.DataFrame, col: str | int) -> pd.Series:
    if isinstance(col, int) or (isinstance(col, str) and col.isdigit() and col not in df.columns):
        return df.iloc[:, int(col)]
    if col not in df.columns:
        raise InputError(f"column {col!r} not in the file; columns: {', '.join(map(str, df.columns))}")
    return df[col]


def read_transactions(
    path: str | Path,
    id_col: str | int = "customer_id",
    date_col: str | int = "date",
    amount_col: str | int = "amount",
    sep: str | None = None,
    header: bool = True,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read a transaction log (one row per transaction) into columns customer, date, amount.

    Args:
        path: CSV (or whitespace-separated .txt) file.
        id_col, date_col, amount_col: column names, or 0-based positions (for files without a header).
        sep: field separator; default ',' for .csv and whitespace otherwise ("whitespace" also accepted).
        header: whether the first line names the columns.
        date_format: strptime format; default: yyyymmdd for 8-digit integers, else pandas' parser.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such transactions file")
    if sep is None:
        sep = "," if path.suffix.lower() == ".csv" else "whitespace"
    df = pd.read_csv(path, sep=r"\s+" if sep == "whitespace" else sep, header=0 if header else None)
    if not header:
        df.columns = [str(i) for i in range(df.shape[1])]
    ids, dates, amounts = _column(df, id_col), _column(df, date_col), _column(df, amount_col)
    if date_format is None and pd.api.types.is_integer_dtype(dates) and dates.between(10_000_101, 99_991_231).all():
        date_format = "%Y%m%d"
    try:
        when = pd.to_datetime(dates.astype(str) if date_format else dates, format=date_format)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: column {date_col!r} does not parse as dates ({exc}); pass --date-format") from exc
    money = pd.to_numeric(amounts, errors="coerce")
    if money.isna().any():
        raise InputError(f"{path}: column {amount_col!r} has {int(money.isna().sum())} non-numeric amounts")
    out = pd.DataFrame({"customer": ids.to_numpy(), "date": when.to_numpy(), "amount": money.astype(float).to_numpy()})
    if out.empty:
        raise InputError(f"{path}: no transactions")
    return out


def daily(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day (same-day transactions merged, amounts summed), sorted."""
    d = transactions.assign(date=pd.to_datetime(transactions["date"]).dt.normalize())
    return d.groupby(["customer", "date"], as_index=False)["amount"].sum().sort_values(["customer", "date"], ignore_index=True)


def rfm_summary(
    transactions: pd.DataFrame,
    unit: str = "week",
    calibration_end: pd.Timestamp | str | None = None,
    observation_end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Frequency, recency, T and mean repeat spend per customer (FHL's summary of a transaction log).

    Same-day transactions count as one. frequency: repeat purchase days in the
    calibration period; recency: first to last purchase; T: first purchase to
    ``calibration_end`` (default: the last date in the log), in ``unit``;
    monetary_value: mean amount of the repeat purchase days (0 without any).
    Customers whose first purchase falls after ``calibration_end`` are left
    out. With ``observation_end`` also: holdout_frequency, purchase days in
    (calibration_end, observation_end].
    """
    days = _unit_days(unit)
    d = daily(transactions)
    end = pd.Timestamp(calibration_end) if calibration_end is not None else d["date"].max()
    first = d.groupby("customer")["date"].min()
    first = first[first <= end]
    cal = d[(d["date"] <= end) & d["customer"].isin(first.index)]
    g = cal.groupby("customer")
    n = g.size()
    last = g["date"].max()
    repeat_spend = (g["amount"].sum() - g["amount"].first()) / (n - 1).where(n > 1)
    out = pd.DataFrame({
        "frequency": (n - 1).astype(float),
        "recency": (last - first).dt.days / days,
        "T": (end - first).dt.days / days,
        "monetary_value": repeat_spend.fillna(0.0),
        "first": first,
    })
    if observation_end is not None:
        hold = d[(d["date"] > end) & (d["date"] <= pd.Timestamp(observation_end))]
        out["holdout_frequency"] = hold.groupby("customer").size().reindex(out.index, fill_value=0).astype(float)
    return out


def period_summary(transactions: pd.DataFrame, calibration_end: pd.Timestamp | str | None = None,
                   period_days: float = PERIOD_DAYS) -> pd.DataFrame:
    """Discrete-time (BG/BB) summary on each customer's own clock of periods after the first purchase.

    Period k covers days ((k-1) P, k P] after the first purchase (P =
    ``period_days``, a month by default); only whole periods before
    ``calibration_end`` count. Returns x (periods with a purchase), t_x (the
    last such period, 0 if none), n (whole periods observed) and k_tx
    (purchase days in the periods with a purchase, for transactions per
    buying period).
    """
    d = daily(transactions)
    end = pd.Timestamp(calibration_end) if calibration_end is not None else d["date"].max()
    first = d.groupby("customer")["date"].min()
    first = first[first <= end]
    n = np.floor((end - first).dt.days / period_days).astype(int)
    d = d[d["customer"].isin(first.index)]
    age = (d["date"] - d["customer"].map(first)).dt.days.to_numpy()
    k = np.ceil(age / period_days).astype(int)
    d = d.assign(k=k, n=d["customer"].map(n).to_numpy())
    rep = d[(d["k"] >= 1) & (d["k"] <= d["n"])]
    g = rep.groupby("customer")
    return pd.DataFrame({
        "x": g["k"].nunique().reindex(first.index, fill_value=0).astype(float),
        "t_x": g["k"].max().reindex(first.index, fill_value=0).astype(float),
        "n": n.astype(float),
        "k_tx": g.size().reindex(first.index, fill_value=0).astype(float),
    })


def _unit_days(unit: str) -> float:
    if unit not in DAYS_PER_UNIT:
        raise InputError(f"unit must be one of {', '.join(DAYS_PER_UNIT)}; got {unit!r}")
    return DAYS_PER_UNIT[unit]


# ---------------------------------------------------------------------------
# fitting machinery


@dataclass(frozen=True)
class Fit:
    """A maximum-likelihood fit: estimates, standard errors (inverse Hessian), log-likelihood."""

    model: str
    params: Params
    se: Params
    log_likelihood: float
    n: int  # customers in the fit
    unit: str  # time unit of rates and ages ("period" for BG/BB)
    converged: bool = True
    cov: np.ndarray | None = field(default=None, repr=False, compare=False)

    def table(self, published: Mapping[str, float] | None = None) -> pd.DataFrame:
        """One row per parameter: estimate, se, 95% interval (and the published value and relative gap, if given)."""
        rows = []
        for k, v in self.params.items():
            se = self.se[k]
            row = {"model": self.model, "parameter": k, "estimate": v, "se": se, "ci_low": v - 1.96 * se, "ci_high": v + 1.96 * se}
            if published is not None and k in published:
                row["published"] = published[k]
                row["rel_diff"] = v / published[k] - 1
            rows.append(row)
        return pd.DataFrame(rows)


def numerical_hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of f at x (step relative to max(|x|, 1))."""
    x = np.asarray(x, dtype=float)
    k = len(x)
    h = step * np.maximum(np.abs(x), 1.0)
    H = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


def _fit(model: str, names: Sequence[str], loglik: Callable[[np.ndarray], np.ndarray], start: Sequence[float],
         n: int, unit: str) -> Fit:
    """Maximise sum(loglik(params)) over log-params; standard errors from the inverse Hessian."""

    def nll(log_theta: np.ndarray) -> float:
        theta = np.exp(np.clip(log_theta, -30, 30))
        with np.errstate(all="ignore"):
            value = -float(np.sum(loglik(theta)))
        return value if np.isfinite(value) else 1e300

    x0 = np.log(np.asarray(start, dtype=float))
    res = optimize.minimize(nll, x0, method="L-BFGS-B")
    polish = optimize.minimize(nll, res.x, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 20_000, "maxfev": 20_000})
    best = polish if polish.fun <= res.fun else res
    res2 = optimize.minimize(nll, best.x, method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-9})
    if res2.fun <= best.fun:
        best = res2
    theta = np.exp(best.x)
    H = numerical_hessian(nll, best.x)
    try:
        cov_log = np.linalg.inv(H)
        cov = cov_log * np.outer(theta, theta)  # delta method: d theta = theta d log theta
        se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
        ok = bool(np.all(np.linalg.eigvalsh(H) > 0))
    except np.linalg.LinAlgError:
        cov, se, ok = None, np.full(len(theta), np.nan), False
    return Fit(model=model, params=dict(zip(names, map(float, theta))), se=dict(zip(names, map(float, se))),
               log_likelihood=-float(best.fun), n=n, unit=unit, converged=ok, cov=cov)


def _arrays(*cols: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(c, dtype=float) for c in cols)


# ---------------------------------------------------------------------------
# BG/NBD


def bgnbd_log_likelihood(params: Sequence[float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), params (r, alpha, a, b)."""
    r, alpha, a, b = params
    x, t_x, T = _arrays(frequency, recency, T)
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + special.betaln(a, b + x) - special.betaln(a, b)
    alive = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        died = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return base + np.logaddexp(alive, died)


def fit_bgnbd(frequency: Any, recency: Any, T: Any, unit: str = "week") -> Fit:
    """Maximum-likelihood BG/NBD fit (r, alpha, a, b)."""
    x, t_x, T = _arrays(frequency, recency, T)
    start = (0.5, max(float(np.mean(T)) / 5, 0.1), 1.0, 2.0)
    return _fit("bgnbd", ("r", "alpha", "a", "b"), lambda th: bgnbd_log_likelihood(th, x, t_x, T), start, len(x), unit)


def bgnbd_expected(t: Any, params: Mapping[str, float]) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a new customer in (0, t] (FHL 2005, eq. 7)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))


def bgnbd_conditional_expected(t: Any, params: Mapping[str, float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T+t] of a customer with history (x, t_x, T) (FHL 2005, eq. 10).

    ``t`` may be a scalar (one value per customer) or broadcast against the customers.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = _arrays(frequency, recency, T)
    t = np.asarray(t, dtype=float)
    num = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    with np.errstate(divide="ignore", invalid="ignore"):
        died = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return (a + b + x - 1) / (a - 1) * num / (1 + died)


def bgnbd_p_alive(params: Mapping[str, float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, eq. 11)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = _arrays(frequency, recency, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        died = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return 1 / (1 + died)


def bgnbd_p_zero(t: Any, params: Mapping[str, float]) -> np.ndarray:
    """P(X(t) = 0): chance a new customer makes no repeat purchase in (0, t]."""
    return (params["alpha"] / (params["alpha"] + np.asarray(t, dtype=float))) ** params["r"]


def simulate_bgnbd(params: Mapping[str, float], T: Any, rng: np.random.Generator) -> pd.DataFrame:
    """Draw BG/NBD purchase histories for customers observed for T (first purchase at 0).

    Returns frequency, recency, T (and the drawn lambda, p). Vectorised over
    customers, one loop step per purchase.
    """
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    t = np.zeros(n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0, idx.shape[0]) / lam[idx]
        bought = t[idx] <= T[idx]
        b = idx[bought]
        x[b] += 1
        t_x[b] = t[b]
        active[idx[~bought]] = False
        active[b[rng.random(b.shape[0]) < p[b]]] = False  # drops out after this purchase
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T, "lambda": lam, "p": p})


def simulate_transactions(bgnbd: Mapping[str, float], gamma_gamma: Mapping[str, float], customers: int,
                          start: str | pd.Timestamp, end: str | pd.Timestamp, rng: np.random.Generator,
                          cohort_days: int = 84, unit: str = "week") -> pd.DataFrame:
    """A transaction log (customer, date, amount) drawn from BG/NBD purchases and Gamma-Gamma spend.

    First purchases fall uniformly in the `cohort_days` days from `start`;
    rates are per `unit`; purchases after `end` are cut. Dates are whole days.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    days = _unit_days(unit)
    first = rng.integers(0, cohort_days, customers).astype(float)
    horizon = (end - start).days - first
    lam = rng.gamma(bgnbd["r"], 1.0 / bgnbd["alpha"], customers)
    p = rng.beta(bgnbd["a"], bgnbd["b"], customers)
    nu = rng.gamma(gamma_gamma["q"], 1.0 / gamma_gamma["gamma"], customers)
    who, when = [np.arange(customers)], [first]
    t = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0, idx.shape[0]) / lam[idx] * days
        ok = t[idx] <= horizon[idx]
        b = idx[ok]
        who.append(b)
        when.append(first[b] + t[b])
        active[idx[~ok]] = False
        active[b[rng.random(b.shape[0]) < p[b]]] = False
    who_a, when_a = np.concatenate(who), np.concatenate(when)
    amount = rng.gamma(gamma_gamma["p"], 1.0 / nu[who_a])
    out = pd.DataFrame({"customer": who_a, "date": start + pd.to_timedelta(np.floor(when_a), unit="D"), "amount": amount})
    return out.sort_values(["customer", "date"], ignore_index=True)


# ---------------------------------------------------------------------------
# Pareto/NBD


def paretonbd_log_likelihood(params: Sequence[float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eqs. 19-22), params (r, alpha, s, beta)."""
    r, alpha, s, beta = params
    x, t_x, T = _arrays(frequency, recency, T)
    rsx = r + s + x
    if alpha >= beta:
        hi, second = alpha, s + 1
    else:
        hi, second = beta, r + x
    diff = abs(alpha - beta)
    f1 = special.hyp2f1(rsx, second, rsx + 1, diff / (hi + t_x))
    f2 = special.hyp2f1(rsx, second, rsx + 1, diff / (hi + T))
    # log(A0) = log(f1 / (hi+t_x)^rsx - f2 / (hi+T)^rsx)
    la = np.log(f1) - rsx * np.log(hi + t_x)
    lb = np.log(f2) - rsx * np.log(hi + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = la + np.log1p(-np.exp(lb - la))
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    return base + np.logaddexp(alive, np.log(s) - np.log(rsx) + log_a0)


def fit_paretonbd(frequency: Any, recency: Any, T: Any, unit: str = "week") -> Fit:
    """Maximum-likelihood Pareto/NBD fit (r, alpha, s, beta)."""
    x, t_x, T = _arrays(frequency, recency, T)
    m = max(float(np.mean(T)) / 3, 0.1)
    return _fit("paretonbd", ("r", "alpha", "s", "beta"), lambda th: paretonbd_log_likelihood(th, x, t_x, T), (0.5, m, 0.5, m * 1.1), len(x), unit)


# ---------------------------------------------------------------------------
# BG/BB (crmsim's own per-period model on neutral settings)


def bgbb_log_likelihood(params: Sequence[float], x: Any, t_x: Any, n: Any) -> np.ndarray:
    """Per-customer BG/BB log-likelihood (Fader, Hardie & Shang 2010, eq. 5), params (alpha, beta, gamma, delta).

    x purchases in n periods after the first, the last in period t_x; an
    alive customer drops out at the start of a period with probability theta,
    then buys with probability p.
    """
    al, be, ga, de = params
    x, t_x, n = _arrays(x, t_x, n)
    b0, g0 = special.betaln(al, be), special.betaln(ga, de)
    terms = [special.betaln(al + x, be + n - x) - b0 + special.betaln(ga, de + n) - g0]
    for i in range(int(np.max(n - t_x)) if len(n) else 0):
        ok = i <= n - t_x - 1
        term = special.betaln(al + x, be + t_x - x + i) - b0 + special.betaln(ga + 1, de + t_x + i) - g0
        terms.append(np.where(ok, term, -np.inf))
    return special.logsumexp(np.stack(terms), axis=0)


def fit_bgbb(x: Any, t_x: Any, n: Any) -> Fit:
    """Maximum-likelihood BG/BB fit: crmsim's purchase Beta (alpha, beta) and dropout Beta (gamma, delta) per period."""
    x, t_x, n = _arrays(x, t_x, n)
    keys = pd.DataFrame({"x": x, "t_x": t_x, "n": n}).value_counts().reset_index(name="count")  # identical histories fit once
    xs, ts, ns, w = (keys[c].to_numpy(dtype=float) for c in ("x", "t_x", "n", "count"))
    return _fit("bgbb", ("alpha", "beta", "gamma", "delta"), lambda th: w * bgbb_log_likelihood(th, xs, ts, ns),
                (0.5, 2.0, 0.5, 10.0), len(x), "period")


# ---------------------------------------------------------------------------
# Gamma-Gamma spend


def gamma_gamma_log_likelihood(params: Sequence[float], frequency: Any, monetary_value: Any) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean repeat spend m over x transactions, params (p, q, gamma)."""
    p, q, g = params
    x, m = _arrays(frequency, monetary_value)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x))


def fit_gamma_gamma(frequency: Any, monetary_value: Any) -> Fit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with at least one repeat purchase and positive spend."""
    x, m = _arrays(frequency, monetary_value)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < 3:
        raise InputError(f"Gamma-Gamma needs customers with repeat purchases; got {len(x)}")
    start = (2.0, 3.0, float(np.mean(m)))
    return _fit("gamma_gamma", ("p", "q", "gamma"), lambda th: gamma_gamma_log_likelihood(th, x, m), start, len(x), "money")


def simulate_gamma_gamma(params: Mapping[str, float], frequency: Any, rng: np.random.Generator) -> np.ndarray:
    """Mean spend of `frequency` Gamma-Gamma transactions per customer (0 where frequency is 0)."""
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(params["q"], 1.0 / params["gamma"], x.shape[0])
    total = rng.gamma(np.maximum(params["p"] * x, 1e-12), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1), 0.0)


# ---------------------------------------------------------------------------
# the mapping to crmsim's [market] parameters


def beta_from_moments(mean: float, second: float) -> tuple[float, float]:
    """Beta(alpha, beta) with the given mean and second raw moment (method of moments)."""
    var = second - mean * mean
    if not 0 < mean < 1 or not 0 < var < mean * (1 - mean):
        raise ValueError(f"no Beta has mean {mean:g} and variance {var:g}")
    k = mean * (1 - mean) / var - 1
    return mean * k, (1 - mean) * k


def bgnbd_period_moments(params: Mapping[str, float], length: float) -> dict[str, float]:
    """Moments of BG/NBD's per-period event chances for a period of `length` time units.

    pi = 1 - exp(-lambda L): chance an alive customer buys at least once in a period;
    theta = 1 - exp(-lambda L p): chance he drops out in a period (dropout follows each
    purchase with probability p, purchases are Poisson(lambda L) in the period).
    E[exp(-c lambda)] = (alpha / (alpha + c))^r and, over p ~ Beta(a, b),
    E[(1 + c p / alpha)^-r] = 2F1(r, a; a+b; -c/alpha) (Euler's integral).
    Also the mean purchases per buying period, E[lambda L] / E[pi].
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    L = float(length)
    e1 = (alpha / (alpha + L)) ** r
    e2 = (alpha / (alpha + 2 * L)) ** r
    s1 = float(special.hyp2f1(r, a, a + b, -L / alpha))
    s2 = float(special.hyp2f1(r, a, a + b, -2 * L / alpha))
    return {
        "purchase_mean": 1 - e1,
        "purchase_second": 1 - 2 * e1 + e2,
        "dropout_mean": 1 - s1,
        "dropout_second": 1 - 2 * s1 + s2,
        "purchases_per_buying_period": r * L / alpha / (1 - e1),
    }


def spend_lognormal(gg: Mapping[str, float]) -> tuple[float, float]:
    """Median and log-s.d. of a lognormal matching the log-moments of Gamma-Gamma's mean spend per customer.

    A customer's mean spend is p / nu with nu ~ Gamma(q, rate gamma), so its log has mean
    log p + log gamma - digamma(q) and variance trigamma(q).
    """
    p, q, g = gg["p"], gg["q"], gg["gamma"]
    return float(p * g * math.exp(-special.digamma(q))), float(math.sqrt(special.polygamma(1, q)))


def market_from_moments(bgnbd: Mapping[str, float], gamma_gamma: Mapping[str, float] | None, unit: str,
                        reference_price: float = 100.0) -> tuple[dict[str, float], float]:
    """crmsim [market] parameters by moment matching each BG/NBD trait to a month (the "moments" mapping).

    With L the length of a month in `unit`:

    - purchase_alpha, purchase_beta: the Beta whose mean and variance equal those of
      pi = 1 - exp(-lambda L), the chance an alive customer buys in a month (crmsim
      counts one purchase occasion a period);
    - dropout_alpha, dropout_beta: the Beta matching the mean and variance of
      theta = 1 - exp(-lambda L p), the chance of dropping out in a month;
    - units: see :func:`units_from_spend`, with m = E[lambda L] / E[pi] purchases per buying month.

    The marginal distributions are exact to two moments, but crmsim draws the two
    traits independently, while in BG/NBD the monthly dropout chance grows with
    lambda (dropout follows purchases): heavy buyers keep buying and CDNOW's repeat
    purchases come out about twice too many (docs/validation.md). Kept for comparison.
    Returns the parameters and m.
    """
    mom = bgnbd_period_moments(bgnbd, PERIOD_DAYS / _unit_days(unit))
    pa, pb = beta_from_moments(mom["purchase_mean"], mom["purchase_second"])
    da, db = beta_from_moments(mom["dropout_mean"], mom["dropout_second"])
    m = mom["purchases_per_buying_period"]
    out = {"purchase_alpha": pa, "purchase_beta": pb, "dropout_alpha": da, "dropout_beta": db}
    return out | units_from_spend(gamma_gamma, m, reference_price), m


def market_from_bgbb(bgbb: Mapping[str, float], purchases_per_buying_period: float,
                     gamma_gamma: Mapping[str, float] | None, reference_price: float = 100.0) -> dict[str, float]:
    """crmsim [market] parameters from a monthly BG/BB (alpha, beta, gamma, delta): purchase and dropout Betas as they are."""
    out = {"purchase_alpha": bgbb["alpha"], "purchase_beta": bgbb["beta"], "dropout_alpha": bgbb["gamma"], "dropout_beta": bgbb["delta"]}
    return out | units_from_spend(gamma_gamma, purchases_per_buying_period, reference_price)


def units_from_spend(gamma_gamma: Mapping[str, float] | None, purchases_per_buying_period: float,
                     reference_price: float = 100.0) -> dict[str, float]:
    """units_median and units_sigma from Gamma-Gamma spend (empty without a spend fit).

    A crmsim purchase occasion (one a month at most) carries m purchases on average,
    each worth the customer's Gamma-Gamma mean spend; units = m x spend /
    reference_price, lognormal with the spend's log-moments (:func:`spend_lognormal`).
    """
    if gamma_gamma is None:
        return {}
    median, sigma = spend_lognormal(gamma_gamma)
    return {"units_median": median * purchases_per_buying_period / reference_price, "units_sigma": sigma,
            "reference_price": reference_price}
def simulate_bgnbd_periods(params: Mapping[str, float], length: float, periods: int, customers: int,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD customers seen in discrete periods of `length` time units after their first purchase.

    Per period an alive customer makes n ~ Poisson(lambda L) purchases and
    drops out after each with probability p (so he makes min(n, G) of them,
    G ~ Geometric(p), and is dead afterwards if G <= n). Returns the
    (customers, periods) booleans "bought in the period" and the purchase counts.
    """
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], customers)
    p = rng.beta(params["a"], params["b"], customers)
    alive = np.ones(customers, dtype=bool)
    bought = np.zeros((customers, periods), dtype=bool)
    count = np.zeros((customers, periods), dtype=np.int64)
    for k in range(periods):
        n = np.where(alive, rng.poisson(lam * length), 0)
        g = rng.geometric(np.clip(p, 1e-12, 1.0))
        count[:, k] = np.minimum(n, g)
        bought[:, k] = n > 0
        alive &= g > n
    return bought, count


def project_bgnbd(params: Mapping[str, float], unit: str, periods: int = 12, customers: int = 200_000,
                  seed: int = 0) -> tuple[Fit, float]:
    """crmsim's per-period model (BG/BB) closest to a BG/NBD: the BG/BB fitted to BG/NBD customers seen monthly.

    Draws `customers` BG/NBD customers, records in which of `periods` months
    after the first purchase each buys (:func:`simulate_bgnbd_periods`), and
    fits BG/BB by maximum likelihood to those histories: with a large sample,
    the BG/BB minimising the Kullback-Leibler divergence from the BG/NBD's
    distribution of monthly histories. Returns the fit and the mean purchases
    per buying month. Deterministic for a given seed.
    """
    length = PERIOD_DAYS / _unit_days(unit)
    rng = stream_rng(seed, CALIBRATION_STREAM)
    bought, count = simulate_bgnbd_periods(params, length, periods, customers, rng)
    k = np.arange(1, periods + 1)
    x = bought.sum(axis=1)
    t_x = (bought * k).max(axis=1)
    fit = fit_bgbb(x, t_x, np.full(customers, periods))
    return fit, float(count.sum() / max(bought.sum(), 1))



# ---------------------------------------------------------------------------
# the whole calibration


#: How a calibration becomes crmsim's [market] parameters (``--mapping``):
#: "bgnbd" the BG/BB projection of the BG/NBD fit (default), "bgbb" BG/BB fitted straight to the monthly
#: histories, "moments" BG/NBD traits moment-matched one by one (kept for comparison: it over-predicts).
MAPPINGS = ("bgnbd", "bgbb", "moments")
#: Months over which the BG/NBD is projected onto crmsim's per-period model: a classroom game's length.
PROJECTION_PERIODS = 12


@dataclass(frozen=True)
class Calibration:
    """Fits of one transaction log and the crmsim [market] parameters they give."""

    summary: pd.DataFrame  # rfm_summary
    periods: pd.DataFrame  # period_summary (months)
    fits: dict[str, Fit]  # bgnbd, bgbb, gamma_gamma (and paretonbd)
    projection: Fit  # the BG/BB closest to the BG/NBD over `projection_periods` months
    markets: dict[str, dict[str, float]]  # by mapping (MAPPINGS)
    occasions: dict[str, float]  # by mapping: mean purchases per crmsim purchase occasion (buying month)
    mapping: str  # the one written to the snippet
    unit: str
    calibration_end: pd.Timestamp
    projection_periods: int = PROJECTION_PERIODS
    unavailable: dict[str, str] = field(default_factory=dict)  # mappings this log cannot give (not in markets), and why

    @property
    def market(self) -> dict[str, float]:
        return self.markets[self.mapping]

    def table(self) -> pd.DataFrame:
        """Every fitted parameter with its standard error and 95% interval."""
        return pd.concat([f.table() for f in self.fits.values()], ignore_index=True)

    def toml(self, source: str = "") -> str:
        """A scenario [market] section (TOML) reproducing the customer base."""
        return market_toml(self, source)


def calibrate(transactions: pd.DataFrame, unit: str = "week", calibration_end: pd.Timestamp | str | None = None,
              pareto: bool = False, reference_price: float = 100.0, mapping: str = "bgnbd",
              periods: int = PROJECTION_PERIODS) -> Calibration:
    """Fit BG/NBD, BG/BB and Gamma-Gamma (and Pareto/NBD if asked) to a transaction log; map to crmsim.

    Args:
        transactions: columns customer, date, amount (see :func:`read_transactions`).
        unit: time unit of the BG/NBD and Pareto/NBD fits ("week" or "month"; "day" works too).
        calibration_end: last date of the calibration period (default: the last date in the log).
        pareto: also fit Pareto/NBD.
        reference_price: crmsim's reference price; units per purchase are spend / reference_price.
        mapping: which [market] parameters :meth:`Calibration.toml` writes (see MAPPINGS).
        periods: months over which the BG/NBD is projected onto crmsim's model (the "bgnbd" mapping).

    Every mapping is worked out, for comparison; one the log cannot give (moment matching, when a monthly
    trait's fitted variance is not one a Beta can have) is left out of ``markets`` and named in ``unavailable``.

    Raises:
        InputError: a bad argument, a log too thin to fit, or a `mapping` the log cannot give (naming why and
            the mappings it can give).
    """
    if mapping not in MAPPINGS:
        raise InputError(f"mapping must be one of {', '.join(MAPPINGS)}; got {mapping!r}")
    _unit_days(unit)
    if not reference_price > 0:
        raise InputError(f"reference_price must be > 0; got {reference_price:g}")
    if not 1 <= periods <= 240:
        raise InputError(f"periods must be in [1, 240]; got {periods}")
    summary = rfm_summary(transactions, unit, calibration_end)
    end = pd.Timestamp(calibration_end) if calibration_end is not None else pd.to_datetime(transactions["date"]).max().normalize()
    if len(summary) < 10:
        raise InputError(f"need at least 10 customers to calibrate; got {len(summary)}")
    if summary["frequency"].sum() == 0:
        raise InputError("no customer made a repeat purchase: purchase and dropout rates cannot be told apart")
    fits = {"bgnbd": fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], unit)}
    if pareto:
        fits["paretonbd"] = fit_paretonbd(summary["frequency"], summary["recency"], summary["T"], unit)
    months = period_summary(transactions, end)
    observed = months[months["n"] > 0]
    if observed["x"].sum() == 0:
        raise InputError("no repeat purchase in a whole month after a first purchase: calibrate on a longer period")
    fits["bgbb"] = fit_bgbb(observed["x"], observed["t_x"], observed["n"])
    gg = None
    if (summary["frequency"] > 0).sum() >= 3:
        fits["gamma_gamma"] = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
        gg = fits["gamma_gamma"].params
    projection, m_projection = project_bgnbd(fits["bgnbd"].params, unit, periods)
    m_observed = float(observed["k_tx"].sum() / observed["x"].sum())
    markets = {
        "bgnbd": market_from_bgbb(projection.params, m_projection, gg, reference_price),
        "bgbb": market_from_bgbb(fits["bgbb"].params, m_observed, gg, reference_price),
    }
    occasions = {"bgnbd": m_projection, "bgbb": m_observed}
    unavailable = {}
    try:  # moment matching needs each monthly trait's variance inside what a Beta can have
        markets["moments"], occasions["moments"] = market_from_moments(fits["bgnbd"].params, gg, unit, reference_price)
    except ValueError as exc:
        unavailable["moments"] = str(exc)
    if mapping in unavailable:
        others = ", ".join(m for m in MAPPINGS if m in markets)
        raise InputError(f"mapping {mapping}: this log cannot give it ({unavailable[mapping]}); use another mapping: {others}")
    return Calibration(summary=summary, periods=months, fits=fits, projection=projection, markets=markets,
                       occasions=occasions, mapping=mapping, unit=unit, calibration_end=end, projection_periods=periods,
                       unavailable=unavailable)


def check_market(market: Mapping[str, float]) -> list[str]:
    """Problems (empty if none) of [market] values against the scenario schema's bounds."""
    from pydantic import ValidationError

    from crmsim.scenarios.schema import Market

    try:
        Market(**market)
    except ValidationError as exc:
        return [f"market.{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()]
    return []


def market_toml(cal: Calibration, source: str = "") -> str:
    """The [market] section of a scenario file, with the fits it came from as comments."""
    bg = cal.fits["bgnbd"].params
    lines = [
        f"# crmsim calibrate{(' ' + source) if source else ''}: {len(cal.summary):,} customers, calibration period ending "
        f"{cal.calibration_end.date()}, BG/NBD fitted in {cal.unit}s.",
        "# BG/NBD: " + ", ".join(f"{k}={v:.4g}" for k, v in bg.items()),
    ]
    if "gamma_gamma" in cal.fits:
        lines.append("# Gamma-Gamma: " + ", ".join(f"{k}={v:.4g}" for k, v in cal.fits["gamma_gamma"].params.items()))
    lines.append("# BG/BB fitted to the monthly histories: " + ", ".join(f"{k}={v:.4g}" for k, v in cal.fits["bgbb"].params.items()))
    lines.append(f"# purchases per crmsim purchase occasion (a buying month): {cal.occasions[cal.mapping]:.3f}")
    how = {
        "bgnbd": f"the BG/BB (crmsim's per-period model) closest to the BG/NBD over {cal.projection_periods} months "
                 "(maximum likelihood on simulated BG/NBD customers seen monthly); see docs/validation.md",
        "bgbb": "BG/BB fitted directly to the monthly purchase histories (crmsim's own model on neutral settings)",
        "moments": "BG/NBD traits moment-matched one by one to a month (over-predicts: see docs/validation.md)",
    }[cal.mapping]
    lines += [f"# mapping: {how}.", "# Paste into a scenario file (extends = \"classroom-v1\") or merge with its [market] table.", "[market]"]
    for key, value in cal.market.items():
        lines.append(f"{key} = {value:.6g}")
    return "\n".join(lines) + "\n"

