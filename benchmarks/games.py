"""How fast whole games play, this code against an older commit, side by side in one run.

Measures, in one run:

* one game on one core, for each scenario in ``--scenarios`` (default classroom-v1 and classroom-v2, bots
  in every seat, as research batches play them: ``research.runner.run_game``): this checkout's crmsim and
  an older commit's (default: the commit before the speed work of issue 12), each in fresh subprocesses,
  alternating old and new for ``--rounds`` rounds so both meet the same machine load; per game the
  median CPU time and wall time over ``--per-round`` games after a warm-up, then medians over the rounds
  and the ratio old/new (how many times faster the new code is);
* ``--games`` games (default 1,000, classroom-v1) on the default process pool of ``--workers`` processes
  (``research.runner.execute``, pool start-up included), old and new alternating, and that both gave the
  same rows (the speed work changes no result);
* with ``--dask``, the same games on a Dask LocalCluster of ``--workers`` processes (new code only), and
  that the pool and Dask gave identical rows;
* with ``--breakdown``, where a new game's time goes, timed without a profiler: the customer population's
  rules (drawing the customers, ``init_population``; the periods' steps, ``step_population``: numpy arrays,
  one operation per rule), the bots' decisions (``bot_decisions``) and the rest; and the floors these set for
  the targets: a game can't take less than its population, and an env that plays one period a step can't make
  more steps per second than one over a period's population step;
* with ``--profile``, a cProfile of one new game.

The targets (issue 12): a classroom game in 15 ms on one core, 1,000 games in 10 s on 2 cores. On a shared
machine the absolute times move with the load; the old/new ratios, measured side by side, are the figures
to trust.

Run from the repository root::

    python benchmarks/games.py
    python benchmarks/games.py --old-ref main --rounds 5 --games 200 --json out/games.json
    python benchmarks/games.py --no-old --games 0 --profile
    python benchmarks/games.py --no-old --games 0 --breakdown
    python benchmarks/games.py --record-digests 560655f   # tests/fixtures/frame_digests.json from that commit
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from checkout import ROOT, check_out, finish_figures, remove_checkout  # benchmarks/checkout.py (this script's folder is on sys.path)

#: the commit before the speed work of issue 12 (the frame digests were recorded with its code)
BASELINE = "560655f"
TARGET_GAME_S = 0.015
TARGET_GAMES = 1000
TARGET_BATCH_S = 10.0


# ---------------------------------------------------------------------------
# the measurements, run in a subprocess against either version


def specs(scenario: str, n: int, seed: int) -> list[Any]:
    from crmsim.agents.bots import DEFAULT_LINEUP, lineup
    from crmsim.research.runner import specs_from, spawn_seeds
    from crmsim.scenarios import load_scenario

    strategies = lineup(list(DEFAULT_LINEUP), load_scenario(scenario).firms.count)
    return specs_from(scenario, strategies, spawn_seeds(seed, n))


def play_games(scenario: str, games: int, seed: int) -> dict[str, Any]:
    """`games` games one after another in this process (after one untimed warm-up): per game CPU and wall time."""
    import crmsim
    from crmsim.research.runner import run_game

    todo = specs(scenario, games + 1, seed)
    run_game(todo[0])  # imports, the scenario cache
    cpu, wall, scores = [], [], []
    for spec in todo[1:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        rows = run_game(spec)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
        scores.append([float(x) for x in rows["score"]])
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall), "scores": scores,
            "crmsim": str(Path(crmsim.__file__).parent)}


#: the engine's entry points --breakdown times (crmsim.sim.engine calls them through its module globals)
PARTS = {"init_population": "drawing the customers", "step_population": "the periods' population steps",
         "bot_decisions": "the bots' decisions"}


def part_home(name: str) -> Any:
    """The module whose global `name` (a part of PARTS) the engine calls: the model's for the bots, else the engine's."""
    import crmsim.sim.engine as engine
    import crmsim.sim.model as model

    return model if hasattr(model, name) else engine


def play_parts(scenario: str, games: int, seed: int) -> dict[str, Any]:
    """`games` games (after a warm-up), each part of PARTS timed around its calls: seconds per game of each part
    and of the whole game, and per period of the population step (medians over the games)."""
    import crmsim.sim.engine as engine
    from crmsim.research.runner import run_game

    spent = dict.fromkeys(PARTS, 0.0)
    calls = dict.fromkeys(PARTS, 0)
    originals = {name: getattr(part_home(name), name) for name in PARTS}

    def timed(name: str) -> Any:
        inner = originals[name]

        def part(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
                calls[name] += 1

        return part

    steps: list[tuple[Any, ...]] = []  # the warm-up game's population steps: (inputs, market, track)
    step = originals["step_population"]

    def recorded(pop: Any, inputs: Any, m: Any, rng: Any, xp: Any = None, track: int = 0) -> Any:
        steps.append((inputs, m, track))
        return step(pop, inputs, m, rng, xp, track=track)

    todo = specs(scenario, games + 1, seed)
    per_game: dict[str, list[float]] = {name: [] for name in (*PARTS, "game", "step_per_period")}
    try:
        engine.step_population = recorded
        run_game(todo[0])
        for name in PARTS:
            setattr(part_home(name), name, timed(name))
        for spec in todo[1:]:
            for name in PARTS:
                spent[name], calls[name] = 0.0, 0
            start = time.perf_counter()
            run_game(spec)
            per_game["game"].append(time.perf_counter() - start)
            for name in PARTS:
                per_game[name].append(spent[name])
            per_game["step_per_period"].append(spent["step_population"] / max(calls["step_population"], 1))
    finally:  # the engine as it was
        for name, original in originals.items():
            setattr(part_home(name), name, original)
    out = {name: statistics.median(values) for name, values in per_game.items()}
    out["step_at_size"] = {n: population_step_at(steps, n, step) for n in SIZES}
    return out


#: market sizes at which --breakdown replays a game's population steps: at 100 customers a step costs little
#: more than its calls into NumPy (the per-call cost), at 10,000 (the classroom market) the arithmetic shows
SIZES = (100, 1_000, 10_000)


def population_step_at(steps: list[tuple[Any, ...]], customers: int, step: Any, repeats: int = 5) -> float:
    """Seconds per population step with `customers` customers: a game's recorded steps (their market inputs)
    replayed `repeats` times each on a population of that size, drawn from the same market."""
    import numpy as np

    from crmsim.agents.population import init_population

    spent = 0.0
    for inputs, m, track in steps:
        market = m.model_copy(update={"customers": customers})
        pop = init_population(market, len(inputs.price), np.random.default_rng(1))
        start = time.perf_counter()
        for r in range(repeats):
            step(pop, inputs, market, np.random.default_rng(r), np, track=track)
        spent += time.perf_counter() - start
    return spent / (len(steps) * repeats)


def breakdown(scenario: str, games: int, seed: int) -> dict[str, Any]:
    """Print and return where a new `scenario` game's time goes, and the floors its population sets (see the module doc)."""
    parts = run_worker(None, "parts", scenario, str(games), str(seed))
    game, population = parts["game"], parts["init_population"] + parts["step_population"]
    rest = game - population - parts["bot_decisions"]
    print(f"where a {scenario} game's time goes (median of {games} games, {ms(game)} each):")
    for name, label in PARTS.items():
        print(f"  {label} ({name}): {ms(parts[name])}, {parts[name] / game:.0%}")
    print(f"  the rest (tenders, accounts, validation, observations, rows): {ms(rest)}, {rest / game:.0%}")
    sizes = {int(n): t for n, t in parts["step_at_size"].items()}
    print("  a population step replayed at other market sizes (the same inputs): "
          + ", ".join(f"{n:,} customers {t * 1000:.2f} ms" for n, t in sizes.items())
          + f"; at {min(sizes):,} a step is little more than its calls into NumPy")
    ceiling = 1.0 / parts["step_per_period"]
    print(f"  floors: the population alone is {ms(population)} a game, {population / TARGET_GAME_S:.0%} of the "
          f"{ms(TARGET_GAME_S)} target; one period's population step takes {parts['step_per_period'] * 1000:.2f} ms, so an env "
          f"that plays a period a step makes at most {ceiling:,.0f} steps/s (target 2,000)")
    return {**parts, "scenario": scenario, "population_s": population, "rest_s": rest, "env_steps_per_s_ceiling": ceiling}


def play_batch(scenario: str, games: int, seed: int, workers: int) -> dict[str, Any]:
    """`games` games on a process pool of `workers` (pool start-up included): seconds, and a digest of the rows."""
    import hashlib

    import pandas as pd

    from crmsim.research.runner import execute

    todo = specs(scenario, games, seed)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    rows = execute(todo, workers=workers, progress=False)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    # tenders_won left out: it became the game's total (it was the last period's) after 4ce5830, with the same games
    kept = rows.drop(columns=["run_id", "tenders_won"]).sort_values(["seed", "firm"]).reset_index(drop=True)
    numbers = [c for c in kept.columns if pd.api.types.is_numeric_dtype(kept[c]) and not pd.api.types.is_bool_dtype(kept[c])]
    kept = kept.astype({c: "float64" for c in numbers})  # values compared, not dtypes (counts became integers)
    digest = hashlib.sha256(kept.to_csv(index=False).encode()).hexdigest()
    return {"seconds": seconds, "cpu_s": cpu, "rows": len(rows), "digest": digest}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers, once it has shut down)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_worker(site: Path | None, *args: str) -> dict[str, Any]:
    """One measurement in a fresh process: the old commit's crmsim (from `site`) or, for None, this Python's."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"worker failed ({'old' if site else 'new'} {' '.join(args)}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternate(sites: dict[str, Path | None], scenario: str, rounds: int, per_round: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """One-game measurements (:func:`play_games`, `per_round` games each) of each labelled crmsim (`sites`: label ->
    the folder for PYTHONPATH, None for this Python's), `rounds` times, in fresh processes, the order reversed
    every other round so all meet the same machine load; label -> the measurements."""
    out: dict[str, list[dict[str, Any]]] = {label: [] for label in sites}
    for r in range(rounds):
        for label in list(sites) if r % 2 == 0 else list(sites)[::-1]:
            out[label].append(run_worker(sites[label], "games", scenario, str(per_round), str(seed)))
    return out


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    """The median of `key` over one-game measurements (:func:`play_games`)."""
    return statistics.median(m[key] for m in runs)


def same_games(*runs: list[dict[str, Any]]) -> bool:
    """Whether every one-game measurement of every version played the same games (the same final scores)."""
    measured = [m for r in runs for m in r]
    return all(m["scores"] == measured[0]["scores"] for m in measured)


def profile_game(scenario: str, seed: int, top: int = 30) -> str:
    from crmsim.research.runner import run_game

    spec = specs(scenario, 1, seed)[0]
    run_game(spec)
    prof = cProfile.Profile()
    prof.enable()
    run_game(spec)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def dask_batch(scenario: str, games: int, seed: int, workers: int) -> dict[str, Any]:
    """The same games on a Dask LocalCluster (new code), and whether its rows equal the process pool's."""
    import pandas as pd

    from crmsim.research.runner import execute, open_executor

    todo = specs(scenario, games, seed)
    start = time.perf_counter()
    with open_executor("local", workers=workers) as executor:
        startup = time.perf_counter() - start
        t1 = time.perf_counter()
        dask_rows = execute(todo, executor=executor, workers=workers, progress=False)
        seconds = time.perf_counter() - t1
    pool_rows = execute(todo, workers=workers, progress=False)
    try:
        pd.testing.assert_frame_equal(pool_rows, dask_rows)
        same = True
    except AssertionError:
        same = False
    return {"seconds": seconds, "startup_s": startup, "identical_to_pool": same}


# ---------------------------------------------------------------------------
# the frame digests of an older commit


def record_digests(site: Path) -> None:
    """tests/fixtures/frame_digests.json, written by the recorder with the older commit's crmsim."""
    env = dict(os.environ, PYTHONPATH=str(site))
    subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "record_frame_digests.py")], env=env, cwd=ROOT, check=True)


# ---------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old-ref", default=BASELINE, help=f"the commit (or branch) to compare with (default: {BASELINE})")
    p.add_argument("--no-old", action="store_true", help="measure this code only")
    p.add_argument("--scenarios", default="classroom-v1,classroom-v2", help="scenarios of the one-game figures")
    p.add_argument("--rounds", type=int, default=3, help="old/new pairs per figure (medians are reported)")
    p.add_argument("--per-round", type=int, default=10, help="games per one-game measurement (their median)")
    p.add_argument("--games", type=int, default=TARGET_GAMES, help="games of the batch figure (0: none)")
    p.add_argument("--batch-scenario", default="classroom-v1")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=2024, help="master seed of the games' seeds")
    p.add_argument("--dask", action="store_true", help="also play the batch on a Dask LocalCluster (new code)")
    p.add_argument("--breakdown", action="store_true",
                   help="time the population, the bots and the rest of new games, and print the floors they set")
    p.add_argument("--profile", action="store_true", help="print a cProfile of one new game")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--record-digests", metavar="REF", help="write tests/fixtures/frame_digests.json with REF's code, then stop")
    p.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        kind, scenario, games, seed, *rest = args.worker
        if kind == "parts":
            result = play_parts(scenario, int(games), int(seed))
        else:
            result = (play_games(scenario, int(games), int(seed)) if kind == "games"
                      else play_batch(scenario, int(games), int(seed), int(rest[0])))
        print(json.dumps(result))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="crmsim-games-bench-"))
    site = None
    figures: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "command": shlex.join([sys.executable, "benchmarks/games.py", *(argv if argv is not None else sys.argv[1:])]),
        "load_average_before": os.getloadavg(), "one_game": [],
    }
    try:
        if args.record_digests:
            sha, site = check_out(args.record_digests, tmp)
            record_digests(site)
            print(f"recorded tests/fixtures/frame_digests.json with the code of {sha[:12]}")
            return 0
        if not args.no_old:
            figures["old_commit"], site = check_out(args.old_ref, tmp)
            print(f"old: {args.old_ref} = {figures['old_commit'][:12]}, checked out in {tmp / 'source'}")
        print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
              f"{args.rounds} rounds, old and new alternating")
        versions = ("old", "new") if site is not None else ("new",)
        comparable = True
        for scenario in args.scenarios.split(","):
            case: dict[str, Any] = {"scenario": scenario, **alternate({"old": site, "new": None} if site else {"new": None},
                                                                      scenario, args.rounds, args.per_round, args.seed)}
            line = f"one {scenario} game on one core:"
            for which in versions:
                case[f"{which}_cpu_s"] = median_of(case[which], "cpu_s")
                case[f"{which}_wall_s"] = median_of(case[which], "wall_s")
                line += f" {which} {ms(case[f'{which}_cpu_s'])} CPU ({ms(case[f'{which}_wall_s'])} wall);"
            if site is not None:
                case["ratio_cpu"] = case["old_cpu_s"] / case["new_cpu_s"]
                case["ratio_wall"] = case["old_wall_s"] / case["new_wall_s"]
                case["same_games"] = same_games(case["old"], case["new"])
                comparable &= case["same_games"]
                line += (f" new is x{case['ratio_cpu']:.2f} as fast by CPU time, x{case['ratio_wall']:.2f} by wall time"
                         + ("" if case["same_games"] else "  [the versions played DIFFERENT games]"))
            case["target_met"] = case["new_cpu_s"] <= TARGET_GAME_S
            print(line + f"; target {ms(TARGET_GAME_S)}: {'met' if case['target_met'] else 'MISSED'}")
            figures["one_game"].append(case)

        if args.games:
            batch: dict[str, Any] = {"scenario": args.batch_scenario, "games": args.games, "workers": args.workers}
            for which in versions:  # one round each: a batch is long enough to average the load out
                batch[which] = run_worker(site if which == "old" else None, "batch", args.batch_scenario, str(args.games),
                                          str(args.seed), str(args.workers))
            line = f"{args.games} {args.batch_scenario} games on {args.workers} workers:"
            for which in versions:
                line += f" {which} {batch[which]['seconds']:.1f} s ({batch[which]['cpu_s']:.1f} CPU-s);"
            if site is not None:
                batch["ratio"] = batch["old"]["seconds"] / batch["new"]["seconds"]
                batch["ratio_cpu"] = batch["old"]["cpu_s"] / batch["new"]["cpu_s"]
                batch["same_rows"] = batch["old"]["digest"] == batch["new"]["digest"]
                comparable &= batch["same_rows"]
                line += (f" new is x{batch['ratio']:.2f} as fast by wall time, x{batch['ratio_cpu']:.2f} by CPU time"
                         + (", identical rows" if batch["same_rows"] else "  [the versions gave DIFFERENT rows]"))
            projected = batch["new"]["seconds"] / args.games * TARGET_GAMES
            batch["target_met"] = projected <= TARGET_BATCH_S
            print(line + f"; target {TARGET_GAMES:,} games in {TARGET_BATCH_S:.0f} s: new "
                  f"{'takes' if args.games == TARGET_GAMES else 'projects'} {projected:.1f} s, "
                  f"{'met' if batch['target_met'] else 'MISSED'}")
            figures["batch"] = batch
        if args.dask and args.games:
            figures["dask"] = dask_batch(args.batch_scenario, args.games, args.seed, args.workers)
            d = figures["dask"]
            print(f"Dask LocalCluster ({args.workers} workers, new code): {args.games} games in {d['seconds']:.1f} s "
                  f"(+ {d['startup_s']:.1f} s start-up); rows {'identical to' if d['identical_to_pool'] else 'DIFFERENT from'} the pool's")
            comparable &= d["identical_to_pool"]
        if args.breakdown:
            figures["breakdown"] = [breakdown(scenario, max(args.per_round, 5), args.seed)
                                    for scenario in args.scenarios.split(",")]
        if args.profile:
            print(profile_game(args.scenarios.split(",")[0], args.seed))
    finally:
        remove_checkout(tmp)
    finish_figures(figures, args.json)
    return 0 if comparable else 1


if __name__ == "__main__":
    sys.exit(main())
