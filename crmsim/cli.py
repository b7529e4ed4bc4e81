"""The `crmsim` command line: play games with bots, replay decision logs, list and check scenarios,
serve the classroom, and run research batches (sweeps, tournaments, balance reports) on a process pool or Dask.

A user's mistake (a bad option value, an invalid scenario or decision, a missing extra) is one line,
``error: ...``, and exit status 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from crmsim import InputError, __version__
from crmsim.agents.bots import BOTS, DEFAULT_LINEUP, lineup, make_bot
from crmsim.extras import MissingExtra, require_extra
from crmsim.scenarios import ScenarioError, list_scenarios, load_scenario
from crmsim.sim.decisions import DecisionError

console = Console(width=None if sys.stdout.isatty() else 150)


class UsageError(Exception):
    """A command-line value that breaks a rule; the message names the option and the value."""


# what `main` reports as the user's mistake (exit 2, no traceback); anything else is a bug
USER_ERRORS = (UsageError, ScenarioError, DecisionError, InputError, MissingExtra)
DEMO_SCENARIO = "classroom-v2"  # `crmsim serve --demo`: the second version, with every lever of the team cockpit


@contextmanager
def blame(option: str) -> Iterator[None]:
    """Report a ValueError raised while checking `option`'s value as a mistake in that option.

    Wrap only calls that check arguments (and play no game), so that a bug is never reported as bad input.
    """
    try:
        yield
    except ValueError as exc:
        detail = "; ".join(exc.problems) if isinstance(exc, ScenarioError) else str(exc)
        raise UsageError(f"{option}: {detail}") from None


def _standings_table(df: pd.DataFrame, title: str) -> Table:
    t = Table(title=title)
    for col in ("rank", "name", "strategy", "score", "financial", "customer", "relationship", "growth", "cash", "customers", "status"):
        t.add_column(col, justify="right" if col not in ("name", "strategy", "status") else "left")
    for r in df.itertuples():
        t.add_row(
            str(r.rank), r.name, r.strategy, f"{r.score:.1f}", f"{r.score_financial:.1f}", f"{r.score_customer:.1f}",
            f"{r.score_relationship:.1f}", f"{r.score_growth:.1f}", f"{r.cash:,.0f}", f"{r.customers:,.0f}",
            "bankrupt" if r.bankrupt else "live",
        )
    return t


def _period_table(frames: dict[str, pd.DataFrame]) -> Table:
    firms, tenders, bids = frames["firms"], frames["tenders"], frames["bids"]
    t = Table(title="Per-period summary")
    for col in ("period", "leader", "mean price", "customers", "prospects", "revenue", "tenders won", "failed", "void bids", "bankrupt"):
        t.add_column(col, justify="right" if col != "leader" else "left")
    market = frames["market"].set_index("period")
    for period, g in firms.groupby("period"):
        live = g[~g.bankrupt]
        leader = g.sort_values("rank").iloc[0]
        tp = tenders[tenders.period == period] if len(tenders) else tenders
        bp = bids[bids.period == period] if len(bids) else bids
        t.add_row(
            str(period),
            f"{leader['name']} ({leader['strategy']})",
            f"{live.price.mean():.2f}" if len(live) else "-",
            f"{g.customers.sum():,.0f}",
            f"{market.loc[period, 'prospects']:,.0f}",
            f"{g.revenue.sum():,.0f}",
            str(int(tp.winner.notna().sum())) if len(tp) else "0",
            str(int(tp.failed.sum())) if len(tp) else "0",
            str(int((~bp.valid).sum())) if len(bp) else "0",
            str(int(g.bankrupt.sum())),
        )
    return t


def cmd_run(args: argparse.Namespace) -> int:
    from crmsim.sim.export import read_frame, read_log, roundtrip, write_frames, write_log
    from crmsim.sim.model import LOG_FORMAT, CRMModel

    if args.replay:
        with blame("--replay"):
            log = read_log(args.replay)
        if not isinstance(log, dict) or log.get("format") != LOG_FORMAT:  # the log is the user's file, not a bug
            found = log.get("format") if isinstance(log, dict) else type(log).__name__
            raise UsageError(f"--replay {args.replay}: not a crmsim decision log (format {LOG_FORMAT!r} expected; got {found!r})")
        total = len(log.get("periods", []))
        bar = tqdm(total=total, desc=f"replay {log.get('scenario')}", unit="period", disable=args.quiet)
        t0 = time.perf_counter()
        model = CRMModel.replay(log)
        bar.update(total)
        bar.close()
        source = Path(args.replay) if Path(args.replay).is_dir() else Path(args.replay).parent
        found = read_frame(source, "firms")
        if found is not None:
            recorded, fmt = found
            replayed = roundtrip(model.frames()["firms"], fmt, "firms")
            added = [c for c in replayed.columns if c not in recorded.columns]  # columns crmsim added since the recording
            # a recording made before the declared frames (no run_id) kept counts as floats: compare its values
            difference = replay_difference(replayed.drop(columns=added), recorded, values_only="run_id" not in recorded.columns)
            if difference:
                console.print(f"[red]replay differs from the recorded results in {source}:[/red] ", end="")
                console.print(difference, markup=False, highlight=False)
                return 1
            console.print(f"[green]replay identical to the recorded results in {source}[/green]"
                          + (f" (columns added since it was recorded, not compared: {', '.join(added)})" if added else ""))
    else:
        scenario = load_scenario(args.scenario)
        strategies = lineup(_seats(args, scenario.firms.count), scenario.firms.count)
        model = CRMModel(scenario, seed=args.seed, strategies=strategies)
        bar = tqdm(total=scenario.periods, desc=f"{scenario.name} seed {args.seed}", unit="period", disable=args.quiet)
        t0 = time.perf_counter()
        model.run(progress=lambda r: bar.update(1))
        bar.close()
    elapsed = time.perf_counter() - t0
    frames = model.frames()
    if not args.quiet:
        console.print(_period_table(frames))
    console.print(_standings_table(model.standings(), f"Final standings: {model.scenario.name}, seed {model.seed}"))
    console.print(f"{len(model.results)} periods, {model.scenario.market.customers:,} customers in {elapsed:.2f} s")
    if args.out:
        from crmsim.sim.export import model_provenance

        formats = [f.strip() for f in args.format.split(",")]
        frames["customers"] = model.customer_panel() if args.customers else pd.DataFrame()
        if not args.customers:
            frames.pop("customers")
        record = model_provenance(model, None if args.replay else args.scenario)
        write_frames(frames, args.out, formats, record)
        write_log(model.decision_log(), args.out, record)
        console.print(f"wrote {', '.join(sorted(frames))} ({'/'.join(formats)}) and decisions.json to {args.out}")
    return 0


def replay_difference(replayed: pd.DataFrame, recorded: pd.DataFrame, values_only: bool = False) -> str | None:
    """Where a replay's firm frame first differs from the recorded one, in words; None if they are identical.

    Names the period, the firm, the column and both values (cells are compared exactly; NaN equals NaN),
    and how many other cells differ. With `values_only`, equal values in another column type are identical
    (a count recorded as a float before the frames declared it an integer).
    """
    try:
        pd.testing.assert_frame_equal(replayed, recorded, check_exact=True)
        return None
    except AssertionError:
        pass
    if list(replayed.columns) != list(recorded.columns):
        only_recorded = [c for c in recorded.columns if c not in replayed.columns]
        only_replayed = [c for c in replayed.columns if c not in recorded.columns]
        return (f"the columns differ: only recorded: {', '.join(map(str, only_recorded)) or '-'}; "
                f"only replayed: {', '.join(map(str, only_replayed)) or '-'}")
    if len(replayed) != len(recorded):
        return f"the replay has {len(replayed)} firm-period rows, the recorded results {len(recorded)}"
    a, b = replayed.reset_index(drop=True), recorded.reset_index(drop=True)
    differs = pd.DataFrame({c: ~((a[c] == b[c]) | (a[c].isna() & b[c].isna())) for c in b.columns})
    cells = int(differs.to_numpy().sum())
    if not cells:
        if values_only:
            return None
        kinds = [f"{c} (recorded {b[c].dtype}, replayed {a[c].dtype})" for c in b.columns if a[c].dtype != b[c].dtype]
        return "equal values but different column types: " + (", ".join(kinds) or "see pandas.testing.assert_frame_equal")
    row = int(differs.any(axis=1).to_numpy().argmax())
    col = next(c for c in b.columns if differs.at[row, c])
    where = f"period {b.at[row, 'period']}, firm {b.at[row, 'firm']}" if {"period", "firm"} <= set(b.columns) else f"row {row}"
    if "name" in b.columns:
        where += f" ({b.at[row, 'name']})"
    more = f" ({cells - 1} more cells differ)" if cells > 1 else ""
    return f"{where}, column {col}: recorded {_plain(b.at[row, col])!r}, replayed {_plain(a.at[row, col])!r}{more}"


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def bot_names(text: str | None, option: str) -> list[str] | None:
    """The comma-separated bot names of `option`, each checked against the registry (None: not given)."""
    names = _names(text)
    if names:
        with blame(f"{option} {text}"):
            lineup(names, len(names))
    return names


def cmd_scenarios(args: argparse.Namespace) -> int:
    if args.action == "list":
        t = Table(title="Shipped scenarios")
        for col in ("name", "title", "标题", "firms", "periods", "customers", "clients"):
            t.add_column(col)
        for name in list_scenarios():
            s = load_scenario(name)
            t.add_row(s.name, s.title.en, s.title.zh, str(s.firms.count), str(s.periods), f"{s.market.customers:,}", str(len(s.clients)))
        console.print(t)
        return 0
    failed = 0
    for path in args.files:
        try:
            s = load_scenario(path)
            console.print(f"[green]ok[/green] {path}: {s.name} ({s.firms.count} firms, {s.periods} periods, {s.market.customers:,} customers)")
        except ScenarioError as exc:
            failed += 1
            console.print("[red]invalid[/red] ", end="")
            console.print(str(exc), markup=False, highlight=False)
    return 1 if failed else 0


def cmd_bots(args: argparse.Namespace) -> int:
    t = Table(title="Strategy bots")
    t.add_column("name")
    t.add_column("behaviour")
    for name, cls in BOTS.items():
        t.add_row(name, cls.description)
    console.print(t)
    return 0


def check_port_free(host: str, port: int) -> None:
    """Raise UsageError unless the server could listen on host:port now (before anything is written)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise UsageError(f"port {port} is in use: choose another with --port") from None
                raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def server_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings `crmsim serve` passes to create_app (over the environment's)."""
    return {"DATABASE_URL": args.database} if args.database else {}


def proxy_options(trusted_proxy: str | None) -> dict[str, Any]:
    """Waitress's options for a reverse proxy at `trusted_proxy`: each client's address and scheme come from
    the proxy's X-Forwarded-For and X-Forwarded-Proto (so that rate limits count clients, not the proxy)."""
    if not trusted_proxy:
        return {}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}}


def cmd_serve(args: argparse.Namespace) -> int:
    check_port_free(args.host, args.port)
    from waitress import serve

    from crmsim.web import create_app
    from crmsim.web.db import get_db
    from crmsim.web.service import create_game
    from crmsim.web.views import list_games

    app = create_app(server_config(args))
    with app.app_context():
        if args.demo and not list_games():
            bots = {i: b for i, b in enumerate(["", "", "premium", "price_cutter", "relationship", "adaptive"]) if b}
            # public: a newcomer opening the home page sees the demo and its scoreboard (a class's games are not)
            game = create_game(get_db(), DEMO_SCENARIO, seed=1, name="Demo game · 演示", bots=bots, period_minutes=20, public=True)
            console.print(f"demo game {game.id}: teams join with " + ", ".join(f"{t.name}={t.join_code}" for t in game.teams if not t.bot)
                          + f"; scoreboard: http://{args.host}:{args.port}/scoreboard/{game.id}")
        for g in list_games():
            codes = ", ".join(f"{t.name}: {t.join_code}" for t in g.teams if not t.bot)
            console.print(f"game {g.id} ({g.name}, period {g.period}, {g.status}) join codes: {codes}")
    url = f"http://{args.host}:{args.port}/"
    console.print(f"crmsim classroom server on {url} (instructor: {url}instructor/, database: {app.config['DATABASE_URL']})")
    # waitress cuts off a body over twice the app's limit itself, before spooling it to disk; a body between the
    # two reaches the app, which answers 413 with its own message (JSON on the API)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="crmsim",
          connection_limit=args.connection_limit, channel_timeout=30, max_request_body_size=2 * app.config["MAX_CONTENT_LENGTH"],
          **proxy_options(args.trusted_proxy))
    return 0


# ---------------------------------------------------------------------------
# research batches (research/ and dask are imported inside the handlers: `import sim` stays light)


def _frame_table(df: pd.DataFrame, title: str, max_rows: int = 40) -> Table:
    t = Table(title=title)
    for col in df.columns:
        t.add_column(str(col), justify="left" if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]) else "right")
    for row in df.head(max_rows).itertuples(index=False):
        t.add_row(*(_cell(v) for v in row))
    if len(df) > max_rows:
        t.caption = f"first {max_rows} of {len(df)} rows"
    return t


def _cell(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        return "-" if np.isnan(v) else f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _key_values(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"{flag}: expected KEY=VALUE such as market.customers=2000; got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _bounds(items: list[str] | None) -> dict[str, tuple[float, float]]:
    from crmsim.research.sweep import check_bounds

    out = {}
    for key, value in _key_values(items, "--bounds").items():
        lo, sep, hi = value.partition(":")
        try:
            out[key] = (float(lo), float(hi))
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(f"--bounds {key}: expected low:high such as 0.5:2; got {value!r}")
        with blame(f"--bounds {key}={value}"):
            check_bounds({key: out[key]})
    return out


def scenario_settings(scenario: str, items: list[str] | None, flag: str, many: bool = False) -> dict[str, Any]:
    """The KEY=VALUE settings of `flag` (KEY=V1,V2,... when `many`), each checked against the scenario.

    A value the scenario's schema refuses is blamed on the option that gave it, not on the scenario file.
    """
    from crmsim.research.parameters import SEAT_COUNT, SEAT_COUNT_RULE
    from crmsim.research.sweep import parse_value

    load_scenario(scenario)  # a problem of the scenario itself names its file
    settings: dict[str, Any] = {}
    for key, text in _key_values(items, flag).items():
        if many and key == SEAT_COUNT:  # before its values, which the scenario may refuse for its own reason
            raise UsageError(f"{flag} {key}={text}: {SEAT_COUNT_RULE} (--set {SEAT_COUNT}=N)")
        values = [parse_value(v) for v in text.split(",")] if many else [parse_value(text)]
        for value in values:
            with blame(f"{flag} {key}={text}"):
                load_scenario(scenario, overrides={key: value})
        settings[key] = values if many else values[0]
    return settings


def research_command(args: argparse.Namespace) -> None:
    """Research commands need the research extra; say so before anything runs."""
    require_extra("research", f"crmsim {args.command}")


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def cmd_sweep(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.runner import open_executor
    from crmsim.research.sweep import sweep

    params = scenario_settings(args.scenario, args.param, "--param", many=True)
    overrides = scenario_settings(args.scenario, args.set, "--set")
    bounds, strategies = _bounds(args.bounds), _seats(args, load_scenario(args.scenario, overrides=overrides).firms.count)
    out = Path(args.out or f"results/sweep-{Path(args.scenario).stem}")
    t0 = time.perf_counter()
    try:
        with open_executor(args.dask, args.workers) as executor, _printed_below():
            res = sweep(args.scenario, params, bounds=bounds, design=args.design, samples=args.samples,
                        seeds=args.seeds, strategies=strategies, overrides=overrides, master_seed=args.seed,
                        sobol=args.sobol, executor=executor, workers=args.workers, out_dir=out, progress=not args.quiet,
                        stale=_stale(args))
    except ScenarioError as exc:  # each option was checked alone: a design point or the settings together break a rule
        raise UsageError("--param, --set and --bounds together make an invalid scenario: " + "; ".join(exc.problems)) from None
    elapsed = time.perf_counter() - t0
    swept = [c for c in res.points.columns if c.startswith("param:")]
    cols = ["point", *swept, "games", "mean_score", "mean_score_ci", "bankruptcy_rate", "void_bid_rate", "failed_tender_rate"]
    console.print(_frame_table(res.points[cols].rename(columns=lambda c: c.removeprefix("param:")),
                               f"Sweep of {args.scenario} ({res.design} design): mean outcomes per point"))
    by_strategy = res.points[["point", *swept, *[c for c in res.points.columns if c.startswith("score:")]]]
    console.print(_frame_table(by_strategy.rename(columns=lambda c: c.split(":", 1)[-1]), "Mean score of each strategy"))
    if res.indices is not None:
        console.print(_frame_table(res.indices, "Sobol indices (S1 first-order, ST total; 95% intervals)", max_rows=200))
    _print_warnings(res.warnings)
    games = res.results["run_id"].nunique()
    console.print(f"{games} games in {elapsed:.1f} s; wrote results, runs, points, summary"
                  f"{', sobol' if res.indices is not None else ''} (.parquet) to {out}")
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.runner import open_executor
    from crmsim.research.tournament import tournament

    overrides = scenario_settings(args.scenario, args.set, "--set")
    plugins = _plugin_specs(args)  # first: an imported module may register names in BOTS
    strategies = (bot_names(args.strategies, "--strategies") or list(BOTS)) + plugins
    out = Path(args.out or f"results/tournament-{Path(args.scenario).stem}")
    t0 = time.perf_counter()
    with open_executor(args.dask, args.workers) as executor:
        res = tournament(args.scenario, strategies, seeds=args.seeds, overrides=overrides, master_seed=args.seed,
                         max_lineups=args.max_lineups or None, executor=executor, workers=args.workers, out_dir=out,
                         progress=not args.quiet, stale=_stale(args))
    elapsed = time.perf_counter() - t0
    if res.sampled:
        console.print(f"[yellow]sampled:[/yellow] {res.note}; --max-lineups 0 plays every lineup", highlight=False)
    shown = res.table.drop(columns=[c for c in res.table.columns if c.endswith(("_low", "_high"))])
    console.print(_frame_table(shown, f"Tournament on {args.scenario}: {res.note} (95% intervals resample whole games; "
                                      "table.parquet has their bounds)"))
    console.print(_frame_table(res.matrix.reset_index(), "Mean score of each strategy (rows) against each opponent (columns)"))
    console.print(_frame_table(res.pairs, "Paired score differences a - b within the games both played (95% intervals, games resampled)",
                               max_rows=200))
    console.print(f"{len(res.lineups) * len(res.seeds)} games in {elapsed:.1f} s; wrote table, results, matrix, pairs (.parquet) "
                  f"and tournament.json to {out}")
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.balance import balance_report
    from crmsim.research.runner import open_executor
    from crmsim.research.targets import interval_text, result_word

    extra = {"master_seed": args.seed} if args.seed else {}
    if args.set:
        extra["overrides"] = scenario_settings(args.scenario, args.set, "--set")
    _plugin_specs(args)
    if args.firms or args.strategy:
        seats = load_scenario(args.scenario, overrides=extra.get("overrides")).firms.count
        extra["lineups"] = [lineup(_seats(args, seats), seats)]
    if args.rerun_stale:
        extra["stale"] = "rerun"
    if args.no_egta:
        extra["egta"] = False
    if args.egta_seeds:
        extra["egta_seeds"] = args.egta_seeds
    out = Path(args.out or f"results/balance-{Path(args.scenario).stem}")
    with open_executor(args.dask, args.workers) as executor:
        report = balance_report(args.scenario, seeds=args.seeds, out_dir=out, executor=executor, workers=args.workers,
                                progress=not args.quiet, **extra)
    console.print(f"[bold]verdict:[/bold] {report.verdict}", highlight=False)
    if report.targets is not None:
        t = report.targets
        console.print(_frame_table(pd.DataFrame({
            "target": t["target"], "estimate": t["estimate"].round(3), "95% CI": [interval_text(a, b) for a, b in zip(t["low"], t["high"])],
            "rule": t["rule"], "result": [result_word(ok, w, a) for ok, w, a in zip(t["passed"], t["watch"], t["applies"])], "counted": t["note"],
        }), f"Game facts of {args.scenario} ({len(report.seeds)} seeds per set)"))
    if report.egta is not None:
        console.print(_frame_table(report.egta.frame().round(3), f"Strategies: Nash mixture (regret {report.egta.nash_regret:.3f}), "
                                   "alpha-Rank, wins against the field"))
    summary = report.summary if isinstance(report.summary.index, pd.RangeIndex) else report.summary.reset_index()
    console.print(_frame_table(summary, f"Balance of {args.scenario}"))
    for path in report.plots:
        console.print(f"plot: {path}", highlight=False)
    console.print(f"wrote the report to {out}")
    return 0


# ---------------------------------------------------------------------------
# plug-in strategies, experiments as files, sweepable parameters


def _plugin_specs(args: argparse.Namespace) -> list[str]:
    """Import the --import modules and check the --strategy specs; returns the specs.

    The current folder goes first on the module path, as ``python -m`` does, so a module next to the
    user's files can be named: by --import, --strategy, or a ``module:Class`` in --firms or --strategies.
    """
    from crmsim.research.experiment_file import import_strategies

    named = [n for option in ("firms", "strategies") for n in _names(getattr(args, option, None)) or [] if ":" in n]
    if (args.strategy or args.import_ or named) and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for target in args.import_ or []:
        problem = import_strategies(target, Path.cwd())
        if problem:
            raise UsageError(f"--import {target}: {problem}")
    for spec in args.strategy or []:
        with blame(f"--strategy {spec}"):
            make_bot(spec)
    return list(args.strategy or [])


def _seats(args: argparse.Namespace, seats: int) -> list[str] | None:
    """The line-up of --firms and --strategy: --firms, then each --strategy; with --strategy alone,
    the strategies then the default line-up fill the seats; neither: None (the default line-up)."""
    plugins = _plugin_specs(args)  # first: an imported module may register names that --firms uses
    firms = bot_names(args.firms, "--firms")
    if firms is None and plugins:
        return (plugins + list(DEFAULT_LINEUP))[:max(seats, len(plugins))]
    return (firms or []) + plugins or None


def _stale(args: argparse.Namespace) -> str:
    return "rerun" if args.rerun_stale else "refuse"


@contextmanager
def _printed_below() -> Iterator[None]:
    """Silence the research warnings (Sobol indices from too few points) that the command prints itself."""
    from crmsim.research.sweep import SobolWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SobolWarning)
        yield


def _print_warnings(notes: list[str]) -> None:
    for note in notes:
        console.print("[yellow]warning:[/yellow] ", end="")
        console.print(note, markup=False, highlight=False)


def cmd_experiment(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.experiment_file import read_experiment, run_experiment
    from crmsim.research.runner import open_executor

    exp = read_experiment(args.file)
    out = Path(args.out or f"results/experiment-{Path(args.file).stem}")
    t0 = time.perf_counter()
    with open_executor(args.dask, args.workers) as executor, _printed_below():
        res = run_experiment(exp, out_dir=out, executor=executor, workers=args.workers, progress=not args.quiet,
                             stale=_stale(args))
    elapsed = time.perf_counter() - t0
    title = exp.spec.name or Path(args.file).stem
    console.print(_frame_table(res.outcomes, f"Experiment {title} on {exp.spec.scenario} ({exp.spec.design.kind} design): "
                                             "outcomes per line-up and point", max_rows=200))
    if res.indices is not None:
        console.print(_frame_table(res.indices, "Sobol indices (S1 first-order, ST total; 95% intervals)", max_rows=200))
    _print_warnings(res.warnings)
    games = sum(r.results["run_id"].nunique() for r in res.sweeps)
    console.print(f"{games} games in {elapsed:.1f} s; wrote outcomes{', sobol' if res.indices is not None else ''} (.parquet), "
                  f"experiment.json and one folder per line-up to {out}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from crmsim.research.parameters import parameter_table

    table = parameter_table(args.scenario)
    if args.match:
        table = table[table["key"].str.contains(args.match, regex=False)]
    shown = table[["key", "type", "value", "default", "bounds", "description"]].astype({"value": str, "default": str})
    console.print(_frame_table(shown, f"Sweepable settings of {args.scenario} ({len(table)}): --param / --bounds / --set "
                                      "KEY, or an experiment file's \\[parameters]", max_rows=len(table)))
    return 0


def _strategy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", action="append", metavar="SPEC",
                   help="a strategy to play (repeatable): a bot, an entry point of the crmsim.strategies group, "
                        "or module:Class, with optional fields: 'my_bots:LoyaltyFirst(threshold=0.4)'")
    p.add_argument("--import", dest="import_", action="append", metavar="MODULE",
                   help="import a module (or a .py file) that registers strategies, before the batch (repeatable)")


# ---------------------------------------------------------------------------
# model validity (research.calibration, research.report and research.sensitivity are imported inside the handlers)


def cmd_calibrate(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.calibration import calibrate, check_market, read_transactions

    tx = read_transactions(args.transactions, args.id_col, args.date_col, args.amount_col, sep=args.sep,
                           header=not args.no_header, date_format=args.date_format)
    cal = calibrate(tx, unit=args.unit, calibration_end=args.calibration_end, pareto=args.pareto,
                    reference_price=args.reference_price, mapping=args.mapping, periods=args.periods)
    s = cal.summary
    console.print(f"{len(s):,} customers, {int(s['frequency'].sum()):,} repeat purchases (same-day purchases merged), "
                  f"calibration period to {cal.calibration_end.date()}; BG/NBD and Pareto/NBD in {args.unit}s, BG/BB in months",
                  highlight=False)
    table = cal.table()[["model", "parameter", "estimate", "se", "ci_low", "ci_high"]]
    console.print(_frame_table(table, "Maximum-likelihood fits (s.e. from the inverse Hessian of the log-likelihood)", max_rows=100))
    fits = pd.DataFrame([{"model": k, "log_likelihood": f.log_likelihood, "customers": f.n, "hessian_ok": f.converged}
                         for k, f in cal.fits.items()])
    console.print(_frame_table(fits, "Log-likelihoods"))
    markets = pd.DataFrame([{"mapping": k + (" (written)" if k == cal.mapping else ""), **m, "m": cal.occasions[k]}
                            for k, m in cal.markets.items()])
    console.print(_frame_table(markets, "crmsim \\[market] parameters by mapping (one period = one month; m: purchases per occasion)"))
    for name, why in cal.unavailable.items():
        console.print(f"note: no {name} mapping for this log: {why}", markup=False, highlight=False)
    problems = check_market(cal.market)
    if problems:
        console.print("[red]error:[/red] the calibrated values break the scenario schema: " + "; ".join(problems), highlight=False)
        return 2
    text = cal.toml(Path(args.transactions).name)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        console.print(f"wrote the [market] section ({cal.mapping} mapping) to {args.out}", markup=False, highlight=False)
    else:
        console.print(text, markup=False, highlight=False)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    research_command(args)
    from crmsim.research.runner import default_workers
    from crmsim.research.report import validation_report
    from crmsim.research.sensitivity import drivers

    out = Path(args.out or f"results/validate-{Path(args.scenario).stem}")
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.quiet:
            return
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, unit="seed-run"))
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    report = validation_report(args.scenario, seeds=args.seeds, out_dir=out, sensitivity_seeds=args.sensitivity_seeds,
                               params=_names(args.params), holdout=not args.no_holdout, replicates=args.replicates,
                               workers=args.workers or default_workers(), progress=progress)
    facts = report.facts[["check", "target", "mean", "ci_low", "ci_high", "seeds", "passed"]]
    console.print(_frame_table(facts, f"Customer stylised facts of {args.scenario} (95% t bands over seeds)", max_rows=100))
    failed = int((~facts["passed"].astype(bool)).sum())
    console.print(f"{len(facts) - failed} of {len(facts)} checks pass", highlight=False)
    if report.sensitivity is not None:
        console.print(_frame_table(drivers(report.sensitivity), "Sensitivity: what each parameter drives (+-50%)", max_rows=100))
    if report.holdout is not None:
        console.print(_frame_table(report.holdout.errors, "CDNOW holdout (weeks 40-78): forecast errors"))
    elif report.holdout_note:
        console.print(f"CDNOW holdout: {report.holdout_note}", highlight=False)
    console.print(f"wrote report.md, CSV tables and plots to {out} in {report.seconds:.0f} s", highlight=False)
    if failed:
        console.print(f"[red]{failed} of {len(facts)} stylised-fact checks fail[/red]", highlight=False)
        return 1
    return 0


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the default is None or False or the help explains it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)
        if shown and default is not None and default is not False and default is not argparse.SUPPRESS and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _count(minimum: int):
    """An argparse type: a whole number >= `minimum`, else a message naming the option's value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def _port(text: str) -> int:
    value = _count(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be <= 65535; got {value}")
    return value


def _batch_options(p: argparse.ArgumentParser, default_seeds: int) -> None:
    p.add_argument("scenario", help="shipped scenario name or TOML path")
    p.add_argument("--seeds", type=_count(1), default=default_seeds, help="replicate games")
    p.add_argument("--seed", type=int, default=0, help="master seed; game seeds come from SeedSequence(seed).spawn(n)")
    p.add_argument("--out", help="output folder; finished runs in OUT/runs/ are skipped on a rerun (default results/<command>-<scenario>)")
    p.add_argument("--workers", type=_count(1), help="worker processes (default: CPU count, at most 8; 1 runs in this process)")
    p.add_argument("--dask", metavar="ADDRESS", help="run on Dask: 'local' starts a LocalCluster, tcp://host:8786 joins a cluster")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--rerun-stale", action="store_true",
                   help="play again the kept runs in OUT/runs made with another crmsim version or scenario content "
                        "(default: refuse them)")
    _strategy_options(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmsim", description="The classroom CRM bidding game (客户关系管理模拟) engine.",
                                formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=f"crmsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=kw.pop("description", text), formatter_class=HelpFormatter, **kw)

    run = command("run", "play a whole game with bots, or replay a decision log")
    run.add_argument("scenario", nargs="?", default="classroom-v2", help="shipped scenario name or TOML path")
    run.add_argument("--seed", type=int, default=1, help="the game's seed: same scenario, seed and decisions give the same game")
    run.add_argument("--firms", help=f"comma-separated bots, repeated to fill the seats ({', '.join(BOTS)}) (default: {','.join(DEFAULT_LINEUP)})")
    run.add_argument("--out", help="folder for the frames (CSV/Parquet) and decisions.json (default: write nothing)")
    run.add_argument("--format", default="csv,parquet", help="csv, parquet or both")
    run.add_argument("--customers", action="store_true", help="also write the tracked customers' panel")
    run.add_argument("--replay", metavar="LOG", help="replay a decisions.json (or the folder holding it) and compare with its recorded frames")
    run.add_argument("--quiet", action="store_true", help="no progress bar or per-period table")
    _strategy_options(run)
    run.set_defaults(func=cmd_run)
    sc = command("scenarios", "list shipped scenarios or check scenario files")
    sc_sub = sc.add_subparsers(dest="action", required=True)
    sc_sub.add_parser("list", help="the shipped scenarios", formatter_class=HelpFormatter)
    check = sc_sub.add_parser("check", help="check scenario files; exit 1 if any is invalid", formatter_class=HelpFormatter)
    check.add_argument("files", nargs="+", help="scenario TOML files")
    sc.set_defaults(func=cmd_scenarios)
    srv = command("serve", "run the classroom web server (waitress); deployment: docs/deploy.md")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network interface)")
    srv.add_argument("--port", type=_port, default=5000, help="TCP port to listen on")
    srv.add_argument("--threads", type=_count(1), default=8, help="worker threads answering requests")
    srv.add_argument("--connection-limit", type=_count(1), default=1000, help="open connections (browsers keep several each)")
    srv.add_argument("--database", help="SQLAlchemy URL (default: DATABASE_URL, else SQLite in the instance folder)")
    srv.add_argument("--trusted-proxy", metavar="ADDRESS",
                     help="address of a reverse proxy in front (e.g. 127.0.0.1): client addresses come from its "
                          "X-Forwarded-For header (default: none; proxy headers are ignored)")
    srv.add_argument("--demo", action="store_true", help="create a demo game if the database has none")
    srv.set_defaults(func=cmd_serve)
    bots = command("bots", "list the strategy bots")
    bots.set_defaults(func=cmd_bots)
    sw = command("sweep", "play a scenario over a grid of parameter values, or a Sobol/LHS design")
    _batch_options(sw, default_seeds=10)
    sw.add_argument("--param", action="append", metavar="KEY=V1,V2", help="a swept setting and its values (repeatable)")
    sw.add_argument("--bounds", action="append", metavar="KEY=LO:HI", help="a setting's range for a sobol/lhs design (repeatable)")
    sw.add_argument("--design", choices=["grid", "sobol", "lhs"], help="default: grid with --param, sobol with --bounds")
    sw.add_argument("--samples", type=_count(1), default=16, help="design points within bounds (Saltelli's N with --sobol)")
    sw.add_argument("--sobol", action="store_true", help="Sobol sensitivity indices (SALib) of every outcome")
    sw.add_argument("--firms", help=f"comma-separated bots, repeated to fill the seats ({', '.join(BOTS)}) (default: {','.join(DEFAULT_LINEUP)})")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting fixed for every run (repeatable)")
    sw.set_defaults(func=cmd_sweep)
    tn = command("tournament", "every strategy against every mix of opponents; mean rank, win rate, CIs")
    _batch_options(tn, default_seeds=5)
    tn.add_argument("--strategies", help=f"comma-separated bots (default all: {', '.join(BOTS)})")
    tn.add_argument("--max-lineups", type=_count(0), default=200,
                    help="play a fixed, seeded sample of at most this many lineups (0: every lineup)")
    tn.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting fixed for every game (repeatable)")
    tn.set_defaults(func=cmd_tournament)
    bal = command("balance", "is the scenario balanced? game-fact targets, the bots' Nash mixture, verdict and plots")
    _batch_options(bal, default_seeds=30)
    bal.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting fixed for every game (repeatable)")
    bal.add_argument("--firms", help="comma-separated bots: play this line-up (with any --strategy) instead of the default ones")
    bal.add_argument("--egta-seeds", type=_count(1), help="games per cell of the strategies' payoff table (default: --seeds)")
    bal.add_argument("--no-egta", action="store_true", help="skip the empirical game analysis (the payoff table and Nash mixture)")
    bal.set_defaults(func=cmd_balance)
    ex = command("experiment", "run an experiment file: a design over parameters, line-ups and seeds (TOML)")
    ex.add_argument("file", help="the experiment file (see docs/examples/experiment.toml)")
    ex.add_argument("--out", help="output folder (default results/experiment-<file>)")
    ex.add_argument("--workers", type=_count(1), help="worker processes (default: CPU count, at most 8; 1 runs in this process)")
    ex.add_argument("--dask", metavar="ADDRESS", help="run on Dask: 'local' starts a LocalCluster, tcp://host:8786 joins a cluster")
    ex.add_argument("--quiet", action="store_true", help="no progress bar")
    ex.add_argument("--rerun-stale", action="store_true", help="play again kept runs made with another crmsim version or scenario content")
    ex.set_defaults(func=cmd_experiment)
    pa = command("params", "list every sweepable setting of a scenario: key, type, value, default, bounds, description")
    pa.add_argument("scenario", nargs="?", default="classroom-v2", help="shipped scenario name or TOML path")
    pa.add_argument("--match", metavar="TEXT", help="only keys containing TEXT (e.g. market.)")
    pa.set_defaults(func=cmd_params)
    cal = command("calibrate", "fit BG/NBD, BG/BB and Gamma-Gamma to a transaction log; write a scenario [market] section")
    cal.add_argument("transactions", help="CSV (or whitespace-separated .txt) file, one row per transaction")
    cal.add_argument("--id-col", default="customer_id", help="customer id column: a name, or a 0-based position")
    cal.add_argument("--date-col", default="date", help="date column")
    cal.add_argument("--amount-col", default="amount", help="amount column")
    cal.add_argument("--unit", choices=["week", "month"], default="week", help="time unit of the BG/NBD fit")
    cal.add_argument("--out", metavar="TOML", help="write the [market] section here (default: print it)")
    cal.add_argument("--calibration-end", metavar="DATE", help="last date of the calibration period (default: the file's last date)")
    cal.add_argument("--mapping", choices=["bgnbd", "bgbb", "moments"], default="bgnbd",
                     help="bgnbd: BG/NBD projected on crmsim's monthly model; bgbb: crmsim's model fitted directly; "
                          "moments: each BG/NBD trait moment-matched (over-predicts)")
    cal.add_argument("--periods", type=_count(1), default=12, help="months over which the BG/NBD is projected (12: a game)")
    cal.add_argument("--reference-price", type=float, default=100.0, help="units per purchase = spend / this price")
    cal.add_argument("--pareto", action="store_true", help="also fit Pareto/NBD")
    cal.add_argument("--sep", help="field separator (default: ',' for .csv, whitespace otherwise)")
    cal.add_argument("--no-header", action="store_true", help="the file has no header line: give the columns by position")
    cal.add_argument("--date-format", help="strptime format of the dates (default: yyyymmdd integers, else pandas' parser)")
    cal.set_defaults(func=cmd_calibrate)
    va = command("validate", "customer stylised facts over many seeds, a +-50%% sensitivity sweep and the CDNOW "
                             "out-of-sample check; writes a Markdown report with plots; exit 1 if a check fails")
    va.add_argument("scenario", nargs="?", default="classroom-v2", help="shipped scenario name or TOML path")
    va.add_argument("--seeds", type=_count(1), default=12, help="seeds for the facts")
    va.add_argument("--out", help="report folder (default results/validate-<scenario>)")
    va.add_argument("--sensitivity-seeds", type=_count(0), default=3, help="seeds per setting of the sweep (0 skips it)")
    va.add_argument("--params", help="comma-separated parameters to sweep (default: all of research.sensitivity.SENSITIVITY)")
    va.add_argument("--no-holdout", action="store_true", help="skip the CDNOW out-of-sample check")
    va.add_argument("--replicates", type=_count(1), default=30, help="crmsim replicates of the CDNOW cohort")
    va.add_argument("--workers", type=_count(1), help="worker processes (default: CPU count, at most 8; 1 runs in this process)")
    va.add_argument("--quiet", action="store_true", help="no progress bars")
    va.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's mistake prints ``error: ...`` and returns 2, a bug raises with its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        console.print("[red]error:[/red] ", end="")
        console.print(str(exc), markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
