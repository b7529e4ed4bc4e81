"""The `crmsim` command line: play games with bots, replay decision logs, list and check scenarios."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from agents.bots import BOTS, lineup
from scenarios import ScenarioError, list_scenarios, load_scenario
from sim.decisions import DecisionError

console = Console(width=None if sys.stdout.isatty() else 150)


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
    from sim.export import read_frame, read_log, roundtrip, write_frames, write_log
    from sim.model import CRMModel

    if args.replay:
        log = read_log(args.replay)
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
            now = roundtrip(model.frames()["firms"], fmt)
            try:
                pd.testing.assert_frame_equal(now, recorded, check_exact=True)
                console.print(f"[green]replay identical to the recorded results in {source}[/green]")
            except AssertionError as exc:
                console.print(f"[red]replay differs from the recorded results in {source}:[/red]\n{exc}")
                return 1
    else:
        scenario = load_scenario(args.scenario)
        names = [n.strip() for n in args.firms.split(",")] if args.firms else None
        strategies = lineup(names, scenario.firms.count)
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
        formats = [f.strip() for f in args.format.split(",")]
        frames["customers"] = model.customer_panel() if args.customers else pd.DataFrame()
        if not args.customers:
            frames.pop("customers")
        write_frames(frames, args.out, formats)
        write_log(model.decision_log(), args.out)
        console.print(f"wrote {', '.join(sorted(frames))} ({'/'.join(formats)}) and decisions.json to {args.out}")
    return 0


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


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    if args.database:
        os.environ["DATABASE_URL"] = args.database
    from waitress import serve

    from web import create_app
    from web.db import get_db
    from web.service import create_game
    from web.views import list_games

    app = create_app()
    with app.app_context():
        if args.demo and not list_games():
            bots = {i: b for i, b in enumerate(["", "", "premium", "price_cutter", "relationship", "adaptive"]) if b}
            game = create_game(get_db(), "classroom-v1", seed=1, name="Demo game · 演示", bots=bots, period_minutes=20)
            console.print(f"demo game {game.id}: teams join with " + ", ".join(f"{t.name}={t.join_code}" for t in game.teams if not t.bot))
        for g in list_games():
            codes = ", ".join(f"{t.name}: {t.join_code}" for t in g.teams if not t.bot)
            console.print(f"game {g.id} ({g.name}, period {g.period}, {g.status}) join codes: {codes}")
    url = f"http://{args.host}:{args.port}/"
    console.print(f"crmsim classroom server on {url} (instructor: {url}instructor/, database: {app.config['DATABASE_URL']})")
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="crmsim",
          connection_limit=args.connection_limit, channel_timeout=30)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmsim", description="The classroom CRM bidding game (客户关系管理模拟) engine.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="play a whole game with bots, or replay a decision log")
    run.add_argument("scenario", nargs="?", default="classroom-v1", help="shipped scenario name or TOML path (default classroom-v1)")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--firms", help=f"comma-separated bots, repeated to fill the seats ({', '.join(BOTS)})")
    run.add_argument("--out", help="folder for the frames (CSV/Parquet) and decisions.json")
    run.add_argument("--format", default="csv,parquet", help="csv, parquet or both (default both)")
    run.add_argument("--customers", action="store_true", help="also write the tracked customers' panel")
    run.add_argument("--replay", metavar="LOG", help="replay a decisions.json (or the folder holding it)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or per-period table")
    run.set_defaults(func=cmd_run)
    sc = sub.add_parser("scenarios", help="list shipped scenarios or check scenario files")
    sc_sub = sc.add_subparsers(dest="action", required=True)
    sc_sub.add_parser("list")
    check = sc_sub.add_parser("check")
    check.add_argument("files", nargs="+")
    sc.set_defaults(func=cmd_scenarios)
    srv = sub.add_parser("serve", help="run the classroom web server (waitress)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=5000)
    srv.add_argument("--threads", type=int, default=8)
    srv.add_argument("--connection-limit", type=int, default=1000, help="open connections (browsers keep several each)")
    srv.add_argument("--database", help="SQLAlchemy URL (default: SQLite in the instance folder, or DATABASE_URL)")
    srv.add_argument("--demo", action="store_true", help="create a demo game if the database has none")
    srv.set_defaults(func=cmd_serve)
    bots = sub.add_parser("bots", help="list the strategy bots")
    bots.set_defaults(func=cmd_bots)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, DecisionError, ValueError) as exc:
        console.print("[red]error:[/red] ", end="")
        console.print(str(exc), markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
