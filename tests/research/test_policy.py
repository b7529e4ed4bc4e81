"""PolicyStrategy: a trained policy as a tournament bot that sees and acts exactly as it did in the environments."""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.agents.bots import strategy_label
from crmsim.research.env import CRMSingleFirmEnv
from crmsim.research.policy import PolicyStrategy
from crmsim.research.runner import RunSpec, run_game
from crmsim.sim.model import CRMModel

SMALL = {"market.customers": 3000}
V1_OPPONENTS = ("premium", "price_cutter", "relationship", "adaptive", "balanced")
V2_OPPONENTS = ("premium", "researcher", "relationship", "retention", "adaptive")


def rows(model: CRMModel) -> list[list[tuple]]:
    return [[(r["rank"], r["score"], r["cash"], r["customers"]) for r in res.firm_rows] for res in model.results]


class ZeroPolicy:
    """A 'policy' that always outputs the zero action, and counts its calls."""

    def __init__(self, size: int):
        self.size, self.calls = size, 0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.zeros(self.size, dtype=np.float32)


@pytest.mark.parametrize("scenario,bot,opponents", [
    ("classroom-v1", "balanced", V1_OPPONENTS),
    ("classroom-v2", "balanced", V2_OPPONENTS),
    ("classroom-v2", "relationship", V2_OPPONENTS),
    ("classroom-v2", "retention", ("balanced", "premium", "price_cutter", "researcher", "adaptive")),
])
def test_a_zero_policy_around_a_bot_reproduces_the_bots_standings(scenario, bot, opponents):
    """The zero action with baseline=<bot> is that bot: a CRMModel game with the PolicyStrategy in a seat gives every
    firm's rank, score, cash and customers of the game with the bot itself in that seat, period by period."""
    env = CRMSingleFirmEnv(scenario, overrides=SMALL)
    policy = ZeroPolicy(env.action_space.shape[0])
    for seat in (0, 3):
        lineup = list(opponents)
        with_bot, with_policy = list(lineup), list(lineup)
        with_bot.insert(seat, bot)
        with_policy.insert(seat, PolicyStrategy(policy, baseline=bot, label=f"zero-{bot}"))
        expected = CRMModel(env.scenario, seed=11, strategies=with_bot).run()
        got = CRMModel(env.scenario, seed=11, strategies=with_policy).run()
        assert rows(got) == rows(expected)
        assert len(got.results) == env.scenario.periods
    assert policy.calls >= 2 * env.scenario.periods


@pytest.mark.parametrize("scenario,opponents", [("classroom-v1", V1_OPPONENTS), ("classroom-v2", V2_OPPONENTS)])
def test_a_policy_plays_the_same_game_in_the_env_and_as_a_strategy(scenario, opponents):
    """A fixed nonlinear policy of the observation vector: played by the single-firm env and played as a
    PolicyStrategy in CRMModel with the env's opponents, the games are identical (same codec, same view)."""
    env = CRMSingleFirmEnv(scenario, opponents=opponents, overrides=SMALL, baseline="standing")
    weights = np.random.default_rng(0).normal(scale=0.1, size=(env.action_space.shape[0], env.observation_space.shape[0]))

    def policy(x: np.ndarray) -> np.ndarray:
        return np.tanh(weights @ x)

    obs, _ = env.reset(seed=5)
    done, moves = False, 0
    while not done:
        action = policy(obs)
        obs, _, done, _, info = env.step(action)
        moves += info["decision"] != info["baseline"]
    model = CRMModel(env.scenario, seed=5, strategies=[PolicyStrategy(policy, codec=env.codec), *opponents]).run()
    played = len(env.results)
    assert moves > 0 and played >= 3
    assert [r.decisions[0] for r in env.results] == [r.decisions[0] for r in model.results[:played]]
    assert [[row["score"] for row in r.firm_rows] for r in env.results] == [[row["score"] for row in r.firm_rows] for r in model.results[:played]]


def test_a_model_with_predict_is_called_as_stable_baselines3_calls_it():
    """An object with predict(obs, deterministic=...) -> (action, state) is a policy; deterministic is passed on."""
    seen = []

    class Model:
        def predict(self, obs, deterministic=False):
            seen.append((obs.shape, deterministic))
            return np.zeros(48, dtype=np.float32), None

    env = CRMSingleFirmEnv(overrides=SMALL)
    bot = PolicyStrategy(Model(), baseline="premium", deterministic=False, label="ppo-test")
    expected = CRMModel(env.scenario, seed=2, strategies=["premium", *V2_OPPONENTS]).run()
    got = CRMModel(env.scenario, seed=2, strategies=[bot, *V2_OPPONENTS]).run()
    assert rows(got) == rows(expected)
    assert seen[0] == (env.observation_space.shape, False) and len(seen) == 12


def test_a_policy_strategy_plays_in_research_batches_under_its_label():
    """run_game (the batch runner behind tournaments) plays a PolicyStrategy instance and names it by its label."""
    env = CRMSingleFirmEnv(overrides=SMALL)
    bot = PolicyStrategy(ZeroPolicy(env.action_space.shape[0]), baseline="balanced", label="zero-balanced")
    assert strategy_label(bot) == "zero-balanced"
    ours = run_game(RunSpec("classroom-v2", (bot, *V2_OPPONENTS), 4, tuple(SMALL.items())))
    theirs = run_game(RunSpec("classroom-v2", ("balanced", *V2_OPPONENTS), 4, tuple(SMALL.items())))
    assert ours["strategy"].iloc[0] == "zero-balanced"
    assert ours["score"].tolist() == theirs["score"].tolist()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="policy: must be a callable obs -> action or have .predict"):
        PolicyStrategy(42)
    with pytest.raises(ValueError, match="baseline: unknown bot 'nobody'"):
        PolicyStrategy(lambda x: x, baseline="nobody")
    with pytest.raises(ValueError, match="label: must be a non-empty string"):
        PolicyStrategy(lambda x: x, label="")
    v1 = CRMSingleFirmEnv("classroom-v1", overrides=SMALL)
    bot = PolicyStrategy(lambda x: np.zeros(35), codec=v1.codec)
    with pytest.raises(ValueError, match="codec: made for classroom-v1's clients and seats, not price-war-v1's"):
        CRMModel("price-war-v1", seed=0, strategies=[bot] + ["balanced"] * 7).run()
