"""The game's data frames, declared once: every column with its dtype, its meaning and when it is missing.

:meth:`crmsim.sim.model.CRMModel.frames` and :func:`crmsim.research.runner.run_game` type their frames with
:func:`typed`, CSV files read back through :func:`read_csv` with the same dtypes that Parquet keeps, and
docs/data.md is generated from these declarations (``python -m crmsim.sim.frames docs/data.md``; a test
checks it is up to date and that every column a game produces is declared here).

Dtypes are pandas': ``int64`` (a whole number, never missing), ``Int64`` (a whole number that may be
missing: pandas' nullable integer), ``float64`` (missing: NaN), ``bool`` and ``str`` (text; missing: NaN);
the tracked customers keep the population's narrow ``float32``, ``int8`` and ``int16``.
Counts are whole numbers even where the engine sums them in floating point. Every game frame starts with
``run_id`` and ``seed``, the game's provenance hash and seed (crmsim.sim.export.provenance).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from crmsim.sim.accounts import LEDGER_FIELDS
from crmsim.sim.tenders import VOID_REASONS

DTYPES = ("int64", "Int64", "int16", "int8", "float64", "float32", "bool", "str", "object")


@dataclass(frozen=True)
class Column:
    """One column of a frame."""

    name: str
    dtype: str  # one of DTYPES
    doc: str
    missing: str = ""  # when the value is missing (empty: never)
    unit: str = ""


@dataclass(frozen=True)
class Frame:
    """One frame: what a row is, its columns in order, and columns named by a prefix (``param:<key>``)."""

    name: str
    row: str
    columns: tuple[Column, ...]
    doc: str = ""
    prefixes: tuple[Column, ...] = ()  # columns whose name starts with Column.name; dtype as given

    @functools.cached_property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    def column(self, name: str) -> Column | None:
        found = self.by_name.get(name)
        return found if found is not None else next((c for c in self.prefixes if name.startswith(c.name)), None)


def _c(name: str, dtype: str, doc: str, missing: str = "", unit: str = "") -> Column:
    return Column(name, dtype, doc, missing, unit)


RUN = (
    _c("run_id", "str", "the game's provenance hash: crmsim version, scenario content, seed and line-up (crmsim.sim.export.provenance)"),
    _c("seed", "int64", "the game seed"),
)
KEY = (_c("period", "int64", "the period (1-based)"),)

_LEDGER_DOCS = {
    "cash_start": ("cash at the start of the period", "¥"),
    "revenue_market": ("mass-market sales: units sold × price", "¥"),
    "revenue_contracts": ("revenue of the contracts delivered this period", "¥"),
    "cost_of_goods": ("units sold and delivered × unit cost", "¥"),
    "salaries": ("salaries of the sales and service staff after hires and fires", "¥"),
    "hiring": ("hiring costs", "¥"),
    "severance": ("severance paid for fires", "¥"),
    "service_cost": ("service cost of the customers served and of the contracts delivered", "¥"),
    "care": ("the care budget", "¥"),
    "advertising": ("the advertising budget", "¥"),
    "cultivation": ("cultivation spend: ¥ budgets per client, or the sales activities' cost", "¥"),
    "research": ("market research fees (市场调研)", "¥"),
    "retention": ("the retention budget", "¥"),
    "bonds_kept": ("bid bonds kept by clients (a defaulted contract)", "¥"),
    "penalties": ("delivery shortfall penalties", "¥"),
    "interest": ("interest on ordinary and emergency debt", "¥"),
    "adjustment": ("the instructor's bonus (+) or penalty (-)", "¥"),
    "borrowing": ("ordinary borrowing this period", "¥"),
    "repayment": ("repayment this period (emergency loans first)", "¥"),
    "emergency_loan": ("the emergency loan that covered a cash shortfall", "¥"),
}
_TIER = {"a": "A", "b": "B", "c": "C"}

FIRMS = Frame(
    "firms",
    "one firm in one period (bankrupt firms included): the firm table of docs/rules.md section 10",
    (
        *RUN,
        *KEY,
        _c("firm", "int64", "the firm's index (seat)"),
        _c("name", "str", "the firm's display name"),
        _c("bankrupt", "bool", "bankrupt at the end of the period"),
        _c("bankrupt_period", "Int64", "the period it went bankrupt", "while the firm is live"),
        _c("submitted", "bool", "submitted a decision (else it kept its standing decision)"),
        _c("price", "float64", "mass-market price this period", "after the period the firm went bankrupt", "¥ per unit"),
        _c("service_level", "float64", "service level this period (0 once bankrupt)", unit="0-1"),
        _c("delivered_quality", "float64", "service level × capacity effect", unit="0-1"),
        _c("utilisation", "float64", "load / service capacity (inf with no service staff)"),
        _c("sales_staff", "int64", "sales staff after this period's hires and fires", unit="people"),
        _c("service_staff", "int64", "service staff after this period's hires and fires", unit="people"),
        _c("cash", "float64", "cash at the end of the period", unit="¥"),
        _c("debt", "float64", "ordinary debt at the end of the period", unit="¥"),
        _c("emergency_debt", "float64", "emergency debt at the end of the period", unit="¥"),
        _c("equity", "float64", "cash - debt - emergency debt", unit="¥"),
        *(_c(k, "float64", f"ledger: {_LEDGER_DOCS[k][0]}", unit=_LEDGER_DOCS[k][1]) for k in LEDGER_FIELDS if k != "cash_start"),
        _c("revenue", "float64", "revenue_market + revenue_contracts", unit="¥"),
        _c("operating_costs", "float64", "every outflow but interest", unit="¥"),
        _c("operating_profit", "float64", "revenue - operating costs", unit="¥"),
        _c("net_profit", "float64", "operating profit - interest", unit="¥"),
        _c("cash_start", "float64", f"ledger: {_LEDGER_DOCS['cash_start'][0]}", unit="¥"),
        _c("cum_operating_profit", "float64", "operating profit summed over the game so far", unit="¥"),
        _c("customers_start", "int64", "customers at the start of the period", unit="customers"),
        _c("customers", "int64", "customers at the end of the period (0 for a firm bankrupt this period)", unit="customers"),
        _c("customers_released", "int64", "customers a firm going bankrupt this period lost to the prospects", unit="customers"),
        _c("acquired", "int64", "customers who joined (switchers and adopters)", unit="customers"),
        _c("lost", "int64", "customers who defected", unit="customers"),
        _c("acquisition_rate", "float64", "acquired / every firm's acquisitions this period", unit="0-1"),
        _c("retention_rate", "float64", "1 - lost / customers_start (0 with no customers at the start)", unit="0-1"),
        _c("churn_rate", "float64", "lost / customers_start", "with no customers at the start (0 once bankrupt)", "0-1"),
        _c("avg_satisfaction", "float64", "mean cumulative satisfaction of the end-of-period customers (0 with none)", unit="0-10"),
        _c("avg_loyalty", "float64", "mean loyalty of the end-of-period customers", "with no customers at the end (0 once bankrupt)", "0-1"),
        _c("care_intensity", "float64", "share of the full care effect bought (docs/rules.md 4.2)", unit="0-1"),
        _c("complaints", "int64", "complaints made by the firm's customers", unit="customers"),
        _c("resolved_quickly", "int64", "complaints resolved quickly", unit="customers"),
        _c("resolved", "int64", "complaints resolved (not quickly)", unit="customers"),
        _c("unresolved", "int64", "complaints not resolved", unit="customers"),
        _c("silent_dissatisfied", "int64", "dissatisfied customers who did not complain", unit="customers"),
        _c("resolution_rate", "float64", "(resolved quickly + resolved) / complaints", "with no complaints", "0-1"),
        _c("units_sold", "float64", "mass-market units sold", unit="units"),
        _c("buyers", "int64", "customers who bought this period", unit="customers"),
        _c("share_of_wallet", "float64", "units sold / units the firm's customers would buy at their base propensity",
           "when the firm's customers would buy nothing"),
        _c("market_share_customers", "float64", "share of every live firm's customers at the end of the period", unit="0-1"),
        _c("market_share_revenue", "float64", "share of every firm's revenue (contracts included)", unit="0-1"),
        _c("customer_equity", "float64", "Σ customer lifetime value of the firm's customers (0 once bankrupt)", unit="¥"),
        *(_c(f"tier_{t}", "int64", f"the firm's customers in ABC value tier {T}", unit="customers") for t, T in _TIER.items()),
        *(c for t, T in _TIER.items() for c in (
            _c(f"revenue_{t}", "float64", f"revenue from tier-{T} buyers (their tier at the start of the period)", unit="¥"),
            _c(f"margin_{t}", "float64", f"tier-{T} revenue less its cost of goods, service cost and care spent on it", unit="¥"),
            _c(f"at_risk_{t}", "int64", f"the firm's tier-{T} customers the churn warning flags at the end", unit="customers"),
        )),
        _c("promoters", "int64", "customers who are promoters", unit="customers"),
        _c("detractors", "int64", "customers who are detractors", unit="customers"),
        _c("reputation", "float64", "reputation carried into the next period", unit="0-1"),
        _c("awareness", "float64", "awareness carried into the next period", unit="0-1"),
        _c("relationship_mean", "float64", "mean relationship R over every key client", unit="0-1"),
        _c("tenders_bid", "int64", "bids this period (on tenders not open included)"),
        _c("tenders_won", "int64", "tenders won this period"),
        _c("tenders_voided", "int64", "bids voided this period"),
        *(_c(f"void_{r.lower()}", "int64", f"bids voided {r} (docs/rules.md 6.4)") for r in VOID_REASONS),
        _c("score_financial", "float64", "scorecard: financial component", unit="0-100"),
        _c("score_customer", "float64", "scorecard: customer component", unit="0-100"),
        _c("score_relationship", "float64", "scorecard: relationship component", unit="0-100"),
        _c("score_growth", "float64", "scorecard: growth component", unit="0-100"),
        _c("score", "float64", "the weighted scorecard total (docs/rules.md 11)", unit="0-100"),
        _c("rank", "int64", "rank after the period (1 = best; bankrupt firms last)"),
        _c("strategy", "str", "the seat's strategy label (a bot spec, or human)"),
    ),
)

BIDS = Frame(
    "bids",
    "one bid (bids on tenders not open this period included, with no tender outcome): the published tender results",
    (
        *RUN,
        *KEY,
        _c("tender", "str", "the tender's id (<client>-<period>, rN for a re-issue)"),
        _c("client", "str", "the key client (empty for a bid on no known tender)"),
        _c("firm", "int64", "the bidding firm's index"),
        _c("price", "float64", "the bid price", "for a malformed price", "¥ per unit"),
        _c("promised_service", "float64", "the promised service level", "for a malformed promise", "0-1"),
        _c("valid", "bool", "the bid passed every check"),
        _c("void_reason", "str", "why the bid was voided (docs/rules.md 6.4)", "for a valid bid"),
        _c("void_detail", "str", "the void reason in words (empty for a valid bid)"),
        _c("price_score", "float64", "w_price × 100 × lowest valid price / price (0 when void)", unit="points"),
        _c("service_score", "float64", "w_service × 100 × promised service (0 when void)", unit="points"),
        _c("relationship_score", "float64", "w_relationship × 100 × R (0 when void)", unit="points"),
        _c("total", "float64", "the bid's total score (0 when void)", unit="points"),
        _c("rank", "Int64", "rank among the tender's valid bids", "for a void bid or a failed tender"),
        _c("won", "bool", "the bid won the tender"),
        _c("points_behind", "float64", "the winner's total minus this bid's", unit="points"),
        _c("tender_failed", "bool", "the tender failed (流标)"),
        _c("margin_points", "float64", "the winner's lead over the runner-up", "with one valid bid, a failed tender or no tender", "points"),
        _c("max_winning_price", "float64", "the highest price at which the winner would still have won",
           "for a failed tender or no tender", "¥ per unit"),
    ),
)

TENDERS = Frame(
    "tenders",
    "one tender awarded (or failed) this period",
    (
        *RUN,
        *KEY,
        _c("tender", "str", "the tender's id"),
        _c("client", "str", "the key client"),
        _c("volume", "int64", "units the contract covers", unit="units"),
        _c("price_cap", "float64", "the highest valid price", unit="¥ per unit"),
        _c("required_service", "float64", "the lowest valid promised service", unit="0-1"),
        _c("closed", "bool", "an invited (closed) tender"),
        _c("reissue", "int64", "0 for a first issue, n for the n-th re-issue after a failure"),
        _c("bids", "int64", "bids received"),
        _c("valid_bids", "int64", "valid bids"),
        _c("failed", "bool", "fewer valid bids than the tender's minimum (流标)"),
        _c("winner", "Int64", "the winning firm's index", "for a failed tender"),
        _c("winning_price", "float64", "the winning bid's price", "for a failed tender", "¥ per unit"),
        _c("margin_points", "float64", "the winner's lead over the runner-up", "with one valid bid or a failed tender", "points"),
        _c("max_winning_price", "float64", "the highest price at which the winner would still have won", "for a failed tender", "¥ per unit"),
        _c("tie_break", "str", "how a tie for first was broken: price or lot", "without a tie"),
    ),
)

RELATIONSHIPS = Frame(
    "relationships",
    "one firm and one key client after the period",
    (
        *RUN,
        *KEY,
        _c("firm", "int64", "the firm's index"),
        _c("client", "str", "the key client"),
        _c("relationship", "float64", "relationship R", unit="0-1"),
        _c("client_satisfaction", "float64", "the client's satisfaction with the firm", unit="0-10"),
        _c("stage", "str", "lifecycle stage (potential, target, evaluation, formation, stable); lifecycle cultivation only"),
        _c("progress", "float64", "progress toward the next stage; lifecycle cultivation only", unit="0-1"),
        _c("idle", "int64", "periods since the firm's last contact; lifecycle cultivation only", unit="periods"),
        _c("activity_cost", "float64", "this period's sales activities' cost; lifecycle cultivation only", unit="¥"),
        _c("activity_hours", "float64", "this period's sales hours; lifecycle cultivation only", unit="hours"),
        _c("progress_gained", "float64", "progress gained this period; lifecycle cultivation only"),
        _c("rival_hold", "str", "the strongest rival stage the firm faced (none, or a stage); lifecycle cultivation only"),
    ),
    doc="A scenario that cultivates by spend has only the columns up to client_satisfaction.",
)

EVENTS = Frame(
    "events",
    "one entry of the period's event log",
    (
        *RUN,
        *KEY,
        _c("kind", "str", "what happened (standing_decision, tender_awarded, bid_void, bankruptcy, event:<kind>, ...)"),
        _c("firm", "Int64", "the firm concerned", "for a market-wide entry (a tender published or failed, a market event)"),
        _c("detail", "str", "the entry in words"),
    ),
)

DECISIONS = Frame(
    "decisions",
    "one live firm's decision in force this period (submitted, a bot's, or its standing decision)",
    (
        *RUN,
        *KEY,
        _c("firm", "int64", "the firm's index"),
        _c("submitted", "bool", "submitted (else the standing decision)"),
        _c("price", "float64", "mass-market price", unit="¥ per unit"),
        _c("service_level", "float64", "service level", unit="0-1"),
        _c("care_budget", "float64", "care budget", unit="¥"),
        _c("advertising_budget", "float64", "advertising budget", unit="¥"),
        _c("hire_sales", "int64", "sales staff hired", unit="people"),
        _c("fire_sales", "int64", "sales staff fired", unit="people"),
        _c("hire_service", "int64", "service staff hired", unit="people"),
        _c("fire_service", "int64", "service staff fired", unit="people"),
        _c("cultivation_total", "float64", "cultivation budgets summed over the clients", unit="¥"),
        _c("cultivated_clients", "str", "the clients with a cultivation budget, comma-separated (empty for none)"),
        _c("bids", "int64", "bids submitted"),
        _c("borrow", "float64", "ordinary borrowing", unit="¥"),
        _c("repay", "float64", "repayment", unit="¥"),
        _c("late", "bool", "the decision arrived after the deadline"),
    ),
)

MARKET = Frame(
    "market",
    "one period of the market (the model reporters; step 0 only in datacollector.get_model_vars_dataframe())",
    (
        *RUN,
        *KEY,
        _c("prospects", "int64", "customers with no supplier at the end of the period (after any bankruptcy release)", unit="customers"),
        _c("adopters", "int64", "prospects who adopted this period", unit="customers"),
        _c("live_firms", "int64", "firms not bankrupt at the end of the period"),
        _c("purchase_factor", "float64", "the events' multiplier on purchase propensity (recession, boom)"),
        _c("open_contracts", "int64", "contracts won and not yet delivered"),
    ),
)

CUSTOMERS = Frame(
    "customers",
    "one tracked customer in one period (the first market.track_customers; ``crmsim run --customers``)",
    (
        *RUN,
        *KEY,
        _c("customer", "int64", "the customer's index"),
        _c("supplier", "int8", "the supplier's firm index at the end of the period (-1: a prospect)"),
        _c("satisfaction", "float32", "cumulative satisfaction", unit="0-10"),
        _c("expectation", "float32", "expected quality", unit="0-1"),
        _c("loyalty", "float32", "loyalty", unit="0-1"),
        _c("perceived", "float32", "perceived quality this period", "for a prospect at the start of the period", "0-1"),
        _c("bought", "bool", "bought this period"),
        _c("units", "float32", "units bought", unit="units"),
        _c("spend", "float32", "units × the supplier's price", unit="¥"),
        _c("complaint", "int8", "complaint outcome code (0 none, 1 resolved quickly, 2 resolved, 3 unresolved, 4 silent)"),
        _c("defected", "bool", "left the supplier this period"),
        _c("tenure", "int16", "periods with the current supplier", unit="periods"),
    ),
    doc="The population's own narrow dtypes (float32 reals, int8 codes, int16 tenure), as the engine keeps them.",
)

_FINAL = {c.name: c for c in FIRMS.columns}
RUNS = Frame(
    "runs",
    "one firm in one game of a research batch: its final standing and the game's texture "
    "(crmsim.research.runner.run_game, the rows of execute, sweeps and tournaments)",
    (
        *RUN,
        _c("scenario", "str", "the scenario as the spec names it (a shipped name or a path)"),
        _c("firm", "int64", "the firm's index (seat)"),
        _c("strategy", "str", "the seat's strategy label"),
        _c("name", "str", "the firm's display name"),
        *(Column(n, _FINAL[n].dtype, f"after the last period: {_FINAL[n].doc}", _FINAL[n].missing, _FINAL[n].unit) for n in (
            "rank", "score", "score_financial", "score_customer", "score_relationship", "score_growth", "cash", "equity",
            "cum_operating_profit", "customers", "market_share_customers", "avg_satisfaction", "customer_equity", "bankrupt",
            "bankrupt_period")),
        _c("tenders_won", "int64", "tenders the firm won over the game"),
        _c("periods_played", "int64", "periods the game lasted"),
        _c("void_bid_rate", "float64", "share of the game's bids voided", unit="0-1"),
        _c("failed_tender_rate", "float64", "share of the game's tenders that failed", unit="0-1"),
        _c("lineup", "str", "every seat's strategy label, comma-separated"),
        _c("tenders_total", "int64", "tenders opened in the game"),
        _c("tenders_awarded", "int64", "tenders awarded in the game"),
        _c("clients", "str", "the scenario's key clients, comma-separated"),
        _c("clients_awarded", "str", "clients that awarded a contract, comma-separated (empty for none)"),
        _c("rank_mid", "int64", "the firm's rank after half the game"),
        _c("revenue_contracts_total", "float64", "contract revenue over the game", unit="¥"),
        _c("operating_profit_total", "float64", "operating profit over the game", unit="¥"),
        *(_c(f"cult_{k}_{h}", "float64", f"lifecycle cultivation {what} with clients {where}", unit=unit)
          for k, what, unit in (("gain", "progress gained", ""), ("cost", "spend", "¥"), ("hours", "sales hours", "hours"))
          for h, where in (("held", "a rival held in its stable stage"), ("free", "no rival had taken to formation"))),
    ),
    prefixes=(
        _c("param:", "object", "a scenario override of the spec (param:<dotted key>), its value as given, in the dtype pandas "
           "infers from it (int64, float64, bool, str; object otherwise)"),
        _c("tag:", "object", "a label of the spec (tag:<key>: replicate, design point, mix), its value as given, in the dtype "
           "pandas infers from it"),
    ),
)

FRAMES: dict[str, Frame] = {f.name: f for f in (FIRMS, BIDS, TENDERS, RELATIONSHIPS, EVENTS, DECISIONS, MARKET, CUSTOMERS, RUNS)}


# ---------------------------------------------------------------------------
# frames typed by their declarations


def typed(name: str, df: pd.DataFrame, run_id: str | None = None, seed: int | None = None) -> pd.DataFrame:
    """Frame `name` with every column in its declared dtype; given `run_id` and `seed`, those two columns first.

    Raises:
        ValueError: a column the frame does not declare (declare it here), or a value its dtype cannot hold
            (a count that is not whole).
    """
    frame = FRAMES[name]
    if run_id is not None:
        df = df.drop(columns=[c for c in ("run_id", "seed") if c in df.columns])
        df.insert(0, "run_id", run_id)
        df.insert(1, "seed", seed)
    names = df.columns.tolist()  # plain lists: iterating pandas' string Index and dtypes Series costs more than the check
    undeclared = [c for c in names if frame.column(str(c)) is None]
    if undeclared:
        raise ValueError(f"frame {name}: columns not declared in crmsim.sim.frames: {', '.join(map(str, undeclared))}")
    casts = {c: t for c, now in zip(names, df.dtypes.tolist()) if (t := frame.column(c).dtype) != "object" and now != _dtype(t)}
    if not casts:
        return df
    out = df.copy(deep=False)
    for c, t in casts.items():
        column = df[c]
        if t.lower().startswith("int") and column.dtype.kind == "f":
            values = column.to_numpy()
            whole = values == np.round(values)  # NaN is not: a never-missing count fails here
            if not (whole | np.isnan(values) if t == "Int64" else whole).all():
                raise ValueError(f"frame {name}: column {c} is declared {t}; it holds a value that is not a whole number")
        out[c] = column.astype(t)
    return out


@functools.lru_cache(maxsize=None)
def _dtype(name: str) -> Any:
    """A declared dtype's pandas dtype, parsed once (a dtype compares with it as with its name)."""
    return pd.api.types.pandas_dtype(name)


def read_csv(path: str | Path | IO, name: str) -> pd.DataFrame:
    """A frame written as CSV (``DataFrame.to_csv(index=False)``), read back with its declared dtypes, as Parquet keeps them:
    an empty cell is missing, except in a text column that is never missing, where it is the empty text."""
    frame = FRAMES[name]
    header = pd.read_csv(path, nrows=0).columns
    if hasattr(path, "seek"):  # a buffer: read it again from the start
        path.seek(0)
    dtypes = {c: col.dtype for c in header if (col := frame.column(c)) is not None and col.dtype != "object"}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    for c in header:
        col = frame.column(c)
        if col is not None and col.dtype == "str" and not col.missing:
            df[c] = df[c].fillna("")
    return df


# ---------------------------------------------------------------------------
# docs/data.md


def markdown(frames: Iterable[Frame] = FRAMES.values()) -> str:
    """docs/data.md: every frame and column, from the declarations above."""
    lines = [
        "# The data crmsim writes",
        "",
        "<!-- Generated from sim/frames.py (crmsim.sim.frames) by `python -m crmsim.sim.frames docs/data.md`; do not edit by hand. -->",
        "",
        "`crmsim run --out DIR` writes a game's frames (`firms`, `bids`, `tenders`, `relationships`, `events`,",
        "`decisions`, `market`, and with `--customers` the tracked `customers`) as CSV and Parquet; "
        "`CRMModel.frames()` returns them;",
        "research batches (`crmsim sweep`, `tournament`, `experiment`, `research.runner.execute`) return and write the `runs` rows.",
        "Every Parquet file carries the provenance record as key-value metadata (`crmsim.<field>`), and every",
        "game frame starts with `run_id` and `seed`. Parquet keeps the dtypes below; read a CSV file back with",
        "`crmsim.sim.frames.read_csv(path, name)` (or `crmsim.sim.export.read_frame`) to get the same dtypes.",
        "",
        "Dtypes are pandas': `int64` a whole number never missing; `Int64` a whole number that may be missing",
        "(pandas' nullable integer; `<NA>`); `float64` (missing: NaN); `bool`; `str` text (missing: NaN);",
        "`object` a value as given. The tracked customers keep the population's narrow `float32`, `int8` and `int16`.",
        "Counts of customers are whole numbers. Money is in yuan (¥).",
        "",
    ]
    for f in frames:
        lines += [f"## `{f.name}`", "", f"One row: {f.row}.", ""]
        if f.doc:
            lines += [f.doc, ""]
        lines += ["| column | dtype | meaning | unit | missing when |", "|---|---|---|---|---|"]
        for c in (*f.columns, *f.prefixes):
            name = f"`{c.name}<key>`" if c in f.prefixes else f"`{c.name}`"
            lines.append(f"| {name} | {c.dtype} | {c.doc} | {c.unit} | {c.missing} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = markdown()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

