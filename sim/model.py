"""The Mesa model of a whole game: the clock, the random streams, the firm agents and data collection."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import mesa
import numpy as np
import pandas as pd

from crmsim.agents.bots import Strategy, make_bot
from crmsim.agents.firms import FirmAgent
from crmsim.agents.population import COMPLAINT_OUTCOMES
from crmsim.scenarios import Scenario, load_scenario, scenario_from_dict
from crmsim.sim.decisions import Decision
from crmsim.sim.frames import typed
from crmsim.sim.engine import (
    PeriodResult,
    bot_decisions,
    check_adjustment,
    check_decision,
    initial_state,
    logged_period,
    period_rng,
    resolve_period,
)
from crmsim.sim.observation import Observation, observe

LOG_FORMAT = "crmsim-decisions-v1"
#: the columns of the standings (:meth:`CRMModel.standings`, the debrief's counterfactual standings)
STANDINGS_COLUMNS = ("rank", "name", "firm", "score", "score_financial", "score_customer", "score_relationship", "score_growth",
                     "cash", "equity", "cum_operating_profit", "customers", "market_share_customers", "customer_equity", "bankrupt")


class CRMModel(mesa.Model):
    """The classroom CRM bidding game (客户关系管理模拟).

    Description:
        Firms compete for twelve monthly periods (scenario-set) for a population
        of individual customers and for the tenders (标书) of named key clients.
    Decisions (per firm per period, see crmsim.sim.decisions.Decision):
        price, service level, care and advertising budgets, hires and fires of
        sales and service staff, cultivation spend per client, sealed bids per
        open tender, borrowing and repayment.
    Observations (sim.observation.Observation):
        own books and metrics, the public market report, open tenders, every
        bid of the last award with its score breakdown and void reason.
    Starting state:
        the scenario's firm setup; a share of customers already with a firm.
    Payoffs:
        a balanced scorecard (financial, customer, relationship, growth),
        re-ranked every period; bankrupt firms rank last.
    End:
        after the scenario's last period, or when every firm is bankrupt.
    Version history:
        v1: first release (classroom-v1 rules).

    Args:
        scenario: a Scenario, or the name/path of one.
        seed: the game seed (an alias of `rng`); the engine's and every bot's generator derive from it.
        strategies: one entry per firm: a bot spec (agents.bots.make_bot), a Strategy, or None for a
            human seat (decisions come through :meth:`submit`). Default: all human.
        xp: array namespace for the customer population (numpy; cupy on a GPU).
        collect: keep the DataCollector (:meth:`frames`), the decision log (:meth:`decision_log`) and the
            tracked customers' records (:meth:`customer_history`, :meth:`customer_panel`).
            ``collect=False`` plays the identical game faster for batch research that reads only
            ``model.results`` (their ``panel`` then empty); ``datacollector`` is then None and those
            methods raise ValueError.
        rng: the game seed, as Mesa names it: a whole number >= 0, or a numpy Generator from which
            the seed is drawn. Default (neither rng nor seed): 0, so a game always replays. Giving
            both with different values is an error.

    Data collection (``collect=True``): ``datacollector`` is a Mesa DataCollector from construction,
    and collects at step 0 (the starting state) and after every period. Model reporters: period,
    prospects, adopters, live_firms, purchase_factor, open_contracts (step 0: period 0, no adopters,
    purchase factor 1). Agent reporters, one row per firm (``get_agent_vars_dataframe()``, indexed by
    Step and AgentID): firm, name, strategy, cash, equity, customers, score, rank, bankrupt, price,
    sales_staff, service_staff (score and rank are NaN at step 0). Tables: firms, bids, tenders,
    relationships, events, decisions, one row per record of each period. :meth:`frames` gives the tables
    and the model reporters as ``market``, one row per period: step 0 is only in
    ``datacollector.get_model_vars_dataframe()``.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        seed: int | None = None,
        strategies: Sequence[str | Strategy | None] | None = None,
        xp: Any = np,
        collect: bool = True,
        *,
        rng: int | np.random.Generator | None = None,
    ):
        game = game_seed(seed, rng)
        super().__init__(rng=game)
        self.collect = bool(collect)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.seed = game
        self.xp = xp
        self.state = initial_state(self.scenario, self.seed, xp)
        n = self.scenario.firms.count
        strategies = list(strategies) if strategies is not None else [None] * n
        if len(strategies) != n:
            raise ValueError(f"strategies: the scenario seats {n} firms; got {len(strategies)} strategies")
        for f, s in zip(self.state.firms, strategies):
            bot = make_bot(s) if isinstance(s, str) else s
            FirmAgent(self, f, bot, self.seed)
        self.firm_agents: list[FirmAgent] = sorted(self.agents_by_type[FirmAgent], key=lambda a: a.index)
        self.results: list[PeriodResult] = []
        self.pending: dict[int, Decision] = {}
        self.checked: dict[int, Decision] = {}  # the decisions check_decision returned this period (not checked again)
        self.pending_adjustments: dict[int, float] = {}
        self.log_periods: list[dict[str, Any]] = []
        self.customers_at_start = customers_by_firm(self.state, xp)
        self.datacollector: mesa.DataCollector | None = None
        if self.collect:
            self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS, agent_reporters=FIRM_REPORTERS)
            self.datacollector.collect(self)  # step 0: the starting state
        self.running = True

    # -- the clock -------------------------------------------------------

    @property
    def period(self) -> int:
        """The next period to resolve (1-based)."""
        return self.state.period

    @property
    def finished(self) -> bool:
        return self.state.finished

    # -- decisions -------------------------------------------------------

    def observation(self, firm: int) -> Observation:
        return observe(self.state, firm, self.results)

    def submit(self, firm: int, raw: Mapping[str, Any] | Decision) -> Decision:
        """Validate and store a firm's decision for the current period (a later submit replaces it).

        Raises:
            DecisionError: naming every problem; nothing is stored.
        """
        decision = check_decision(self.state, firm, raw)
        self.pending[firm] = self.checked[firm] = decision
        return decision

    def adjust(self, firm: int, amount: float) -> None:
        """Book an instructor's bonus (+) or penalty (-) on the firm's cash this period (adds up).

        Raises:
            ValueError: naming the field (see :func:`crmsim.sim.engine.check_adjustment`).
        """
        amount = check_adjustment(self.state, firm, amount)
        self.pending_adjustments[firm] = self.pending_adjustments.get(firm, 0.0) + amount

    def withdraw(self, firm: int) -> None:
        self.pending.pop(firm, None)

    def step(self) -> None:
        """Bots decide, the period resolves, agents and data collection update (result: ``self.results[-1]``)."""
        if self.finished:
            raise ValueError(f"the game is over after period {self.state.period - 1}")
        bots = {a.index: a.strategy for a in self.firm_agents if a.is_bot and a.index not in self.pending}
        decided = bot_decisions(self.state, bots, self.results, self.seed)
        self.pending.update(decided)
        self.checked.update(decided)
        decisions = dict(self.pending)
        checked = {i for i, d in decisions.items() if self.checked.get(i) is d}
        period = self.state.period
        adjustments = dict(self.pending_adjustments)
        self.state, result = resolve_period(self.state, decisions, period_rng(self.seed, period), self.xp, adjustments, checked,
                                            track=None if self.collect else 0)
        self.pending, self.pending_adjustments, self.checked = {}, {}, {}
        self.results.append(result)
        if self.collect:
            entry = {"period": period, "decisions": {str(i): d.to_dict() for i, d in sorted(decisions.items())}}
            if adjustments:
                entry["adjustments"] = {str(i): a for i, a in sorted(adjustments.items())}
            self.log_periods.append(entry)
        for agent in self.firm_agents:
            agent.firm = self.state.firms[agent.index]
            agent.last_row = result.firm_rows[agent.index]
        if self.collect:
            self._collect(result)
        self.running = not self.finished

    def run(self, progress: Callable[[PeriodResult], None] | None = None) -> CRMModel:
        """Play every remaining period; `progress` is called after each."""
        while not self.finished:
            self.step()
            if progress:
                progress(self.results[-1])
        return self

    # -- data collection -------------------------------------------------

    def _collect(self, result: PeriodResult) -> None:
        labels = {a.index: a.label for a in self.firm_agents}
        firm_rows = [{**r, "strategy": labels[r["firm"]]} for r in result.firm_rows]
        tables = {
            "firms": firm_rows,
            "bids": result.bid_rows(),
            "tenders": result.tender_rows(),
            "relationships": result.relationship_rows,
            "events": result.events,
            "decisions": [self._decision_row(result, i) for i in sorted(labels) if i in result.decisions],
        }
        for name, rows in tables.items():
            if name not in self.datacollector.tables:  # declared at the first period, in this order
                self.datacollector.tables[name] = {column: [] for column in _columns(name, rows)}
        for name, rows in tables.items():
            for row in rows:
                self.datacollector.add_table_row(name, row, ignore_missing=True)
        self.datacollector.collect(self)

    def _decision_row(self, result: PeriodResult, i: int) -> dict[str, Any]:
        d = result.decisions[i]
        return {
            "period": result.period,
            "firm": i,
            "submitted": result.submitted.get(i, False),
            "price": d.price,
            "service_level": d.service_level,
            "care_budget": d.care_budget,
            "advertising_budget": d.advertising_budget,
            "hire_sales": d.hire_sales,
            "fire_sales": d.fire_sales,
            "hire_service": d.hire_service,
            "fire_service": d.fire_service,
            "cultivation_total": float(sum(d.cultivation.values())),
            "cultivated_clients": ",".join(sorted(d.cultivation)),
            "bids": len(d.bids),
            "borrow": d.borrow,
            "repay": d.repay,
            "late": d.late,
        }

    def _require_collect(self, what: str) -> None:
        if not self.collect:
            raise ValueError(f"{what}: this model was built with collect=False (no tables, decision log or customer records kept); "
                             "build it with collect=True, or read model.results")

    def frames(self) -> dict[str, pd.DataFrame]:
        """Tidy frames: firms (one row per firm-period), bids, tenders, relationships, events, decisions, market."""
        self._require_collect("frames")
        if not self.datacollector.tables:  # no period resolved yet
            return {}
        run_id = self.run_id
        out = {name: typed(name, self.datacollector.get_table_dataframe(name), run_id, self.seed) for name in self.datacollector.tables}
        market = self.datacollector.get_model_vars_dataframe()
        out["market"] = typed("market", market[market["period"] > 0].reset_index(drop=True), run_id, self.seed)  # step 0 stays in the model vars
        return out

    @property
    def run_id(self) -> str:
        """The game's provenance hash (crmsim.sim.export.model_provenance): the run_id column of its frames."""
        from crmsim.sim.export import model_run_id

        return model_run_id(self)

    def standings(self) -> pd.DataFrame:
        """Final (or current) ranking with the scorecard breakdown."""
        if not self.results:
            raise ValueError("no period has been resolved yet")
        rows = self.results[-1].firm_rows
        labels = {a.index: a.label for a in self.firm_agents}
        df = pd.DataFrame(rows)[list(STANDINGS_COLUMNS)]
        df.insert(2, "strategy", df["firm"].map(labels))
        return df.sort_values("rank").reset_index(drop=True)

    def customer_history(self, customer: int) -> pd.DataFrame:
        """One customer's history, period by period (tracked customers: the first `market.track_customers`)."""
        self._require_collect("customer_history")
        tracked = min(self.scenario.market.track_customers, self.scenario.market.customers)
        if not 0 <= customer < self.scenario.market.customers:
            raise IndexError(f"customer must be in [0, {self.scenario.market.customers - 1}]; got {customer}")
        if customer >= tracked:
            raise IndexError(f"customer {customer} is not tracked: market.track_customers = {tracked}")
        rows = []
        for r in self.results:
            row = {"period": r.period, **{k: _py(v[customer]) for k, v in r.panel.items()}}
            row["complaint"] = COMPLAINT_OUTCOMES[row["complaint"]]
            rows.append(row)
        return pd.DataFrame(rows)

    def customer_panel(self) -> pd.DataFrame:
        """Every tracked customer's history in one long frame (customer, period, ...)."""
        self._require_collect("customer_panel")
        parts = []
        for r in self.results:
            df = pd.DataFrame({k: np.asarray(v) for k, v in r.panel.items()})
            df.insert(0, "customer", np.arange(len(df)))
            df.insert(0, "period", r.period)
            parts.append(df)
        return typed("customers", pd.concat(parts, ignore_index=True), self.run_id, self.seed) if parts else pd.DataFrame()

    # -- the decision log and replay ------------------------------------

    def decision_log(self) -> dict[str, Any]:
        """Everything needed to replay this game: scenario, seed and every decision passed to the engine."""
        self._require_collect("decision_log")
        return {
            "format": LOG_FORMAT,
            "scenario": self.scenario.name,
            "scenario_data": self.scenario.model_dump(mode="json"),
            "seed": self.seed,
            "firms": [f.name for f in self.state.firms],
            "strategies": [a.label for a in self.firm_agents],
            "periods": self.log_periods,
        }

    @classmethod
    def replay(cls, log: Mapping[str, Any], xp: Any = np) -> CRMModel:
        """Rebuild a game from its decision log; every period resolves to the recorded result."""
        if log.get("format") != LOG_FORMAT:
            raise ValueError(f"format: expected {LOG_FORMAT!r}; got {log.get('format')!r}")
        scenario = scenario_from_dict(log["scenario_data"], source=f"log of {log.get('scenario')}")
        model = cls(scenario, seed=log["seed"], xp=xp)
        for agent, label in zip(model.firm_agents, log.get("strategies", [])):
            agent.recorded_label = label
        for entry in log["periods"]:
            model.replay_period(entry)
        return model

    def replay_period(self, entry: Mapping[str, Any]) -> PeriodResult:
        """Resolve the current period with a decision-log entry's decisions and adjustments, as recorded
        (see :func:`crmsim.sim.engine.logged_period`); returns the period's result."""
        decisions, adjustments = logged_period(self.state, entry)
        self.pending.update(decisions)
        for firm, amount in adjustments.items():
            self.adjust(firm, amount)
        self.step()
        return self.results[-1]


def game_seed(seed: Any = None, rng: Any = None) -> int:
    """The game seed from Mesa's ``rng=`` or its alias ``seed=``; 0 when neither is given.

    Raises:
        ValueError: for a value that is not a whole number >= 0 or a numpy Generator, or when both are
            given and differ.
    """
    given = {name: _seed_value(name, v) for name, v in (("rng", rng), ("seed", seed)) if v is not None}
    if len(set(given.values())) > 1:
        raise ValueError(f"seed and rng give two different game seeds (seed={seed!r}, rng={rng!r}): rng= is Mesa's "
                         "name for the game seed and seed= its alias; give one")
    return next(iter(given.values()), 0)


def _seed_value(name: str, value: Any) -> int:
    if isinstance(value, np.random.Generator):
        return int(value.integers(2**63))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise ValueError(f"{name}: the game seed must be a whole number >= 0 or a numpy Generator; got {value!r}")


def customers_by_firm(state, xp: Any = np) -> list[int]:
    """Each firm's customers in `state` (the starting state's, for step 0)."""
    supplier = state.population.supplier
    counts = xp.bincount(supplier[supplier >= 0].astype(xp.int64), minlength=len(state.firms))
    return [int(c) for c in counts.tolist()]


def _last(m: CRMModel, key: str, start: Any) -> Any:
    """A market figure of the last period, or its value at step 0."""
    return m.results[-1].market[key] if m.results else start


def _firm_figure(a: FirmAgent, key: str, start: Any) -> Any:
    """A firm's figure of the last period, or its value at step 0."""
    return a.last_row[key] if a.last_row is not None else start


#: the model reporters: the ``market`` frame (one row per period) and, with step 0, the model vars
MODEL_REPORTERS = {
    "period": lambda m: m.results[-1].period if m.results else 0,
    "prospects": lambda m: _last(m, "prospects", int((m.state.population.supplier < 0).sum())),
    "adopters": lambda m: _last(m, "adopters", 0),
    "live_firms": lambda m: sum(f.live for f in m.state.firms),
    "purchase_factor": lambda m: _last(m, "purchase_factor", 1.0),
    "open_contracts": lambda m: len(m.state.contracts),
}

#: the agent reporters, one row per firm per step (``get_agent_vars_dataframe()``)
FIRM_REPORTERS = {
    "firm": lambda a: a.index,
    "name": lambda a: a.name,
    "strategy": lambda a: a.label,
    "cash": lambda a: a.firm.cash,
    "equity": lambda a: a.firm.equity,
    "customers": lambda a: _firm_figure(a, "customers", a.model.customers_at_start[a.index]),
    "score": lambda a: _firm_figure(a, "score", math.nan),  # NaN before the first period, as after it when missing
    "rank": lambda a: _firm_figure(a, "rank", math.nan),
    "bankrupt": lambda a: a.firm.bankrupt,
    "price": lambda a: a.firm.standing.price,
    "sales_staff": lambda a: a.firm.sales_staff,
    "service_staff": lambda a: a.firm.service_staff,
}


def _columns(name: str, rows: list[dict[str, Any]]) -> list[str]:
    defaults = {
        "bids": ["period", "tender", "client", "firm", "price", "promised_service", "valid", "void_reason", "void_detail",
                 "price_score", "service_score", "relationship_score", "total", "rank", "won", "points_behind",
                 "tender_failed", "margin_points", "max_winning_price"],
        "tenders": ["period", "tender", "client", "volume", "price_cap", "required_service", "closed", "reissue", "bids",
                    "valid_bids", "failed", "winner", "winning_price", "margin_points", "max_winning_price", "tie_break"],
        "events": ["period", "kind", "firm", "detail"],
        "decisions": ["period", "firm", "submitted", "price", "service_level", "care_budget", "advertising_budget",
                      "hire_sales", "fire_sales", "hire_service", "fire_service", "cultivation_total",
                      "cultivated_clients", "bids", "borrow", "repay", "late"],
    }
    return defaults.get(name) or list(rows[0])


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
