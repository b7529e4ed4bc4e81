"""Train PPO (stable-baselines3) on the single-firm env, then compare it with the bots on held-out seeds.

The learner plays seat 0 of classroom-v2 against five bots (``DEFAULT_OPPONENTS``) with residual actions
around its standing decision (``baseline="standing"``) and the bankruptcy-penalty reward. After training,
the policy plays as a ``PolicyStrategy`` in seat 0 of games on seeds never used in training, and so does
each bot in turn, against the same five opponents on the same seeds (common random numbers: the
comparison is paired game by game). It prints each strategy's mean score and rank with 95% intervals
(research.stats, games resampled) and PPO's paired difference with each, then plays a round-robin tournament
(research.tournament, a seeded sample of line-ups, seats shuffled) of PPO with the random and scripted bots on
other held-out seeds, and writes everything to --out.

Kept out of CI: it needs torch and stable-baselines3, which crmsim does not require::

    pip install -e ".[research,rl]"     # the envs (gymnasium, pettingzoo) and stable-baselines3 with torch
    python docs/examples/train_ppo.py --timesteps 120000 --out out/ppo

The run the research guide quotes (docs/research.md, "Training PPO"): ``--timesteps 120000`` on two
cores. Rerun ``--evaluate-only`` to evaluate a saved model again (result.json keeps the training record).

The policy learns on observations normalised by ``VecNormalize``; ``load_policy`` wraps the saved model with
those statistics (``NormalisedPolicy``), which is how it must be played as a ``PolicyStrategy``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pandas as pd

from crmsim.research.env import DEFAULT_OPPONENTS, CRMSingleFirmEnv
from crmsim.research.policy import PolicyStrategy
from crmsim.research.runner import execute, spawn_seeds, specs_from
from crmsim.research.stats import cluster_mean, paired_difference

SCRIPTED = ("balanced", "premium", "price_cutter", "relationship", "adaptive", "researcher", "retention", "reckless", "standing")


class SeedLog(gymnasium.Wrapper):
    """Records the game seed of every episode (so the held-out seeds can be checked against them)."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        self.seeds: list[int] = []

    def reset(self, **kwargs: Any):
        out = self.env.reset(**kwargs)
        self.seeds.append(self.env.unwrapped.game_seed)
        return out


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {"market.customers": args.customers} if args.customers else None
    return {"scenario": args.scenario, "opponents": DEFAULT_OPPONENTS, "overrides": overrides, "baseline": args.baseline,
            "reward": args.reward}


def make_env(args: argparse.Namespace):
    def thunk() -> gymnasium.Env:
        from stable_baselines3.common.monitor import Monitor

        return Monitor(SeedLog(CRMSingleFirmEnv(**env_kwargs(args))))
    return thunk


class NormalisedPolicy:
    """The trained policy with the observation normalisation it learned with, as ``predict(obs, deterministic)``."""

    def __init__(self, policy: Any, obs_mean: np.ndarray, obs_var: np.ndarray, clip: float, epsilon: float):
        self.policy, self.mean, self.std, self.clip = policy, obs_mean, np.sqrt(obs_var + epsilon), clip

    def predict(self, obs: np.ndarray, deterministic: bool = True):
        x = np.clip((obs - self.mean) / self.std, -self.clip, self.clip).astype(np.float32)
        return self.policy.predict(x, deterministic=deterministic)


def train(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    torch.set_num_threads(1)
    factory = SubprocVecEnv if args.n_envs > 1 else DummyVecEnv
    venv = VecNormalize(factory([make_env(args) for _ in range(args.n_envs)]), norm_obs=True, norm_reward=True, gamma=args.gamma)
    model = PPO("MlpPolicy", venv, seed=args.seed, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=10,
                learning_rate=args.learning_rate, gamma=args.gamma, gae_lambda=0.95, ent_coef=0.0, clip_range=0.2,
                policy_kwargs={"net_arch": [128, 128], "log_std_init": args.log_std_init}, verbose=0, device="cpu")
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps, progress_bar=False)
    seconds = time.perf_counter() - start
    seeds = sorted({s for log in venv.get_attr("seeds") for s in log})
    finished = zip(venv.get_attr("episode_times"), venv.get_attr("episode_returns"))  # per env (Monitor): when each ended
    returns = [float(r) for _, r in sorted((t, r) for times, rets in finished for t, r in zip(times, rets))]  # in that order
    model.save(out / "ppo")
    venv.save(str(out / "vecnormalize.pkl"))
    venv.close()
    record = {"timesteps": args.timesteps, "train_seconds": seconds, "episodes": len(returns), "training_seeds": len(seeds),
              "first_returns_mean": float(np.mean(returns[:200])) if returns else None,
              "last_returns_mean": float(np.mean(returns[-200:])) if returns else None}
    (out / "training_seeds.json").write_text(json.dumps(seeds), encoding="utf-8")
    return record


def load_policy(out: Path) -> NormalisedPolicy:
    import pickle

    from stable_baselines3 import PPO

    model = PPO.load(out / "ppo", device="cpu")
    with open(out / "vecnormalize.pkl", "rb") as fh:
        norm = pickle.load(fh)
    return NormalisedPolicy(model.policy, norm.obs_rms.mean, norm.obs_rms.var, norm.clip_obs, norm.epsilon)


def evaluate(args: argparse.Namespace, out: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[int]]:
    """Each candidate in seat 0 against the training opponents on the held-out seeds; returns (table, PPO's paired
    differences, the held-out seeds)."""
    seeds = spawn_seeds(args.eval_seed, args.eval_games)
    trained = set(json.loads((out / "training_seeds.json").read_text(encoding="utf-8")))
    if trained & set(seeds):
        raise SystemExit(f"held-out seeds overlap the training seeds: {sorted(trained & set(seeds))}")
    env = CRMSingleFirmEnv(**env_kwargs(args))
    ppo = PolicyStrategy(load_policy(out), baseline=args.baseline, codec=env.codec, label="ppo")
    overrides = {"market.customers": args.customers} if args.customers else None
    rows = []
    for candidate in ("ppo", "random", *SCRIPTED):
        seat = ppo if candidate == "ppo" else candidate
        specs = specs_from(args.scenario, [seat, *DEFAULT_OPPONENTS], seeds, overrides)
        games = execute(specs, workers=1, progress=False)
        rows.append(games[games["firm"] == 0].assign(candidate=candidate))
    seat0 = pd.concat(rows, ignore_index=True)
    table = []
    for candidate, g in seat0.groupby("candidate", sort=False):
        score = cluster_mean(g["score"], g["seed"], seed=args.eval_seed)
        rank = cluster_mean(g["rank"].astype(float), g["seed"], seed=args.eval_seed)
        table.append({"strategy": candidate, "mean_score": score.estimate, "score_low": score.low, "score_high": score.high,
                      "mean_rank": rank.estimate, "rank_low": rank.low, "rank_high": rank.high,
                      "bankruptcy_rate": float(g["bankrupt"].mean()), "games": len(g)})
    table = pd.DataFrame(table).sort_values("mean_score", ascending=False, ignore_index=True)
    diffs = []
    for candidate in seat0["candidate"].unique():
        if candidate == "ppo":
            continue
        d = paired_difference(seat0, "score", "candidate", "ppo", candidate, cluster="seed", seed=args.eval_seed)
        diffs.append({"versus": candidate, "ppo_minus": d.estimate, "low": d.low, "high": d.high,
                      "ppo_better": bool(d.low > 0), "ppo_worse": bool(d.high < 0)})
    seat0.to_parquet(out / "held_out_games.parquet")
    return table, pd.DataFrame(diffs), seeds


def round_robin(args: argparse.Namespace, out: Path) -> pd.DataFrame:
    """A tournament (research.tournament) of PPO with the random and scripted bots on held-out seeds: a seeded sample
    of the line-ups, seats shuffled per game, so PPO also meets opponents and seats it never trained with."""
    from crmsim.research.tournament import tournament

    env = CRMSingleFirmEnv(**env_kwargs(args))
    ppo = PolicyStrategy(load_policy(out), baseline=args.baseline, codec=env.codec, label="ppo")
    trained = set(json.loads((out / "training_seeds.json").read_text(encoding="utf-8")))
    if trained & set(spawn_seeds(args.eval_seed + 1, args.tournament_seeds)):
        raise SystemExit("tournament seeds overlap the training seeds")
    overrides = {"market.customers": args.customers} if args.customers else None
    result = tournament(args.scenario, [ppo, "random", *SCRIPTED[:-2]], seeds=args.tournament_seeds, overrides=overrides,
                        master_seed=args.eval_seed + 1, max_lineups=args.tournament_lineups, workers=1, progress=False)
    result.results.to_parquet(out / "tournament_games.parquet")
    return result.table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="classroom-v2")
    p.add_argument("--customers", type=int, default=None, help="market.customers override (default: the scenario's)")
    p.add_argument("--baseline", default="standing", help='"standing" or a bot spec the actions are residuals around')
    p.add_argument("--reward", default="score_delta_bankruptcy_penalty")
    p.add_argument("--timesteps", type=int, default=120_000)
    p.add_argument("--n-envs", type=int, default=2)
    p.add_argument("--n-steps", type=int, default=480, help="steps per env per PPO update (40 games)")
    p.add_argument("--batch-size", type=int, default=240)
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--log-std-init", type=float, default=-1.0, help="initial log std of the actions (residuals start small)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-games", type=int, default=30)
    p.add_argument("--eval-seed", type=int, default=20_261_122, help="master seed of the held-out game seeds")
    p.add_argument("--tournament-lineups", type=int, default=40, help="line-ups sampled for the round robin (0: none)")
    p.add_argument("--tournament-seeds", type=int, default=3, help="games per line-up in the round robin")
    p.add_argument("--evaluate-only", action="store_true")
    p.add_argument("--out", default="out/ppo")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"args": vars(args)}
    if not args.evaluate_only:
        record["training"] = train(args, out)
        print(json.dumps(record["training"], indent=2))
    elif (out / "result.json").exists():  # keep the record of the training that made the model
        training = json.loads((out / "result.json").read_text(encoding="utf-8")).get("training")
        if training is not None:
            record["training"] = training
    table, diffs, seeds = evaluate(args, out)
    record.update(held_out_seeds=seeds, table=table.to_dict("records"), paired=diffs.to_dict("records"))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(2).to_string(index=False))
        print(diffs.round(2).to_string(index=False))
        if args.tournament_lineups:
            rr = round_robin(args, out)
            record["tournament"] = rr.to_dict("records")
            if "ppo" not in set(rr["strategy"]):
                print(f"warning: the {args.tournament_lineups} sampled line-ups leave PPO out; sample more (--tournament-lineups)")
            print(rr[["position", "strategy", "games", "seats", "mean_rank", "mean_rank_low", "mean_rank_high", "win_rate",
                      "mean_score", "mean_score_low", "mean_score_high", "bankruptcy_rate"]].round(2).to_string(index=False))
    (out / "result.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
