"""How many whole games per second research batches play: classroom-v1, bots in every seat, twelve periods.

Measures, in one run:

* one game in this process (the median of a few, after a warm-up), and a
  cProfile of one game with ``--profile``;
* ``--games`` games (default 1,000) on the default process pool of
  ``--workers`` processes (research.runner.execute, which sends up to ten
  games per task), pool start-up included;
* the same games on a Dask LocalCluster of ``--workers`` single-threaded
  processes, cluster start-up timed apart;
* that both executors gave identical rows (seeds from SeedSequence.spawn, rows
  in spec order, so the executor and the worker count cannot change a result).

The target: 1,000 games within 2 minutes on a 2-core machine.

Run from the repository root::

    python benchmarks/games.py
    python benchmarks/games.py --games 200 --workers 4 --skip-dask --json out/games.json
    python benchmarks/games.py --profile --games 0
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from crmsim.agents.bots import DEFAULT_LINEUP, lineup
from crmsim.research.runner import RunSpec, execute, open_executor, run_game, spawn_seeds, specs_from
from crmsim.scenarios import load_scenario

TARGET_GAMES = 1000
TARGET_SECONDS = 120.0


def one_game(spec: RunSpec, repeats: int) -> float:
    run_game(spec)  # warm-up: imports, scenario cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_game(spec)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile_game(spec: RunSpec, top: int = 25) -> str:
    run_game(spec)
    prof = cProfile.Profile()
    prof.enable()
    run_game(spec)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pool workers, Dask nannies and their workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--games", type=int, default=TARGET_GAMES)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scenario", default="classroom-v1")
    p.add_argument("--seed", type=int, default=2024, help="master seed of the games' seeds")
    p.add_argument("--chunksize", type=int, help="games per task (default: execute's, up to 10)")
    p.add_argument("--skip-pool", action="store_true")
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--profile", action="store_true", help="print a cProfile of one game")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)

    scenario = load_scenario(args.scenario)
    strategies = lineup(list(DEFAULT_LINEUP), scenario.firms.count)
    seeds = spawn_seeds(args.seed, max(args.games, 1))
    specs = specs_from(args.scenario, strategies, seeds[: args.games])
    figures: dict[str, Any] = {
        "scenario": args.scenario, "periods": scenario.periods, "customers": scenario.market.customers,
        "firms": strategies, "games": args.games, "workers": args.workers, "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "machine": platform.platform(),
        "command": shlex.join([sys.executable, "benchmarks/games.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    print(f"{args.scenario}: {scenario.firms.count} bots ({', '.join(strategies)}), {scenario.periods} periods, "
          f"{scenario.market.customers:,} customers; {os.cpu_count()} CPUs, Python {platform.python_version()}")

    first = RunSpec(args.scenario, tuple(strategies), seeds[0])
    per_game = one_game(first, repeats=5)
    figures["one_game_s"] = per_game
    print(f"one game in this process: {per_game * 1000:.0f} ms (median of 5) -> {1 / per_game:.1f} games/s on one core")
    if args.profile:
        print(profile_game(first))

    rows: dict[str, pd.DataFrame] = {}
    figures["load_average_before"] = os.getloadavg()
    if args.games and not args.skip_pool:
        t0, c0 = time.perf_counter(), cpu_seconds()
        rows["pool"] = execute(specs, workers=args.workers, progress=False, chunksize=args.chunksize)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        figures["pool"] = {"seconds": elapsed, "games_per_s": args.games / elapsed, "cpu_s_per_game": cpu / args.games}
        print(f"process pool ({args.workers} workers): {args.games} games in {elapsed:.1f} s = {args.games / elapsed:.2f} games/s "
              f"(pool start-up included; {cpu / args.games * 1000:.0f} ms CPU per game)")
    if args.games and not args.skip_dask:
        t0, c0 = time.perf_counter(), cpu_seconds()
        with open_executor("local", workers=args.workers) as executor:
            startup = time.perf_counter() - t0
            t1 = time.perf_counter()
            rows["dask"] = execute(specs, executor=executor, workers=args.workers, progress=False, chunksize=args.chunksize)
            elapsed = time.perf_counter() - t1
        total, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        figures["dask"] = {"seconds": elapsed, "startup_s": startup, "total_s": total, "games_per_s": args.games / elapsed,
                           "cpu_s_per_game": cpu / args.games}
        print(f"Dask LocalCluster ({args.workers} workers): {args.games} games in {elapsed:.1f} s = {args.games / elapsed:.2f} games/s "
              f"(+ {startup:.1f} s cluster start-up; {total:.1f} s in all; {cpu / args.games * 1000:.0f} ms CPU per game)")
    if len(rows) == 2:
        try:
            pd.testing.assert_frame_equal(rows["pool"], rows["dask"])
            figures["identical_rows"] = True
            print("the process pool and Dask gave identical rows")
        except AssertionError as exc:  # a real bug, or the code was edited between the two batches
            figures["identical_rows"] = False
            print(f"the process pool and Dask gave DIFFERENT rows: {str(exc).splitlines()[0]}")
    checks = [v["seconds"] for k, v in figures.items() if k in ("pool", "dask")]
    if checks and args.games:
        projected = max(checks) / args.games * TARGET_GAMES
        figures["projected_1000_s"] = projected
        ok = projected <= TARGET_SECONDS
        figures["target_met"] = ok
        print(f"target: {TARGET_GAMES} games within {TARGET_SECONDS:.0f} s -> slowest executor "
              f"{'takes' if args.games == TARGET_GAMES else 'projects'} {projected:.0f} s: {'met' if ok else 'MISSED'}")
    figures["load_average_after"] = os.getloadavg()
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
        *figures["load_average_before"], *figures["load_average_after"]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"reproduce: {figures['command']}")
    return 0 if figures.get("identical_rows", True) else 1


if __name__ == "__main__":
    sys.exit(main())
