"""How far the mass market alone goes in classroom-v2: the never-bidding `quality_leader` bot against five bidding
bots, and the same bots' field without it, for scenario variants given as --set groups.

The quality leader is what a PPO agent learned on its own (docs/research.md section 8.7): top service at a price
just under the reference, no bids, no cultivation. For each variant the script prints the quality leader's mean rank
and win share, and every strategy's win share in both line-ups (seats rotated one step per seed), so a scenario
designer can see whether a retune that stops the quality leader hands the game to another bot.

    python docs/examples/quality_leader.py --seeds 24 --variant "" --variant "costs.service_cost=55" \
        --variant "costs.service_cost_curve=2 costs.service_cost=58"
"""

from __future__ import annotations

import argparse
import json

from crmsim.research.runner import RunSpec, execute
from crmsim.research.targets import FIELD, QUALITY  # the balance report's line-up sets


def parse_variant(text: str) -> dict:
    out = {}
    for item in text.split():
        key, value = item.split("=", 1)
        out[key] = json.loads(value)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="classroom-v2")
    ap.add_argument("--seeds", type=int, default=24)
    ap.add_argument("--variant", action="append", default=None, help='space-separated KEY=VALUE settings; "" is the scenario as shipped')
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    variants = [parse_variant(v) for v in (args.variant or [""])]
    specs = []
    for vi, ov in enumerate(variants):
        for name, lineup in (("quality", QUALITY), ("field", FIELD)):
            for s in range(args.seeds):
                r = s % len(lineup)
                specs.append(RunSpec(args.scenario, lineup[r:] + lineup[:r], 1000 + s, tuple(sorted(ov.items())),
                                     tags=(("variant", vi), ("set", name))))
    rows = execute(specs, workers=args.workers)
    rows["win"] = rows["rank"] == 1
    for vi, ov in enumerate(variants):
        d = rows[rows["tag:variant"] == vi]
        q = d[d["tag:set"] == "quality"]
        ql = q[q["strategy"] == "quality_leader"]
        shares = {name: d[d["tag:set"] == name].groupby("strategy")["win"].mean().sort_values(ascending=False) for name in ("quality", "field")}
        label = " ".join(f"{k}={v}" for k, v in ov.items()) or "as shipped"
        print(f"{label}: quality_leader mean rank {ql['rank'].mean():.2f}, wins {ql['win'].mean():.0%}, bottom half {(ql['rank'] > 3).mean():.0%}, "
              f"bankrupt seats {d['bankrupt'].mean():.0%}")
        for name, sh in shares.items():
            print(f"    wins in the {name} line-up: " + ", ".join(f"{k} {v:.0%}" for k, v in sh.items()))


if __name__ == "__main__":
    main()
