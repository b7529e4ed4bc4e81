"""Learnability sanity of the single-firm env (issue 12, what the issue measured): the zero action (the baseline)
survives, random actions in [-1, 1] survive well past period 1, and 0.5 on every control does not hire a crowd.

Full-size markets (10,000 customers): in small ones even the standing decision goes bankrupt."""

from __future__ import annotations

import numpy as np
import pytest

from crmsim.research.env import CRMSingleFirmEnv

SEEDS = (0, 1, 2)


def play(env: CRMSingleFirmEnv, seed: int, policy) -> list[dict]:
    """One episode; returns each step's info."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    infos, done = [], False
    while not done:
        _, _, done, _, info = env.step(policy(rng, env.action_space.shape))
        infos.append(info)
    return infos


def zero(rng, shape):
    return np.zeros(shape, dtype=np.float32)


def uniform(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def half(rng, shape):
    return np.full(shape, 0.5, dtype=np.float32)


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
@pytest.mark.parametrize("baseline", ["standing", "balanced"])
def test_the_zero_action_never_goes_bankrupt(scenario, baseline):
    """All-zero actions are the baseline decision: the firm plays all twelve periods on every seed."""
    env = CRMSingleFirmEnv(scenario, baseline=baseline)
    for seed in SEEDS:
        infos = play(env, seed, zero)
        assert len(infos) == 12 and not infos[-1]["bankrupt"]


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_random_actions_survive_well_past_period_one(scenario):
    """Uniform actions in [-1, 1] around the standing decision: no firm is bankrupt in its first three periods, and
    on average a firm lasts at least nine of the twelve (the first version of the env: 1.8 periods)."""
    env = CRMSingleFirmEnv(scenario)
    lasted = []
    for seed in (0, 1, 2, 3):
        infos = play(env, seed, uniform)
        assert not any(info["bankrupt"] for info in infos[:3])
        lasted.append(len(infos))
    assert np.mean(lasted) >= 9


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_half_on_every_control_hires_one_head_of_each_kind_a_period(scenario):
    """0.5 on every entry: one sales and one service head a period (the first env hired 25 + 25), and it still
    lasts three periods."""
    env = CRMSingleFirmEnv(scenario)
    infos = play(env, 0, half)
    assert len(infos) > 3
    assert [(i["decision"].hire_sales, i["decision"].hire_service) for i in infos] == [(1, 1)] * len(infos)
