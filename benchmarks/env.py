"""How many steps per second the single-firm learning env runs, this code against an older commit, side by side.

Measures, in one run, for each case (a scenario and a market size):

* this checkout's ``CRMSingleFirmEnv`` (the crmsim this Python imports) and the env of an older commit
  (default: the ``main`` branch's), each in fresh subprocesses, alternating old and new for ``--rounds``
  rounds so both meet the same machine load; the old commit is checked out into a temporary git worktree
  and imported from there; steps per second of wall time and per second of the process's CPU time (the
  steadier figure on a shared machine), medians over the rounds;
* both play the same games: seat 0 keeps its standing decision and bids nothing (the old env's action for
  the standing decision; the new env's zero action around ``baseline="standing"``) against the env's
  default bots, so the engine does the same work and the ratio measures the env; the runs' final scores
  must agree, or the figures are not comparable and the script says so;
* where the new env's time goes (cProfile of a few episodes): the engine's ``resolve_period``, the opponent
  bots (``bot_decisions``), the learner's turn (its view, baseline, action mask and observation vector) and
  decoding its action.

The target (issue 12): 2,000 steps/s (checked against the CPU-time figure, the one most in the env's favour).

Run from the repository root::

    python benchmarks/env.py
    python benchmarks/env.py --old-ref effc94b --rounds 5 --episodes 6 --json out/env.json
    python benchmarks/env.py --no-old --profile
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

from checkout import check_out, finish_figures, remove_checkout  # benchmarks/checkout.py (this script's folder is on sys.path)

TARGET_STEPS_PER_S = 2000.0
ROOT = Path(__file__).resolve().parent.parent
#: (scenario, market.customers or None for the scenario's own)
CASES = (("classroom-v1", None), ("classroom-v2", None), ("classroom-v2", 1000))


# ---------------------------------------------------------------------------
# the measurement, run in a subprocess against either version of the env


def standing_action(env: Any) -> Any:
    """The action that keeps the standing decision and bids nothing, in whichever env API is imported."""
    import numpy as np

    if hasattr(env, "turn"):  # residual actions (v2): the zero action around baseline="standing"
        return np.zeros(env.action_space.shape, dtype=np.float32)
    return env.decision_to_action(None)  # absolute actions (v1)


def play(scenario: str, customers: int | None, episodes: int, seed: int) -> dict[str, Any]:
    """Time `episodes` episodes (after one untimed warm-up) of seat 0 keeping its standing decision: wall time and
    the process's CPU time (on a shared machine the CPU time is the steadier figure)."""
    import crmsim
    from crmsim.research import env as env_module

    overrides = {"market.customers": customers} if customers else None
    env = env_module.CRMSingleFirmEnv(scenario, overrides=overrides)
    scores, steps, seconds, cpu = [], 0, 0.0, 0.0
    for k in range(episodes + 1):
        env.reset(seed=seed + k)
        action, done, n = standing_action(env), False, 0
        start, start_cpu = time.perf_counter(), time.process_time()
        while not done:
            _, _, terminated, truncated, _ = env.step(action)
            done, n = terminated or truncated, n + 1
        elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if k:  # the first episode warms up imports and caches
            steps, seconds, cpu = steps + n, seconds + elapsed, cpu + elapsed_cpu
        scores.append(float(env.results[-1].firm_rows[0]["score"]))
    return {"steps": steps, "seconds": seconds, "cpu_seconds": cpu, "steps_per_s": steps / seconds,
            "steps_per_cpu_s": steps / cpu, "scores": scores, "crmsim": str(Path(crmsim.__file__).parent)}


def run_worker(site: Path | None, scenario: str, customers: int | None, episodes: int, seed: int) -> dict[str, Any]:
    """One measurement in a fresh process: the old commit's crmsim (from `site`) or, for None, this Python's."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--scenario", scenario, "--episodes", str(episodes),
           "--seed", str(seed)] + (["--customers", str(customers)] if customers else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"worker failed ({'old' if site else 'new'} {scenario}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# where the new env's time goes


PARTS = (
    ("engine (resolve_period)", "engine.py", "resolve_period"),
    ("opponent bots (bot_decisions)", "engine.py", "bot_decisions"),
    ("learner's turn (view, baseline, mask, observation)", "env.py", "take_turn"),
    ("decoding the action", "codec.py", "to_decision"),
)


def breakdown(scenario: str, customers: int | None, episodes: int, seed: int, top: int = 0) -> tuple[list[dict[str, Any]], str]:
    """Shares of the new env's step time (cProfile, cumulative), and optionally the top functions."""
    from crmsim.research.env import CRMSingleFirmEnv

    env = CRMSingleFirmEnv(scenario, overrides={"market.customers": customers} if customers else None)
    action = standing_action(env)
    prof = cProfile.Profile()
    for k in range(episodes):
        env.reset(seed=seed + k)
        done = False
        prof.enable()
        while not done:
            _, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        prof.disable()
    stats = pstats.Stats(prof)
    cumulative = {(Path(f).name, name): ct for (f, _, name), (_, _, _, ct, _) in stats.stats.items()}
    total = cumulative[("env.py", "step")]
    rows = [{"part": label, "seconds": cumulative.get((f, n), 0.0), "share": cumulative.get((f, n), 0.0) / total}
            for label, f, n in PARTS]
    rows.append({"part": "the rest of step()", "seconds": total - sum(r["seconds"] for r in rows),
                 "share": 1 - sum(r["share"] for r in rows)})
    text = ""
    if top:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
        text = buf.getvalue()
    return rows, text


# ---------------------------------------------------------------------------


def case_name(scenario: str, customers: int | None) -> str:
    return f"{scenario}" + (f", {customers:,} customers" if customers else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old-ref", default="main", help="the commit (or branch) to compare with (default: main)")
    p.add_argument("--no-old", action="store_true", help="measure this code only")
    p.add_argument("--rounds", type=int, default=3, help="old/new pairs per case (medians are reported)")
    p.add_argument("--episodes", type=int, default=4, help="timed episodes per measurement (12 steps each)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--profile", action="store_true", help="also print the new env's top functions")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scenario", default="classroom-v2", help=argparse.SUPPRESS)
    p.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(play(args.scenario, args.customers, args.episodes, args.seed)))
        return 0

    figures: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "command": shlex.join([sys.executable, "benchmarks/env.py", *(argv if argv is not None else sys.argv[1:])]),
        "load_average_before": os.getloadavg(), "cases": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="crmsim-env-bench-"))
    site = None
    try:
        if not args.no_old:
            figures["old_commit"], site = check_out(args.old_ref, tmp)
            print(f"old: {args.old_ref} = {figures['old_commit'][:12]}, checked out in {tmp / 'source'}")
        print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {args.rounds} rounds of {args.episodes} episodes a case")
        for scenario, customers in CASES:
            case: dict[str, Any] = {"scenario": scenario, "customers": customers, "new": [], "old": []}
            for r in range(args.rounds):
                order = ("old", "new") if r % 2 == 0 else ("new", "old")
                for which in order:
                    if which == "old" and site is None:
                        continue
                    case[which].append(run_worker(site if which == "old" else None, scenario, customers, args.episodes, args.seed))
            line = f"{case_name(scenario, customers)}:"
            for which in ("new", "old") if case["old"] else ("new",):
                for key in ("steps_per_s", "steps_per_cpu_s"):
                    case[f"{which}_{key}"] = statistics.median(m[key] for m in case[which])
                line += (f" {which} {case[f'{which}_steps_per_s']:,.0f} steps/s ({case[f'{which}_steps_per_cpu_s']:,.0f} per CPU-second)"
                         + ("," if which == "new" and case["old"] else ""))
            if case["old"]:
                ratio = case["new_steps_per_cpu_s"] / case["old_steps_per_cpu_s"]
                wall = case["new_steps_per_s"] / case["old_steps_per_s"]
                same = all(m["scores"] == case["new"][0]["scores"] for m in case["old"] + case["new"])
                case.update(ratio_cpu=ratio, ratio_wall=wall, same_games=same)
                line += (f": new/old x{ratio:.2f} by CPU time, x{wall:.2f} by wall time"
                         + ("" if same else "  [the versions played DIFFERENT games: not comparable]"))
            case["target_met"] = case["new_steps_per_cpu_s"] >= TARGET_STEPS_PER_S
            line += f"; target {TARGET_STEPS_PER_S:,.0f} steps/s {'met' if case['target_met'] else 'MISSED'}"
            print(line)
            rows, text = breakdown(scenario, customers, 2, args.seed, top=25 if args.profile else 0)
            case["breakdown"] = rows
            print("  where a step's time goes (cProfile): " + "; ".join(f"{r['part']} {r['share']:.0%}" for r in rows))
            if text:
                print(text)
            figures["cases"].append(case)
    finally:
        remove_checkout(tmp)
    finish_figures(figures, args.json)
    comparable = all(c.get("same_games", True) for c in figures["cases"])
    return 0 if comparable else 1


if __name__ == "__main__":
    sys.exit(main())
