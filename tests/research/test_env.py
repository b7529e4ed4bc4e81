"""The learning environments: PettingZoo's and Gymnasium's checkers on both versions of the rules, the vector
env, determinism, rewards from the engine's rows, and equivalence with the engine's own bot games."""

from __future__ import annotations

import warnings
from dataclasses import replace

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from crmsim.agents.bots import make_bot
from crmsim.research.env import (
    BANKRUPTCY_PENALTY,
    SINGLE_FIRM_ID,
    CRMParallelEnv,
    CRMSingleFirmEnv,
    bankruptcy_share,
    reward_of,
)
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.sim.engine import bot_rng
from crmsim.sim.model import CRMModel
from crmsim.sim.observation import observe

SMALL = {"market.customers": 1500}
LINEUP = ("balanced", "premium", "price_cutter", "relationship", "adaptive", "balanced")
V2_LINEUP = ("balanced", "premium", "researcher", "relationship", "retention", "adaptive")


def small_env(scenario: str = "classroom-v1", **kwargs) -> CRMParallelEnv:
    return CRMParallelEnv(scenario, overrides={**SMALL, **kwargs.pop("overrides", {})}, **kwargs)


def random_actions(env: CRMParallelEnv, rng: np.random.Generator) -> dict:
    """Uniform actions over each live agent's space, drawn from `rng` (not the spaces' own generators)."""
    return {a: rng.uniform(env.action_space(a).low, env.action_space(a).high).astype(np.float32) for a in env.agents}


def zeros(env: CRMParallelEnv) -> dict:
    return {a: np.zeros(env.action_space(a).shape, dtype=np.float32) for a in env.agents}


# ---------------------------------------------------------------------------
# the checkers


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_parallel_api_test_passes(scenario):
    """PettingZoo's parallel API test: dict keys, cached spaces, dead agents leave and never come back."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(small_env(scenario), num_cycles=20)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_passes_parallel_api_test(name):
    """A smoke run of every shipped scenario through the env (design principle 9); the action entries are the
    first version's seven levers, the second version's offered levers, one per client and three per slot."""
    env = CRMParallelEnv(name, overrides={**SMALL, "market.track_customers": 200})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=env.scenario.periods + 1)
    sc, c = env.scenario, len(env.scenario.clients)
    extra = sc.crm.retention_offered + 3 * sc.crm.tier_care + (2 + c) * sc.research.offered
    assert env.action_space("firm_0").shape == (7 + extra + 4 * c,)


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_parallel_seed_test_passes(scenario):
    """PettingZoo's seed test: two envs, same seed, same sampled actions, equal outputs."""
    parallel_seed_test(lambda: small_env(scenario), num_cycles=20)


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
@pytest.mark.parametrize("baseline", ["standing", "balanced"])
def test_single_firm_env_passes_check_env(scenario, baseline):
    """Gymnasium's check_env on the registered single-firm env, with its warnings treated as errors."""
    env = gymnasium.make(SINGLE_FIRM_ID, scenario=scenario, overrides=SMALL, baseline=baseline).unwrapped
    assert isinstance(env, CRMSingleFirmEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


def test_the_default_env_plays_classroom_v2():
    assert CRMSingleFirmEnv(overrides=SMALL).scenario.name == "classroom-v2"
    assert CRMParallelEnv(overrides=SMALL).scenario.name == "classroom-v2"
    assert gymnasium.make(SINGLE_FIRM_ID, overrides=SMALL).unwrapped.scenario.name == "classroom-v2"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_runs_the_single_firm_env_vectorised(mode):
    """gymnasium.make_vec with sync and async vectorisation: stacked observations in the single env's space,
    stacked action masks, and the same rewards as the envs played one at a time with the same seeds."""
    kwargs = {"scenario": "classroom-v2", "overrides": SMALL, "baseline": "balanced"}
    envs = gymnasium.make_vec(SINGLE_FIRM_ID, num_envs=2, vectorization_mode=mode, **kwargs)
    try:
        single = CRMSingleFirmEnv(**kwargs)
        obs, infos = envs.reset(seed=[4, 9])
        assert obs.shape == (2, *single.observation_space.shape) and obs.dtype == np.float32
        assert infos["action_mask"].shape == (2, *single.action_space.shape) and infos["action_mask"].dtype == bool
        rng = np.random.default_rng(0)
        actions = [rng.uniform(-1, 1, (2, *single.action_space.shape)).astype(np.float32) for _ in range(3)]
        got = []
        for a in actions:
            obs, rewards, terms, truncs, infos = envs.step(a)
            assert all(single.observation_space.contains(o) for o in obs)
            got.append(rewards)
    finally:
        envs.close()
    for k, seed in enumerate((4, 9)):
        single.reset(seed=seed)
        expected = [single.step(a[k])[1] for a in actions]
        assert [g[k] for g in got] == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------
# spaces and observations


def test_spaces_have_fixed_shapes_and_are_cached_per_agent():
    """Actions: Box(-1, 1); one cached space object per agent; names cover every entry."""
    env = small_env()
    n_clients = len(env.scenario.clients)
    assert env.possible_agents == [f"firm_{i}" for i in range(6)]
    for a in env.possible_agents:
        assert env.action_space(a) is env.action_space(a)
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a).shape == (7 + n_clients + 3 * n_clients,) == (35,)
        assert (env.action_space(a).low == -1).all() and (env.action_space(a).high == 1).all()
        assert env.observation_space(a).shape == (len(env.codec.observation_names),)
        assert env.observation_space(a).dtype == np.float32
        assert np.isfinite(env.observation_space(a).low).all() and np.isfinite(env.observation_space(a).high).all()
    assert env.action_space("firm_0") is not env.action_space("firm_1")
    assert len(env.codec.action_names) == 35 and len(set(env.codec.observation_names)) == len(env.codec.observation_names)
    assert small_env(max_tenders=3).action_space("firm_0").shape == (7 + n_clients + 9,)
    v2 = small_env("classroom-v2")
    assert v2.action_space("firm_0").shape == (7 + 1 + 3 + 2 + 7 + 7 + 21,) == (48,)


def test_observation_reads_the_firms_own_books_and_the_public_report():
    """Named entries carry the engine's values: own cash in starting-cash units, own row first in the market report."""
    env = small_env()
    obs, _ = env.reset(seed=4)
    first = env.codec.named(obs["firm_2"])
    assert first["own.cash"] == pytest.approx(1.0)
    assert first["last.present"] == 0.0 and first["market.self.present"] == 0.0
    env.step(zeros(env))
    obs, *_ = env.step(zeros(env))
    named = env.codec.named(obs["firm_2"])
    row = env.results[-1].firm_rows[2]
    assert named["own.cash"] == pytest.approx(np.clip(env.game.firms[2].cash / 300_000, -10, 10), rel=1e-6)
    assert named["last.score"] == pytest.approx(row["score"] / 100, rel=1e-6)
    assert named["market.self.price"] == pytest.approx(row["price"] / 200, rel=1e-6)
    assert named["market.rival1.price"] == pytest.approx(env.results[-1].firm_rows[3]["price"] / 200, rel=1e-6)
    rel = env.game.relationship[2, list(env.scenario.client_ids).index("haier")]
    assert named["client.haier.relationship"] == pytest.approx(rel, rel=1e-6)


def test_second_version_observations_show_stage_calendar_at_risk_and_research():
    """classroom-v2: the firm's own stage and progress per client, next period's calendar, the churn warning's
    at-risk counts, the research it bought last period, and the baseline's plan."""
    env = CRMSingleFirmEnv("classroom-v2", overrides=SMALL, baseline="researcher")
    obs, info = env.reset(seed=3)
    named = env.codec.named(obs)
    for c in env.scenario.client_ids:
        assert named[f"client.{c}.stage"] == 0.0  # every relationship starts at 潜在期 potential
        assert named[f"client.{c}.next_tender"] == float(c in {row["client"] for row in env.turn.ob.calendar})
    assert {c for c in env.scenario.client_ids if named[f"client.{c}.next_tender"]} == {"motorola", "wahaha"}
    assert named["research.baseline_forecast"] == 1.0 and info["baseline"].research.forecast
    balanced = CRMSingleFirmEnv("classroom-v2", overrides=SMALL, baseline="balanced")
    obs_b, info_b = balanced.reset(seed=3)
    plan = info_b["baseline"].activities
    assert plan and all(balanced.codec.named(obs_b)[f"client.{c}.baseline_level"] == 1.0 for c in plan)  # investigate: the top rung at potential
    obs, _, _, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    named = env.codec.named(obs)
    ob, row = env.turn.ob, env.results[-1].firm_rows[0]
    for c in env.scenario.client_ids:
        assert named[f"client.{c}.stage"] == pytest.approx(["potential", "target", "evaluation", "formation", "stable"].index(ob.stage[c]) / 4)
        assert named[f"client.{c}.progress"] == pytest.approx(ob.progress[c])
    assert named["last.at_risk_c"] == pytest.approx(row["at_risk_c"] / row["customers"], rel=1e-6)
    researched = set(info["decision"].research.rivals)
    assert researched and {c for c in env.scenario.client_ids if named[f"client.{c}.rival_band_known"]} == researched


def test_the_market_block_encodes_only_public_fields():
    """The environments see of a rival what every firm sees: the market block's entries are public columns."""
    from crmsim.research.codec import MARKET_ROW
    from crmsim.sim.observation import PUBLIC_FIRM_FIELDS

    assert MARKET_ROW == ("present", "bankrupt", "price", "service_level", "market_share_customers", "market_share_revenue",
                          "avg_satisfaction", "operating_profit", "tenders_won", "score", "rank")
    assert set(MARKET_ROW) - {"present"} <= set(PUBLIC_FIRM_FIELDS)
    names = small_env("classroom-v2").codec.observation_names
    assert not [n for n in names if n.startswith("market.") and n.rsplit(".", 1)[1] in ("cash", "debt", "equity")]


# ---------------------------------------------------------------------------
# episodes


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_random_episode_runs_to_the_end_with_observations_in_bounds(scenario):
    """Random actions: every observation lies in its space; a bankrupt agent is terminated once and then leaves."""
    env = small_env(scenario)
    obs, _ = env.reset(seed=11)
    rng = np.random.default_rng(11)
    done: set[str] = set()
    steps = 0
    while env.agents:
        live = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step(random_actions(env, rng))
        steps += 1
        assert set(obs) == set(rewards) == set(terms) == set(truncs) == set(infos) == set(live)
        for a in live:
            assert obs[a] in env.observation_space(a)
            assert np.isfinite(rewards[a])
            assert terms[a] == (infos[a]["bankrupt"] or env.game.finished)
            assert truncs[a] is False
            assert not any(r.startswith("engine rejected") for r in infos[a]["repairs"])
        done |= {a for a in live if terms[a]}
        assert set(env.agents) == set(live) - done
    assert done == set(env.possible_agents)
    assert env.game.finished and steps == len(env.results) <= env.scenario.periods
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_same_seed_and_actions_give_identical_observations_and_rewards():
    """Determinism: two resets with one seed and one action sequence give exactly equal outputs."""
    def run(env: CRMParallelEnv, seed: int):
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(99)
        trace = [obs]
        while env.agents:
            trace.append(env.step(random_actions(env, rng))[:2])
        return trace

    def same(x, y) -> bool:
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, tuple):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        if isinstance(x, np.ndarray):
            return x.dtype == y.dtype and np.array_equal(x, y)
        return type(x) is type(y) and x == y

    env = small_env("classroom-v2", baseline="balanced")
    a, b = run(env, 21), run(env, 21)
    c = run(small_env("classroom-v2", baseline="balanced"), 21)
    assert len(a) > 2
    for x, y, z in zip(a, b, c, strict=True):
        assert same(x, y) and same(x, z)
    assert not np.array_equal(small_env("classroom-v2").reset(seed=22)[0]["firm_0"], a[0]["firm_0"])


def test_unseeded_reset_follows_the_last_seed():
    """reset() after reset(seed=s) plays the same next game every time; a seeded reset plays game seed s."""
    env = small_env()
    env.reset(seed=5)
    assert env.game_seed == 5
    first, _ = env.reset()
    env.reset(seed=5)
    again, _ = env.reset()
    assert all(np.array_equal(first[a], again[a]) for a in first)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)


def test_an_agent_left_out_keeps_its_standing_decision():
    """An agent missing from the action dict submits nothing: the engine keeps its standing decision, no bids."""
    env = small_env()
    env.reset(seed=2)
    actions = {a: v for a, v in zeros(env).items() if a != "firm_4"}
    _, _, _, _, infos = env.step(actions)
    assert env.results[-1].submitted[4] is False and env.results[-1].submitted[0] is True
    assert infos["firm_4"]["repairs"] == ()
    with pytest.raises(ValueError, match="firm_9"):
        env.step({"firm_9": np.zeros(35)})


def test_an_action_of_the_wrong_shape_names_the_expected_shape():
    env = small_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected 35 numbers"):
        env.step({"firm_0": np.zeros(3)})


# ---------------------------------------------------------------------------
# rewards


def test_reward_of_on_hand_worked_rows():
    """score_delta: this score less the last (62.5 - 50 = 12.5); profit: operating profit / the money scale
    (45,000 / 300,000 = 0.15); score: the level (62.5); rank 2 of 6: (6 - 2) / 5 / 12 = 1/15; the penalty: a firm
    bankrupt in period 4 of 12 had 9/12 of the game left: -40 - 50 x 9/12 = -77.5."""
    row = {"score": 62.5, "operating_profit": 45_000.0, "rank": 2, "period": 3, "bankrupt_period": None}
    assert reward_of("score_delta", row, 50.0, 300_000.0) == 12.5
    assert reward_of("score_delta_bankruptcy_penalty", row, 50.0, 300_000.0) == 12.5  # alive: no penalty
    assert reward_of("profit", row, 50.0, 300_000.0) == 0.15
    assert reward_of("score", row, 50.0, 300_000.0) == 62.5
    assert reward_of("rank", row, 50.0, 300_000.0) == pytest.approx(1 / 15)
    bankrupt = {"score": 0.0, "operating_profit": -1.0, "rank": 6, "period": 4, "bankrupt_period": 4}
    assert reward_of("score_delta", bankrupt, 40.0, 300_000.0) == -40.0  # bankrupt: score 0
    assert bankruptcy_share(4, 12) == 0.75 and bankruptcy_share(12, 12) == pytest.approx(1 / 12)
    assert reward_of("score_delta_bankruptcy_penalty", bankrupt, 40.0, 300_000.0) == -77.5
    assert reward_of("score_delta_bankruptcy_penalty", bankrupt, 40.0, 300_000.0, bankruptcy_penalty=0) == -40.0
    assert reward_of("rank", bankrupt, 40.0, 300_000.0) == 0.0
    with pytest.raises(ValueError, match="reward: must be one of score_delta_bankruptcy_penalty, score_delta, rank, profit, score"):
        reward_of("money", row, 0.0, 1.0)


@pytest.mark.parametrize("kind", ["score_delta_bankruptcy_penalty", "score_delta", "rank", "profit", "score"])
def test_rewards_add_up_to_the_engines_own_totals(kind):
    """The env's rewards come from the engine's rows: score_delta returns add up to the final score (the score
    before period 1 counts as 0; 0 for a bankrupt firm), and with the penalty a bankrupt firm's return is
    -50 x its share of the game left; profit returns x the starting cash add up to the firm's cumulative operating
    profit; rank returns to the mean rank points; a score reward is the firm's score that period."""
    env = small_env(reward=kind, overrides={"market.customers": 3000}, baseline="balanced")
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    returns = dict.fromkeys(env.possible_agents, 0.0)
    last_row: dict = {}
    rank_points: dict = {a: [] for a in env.possible_agents}
    while env.agents:
        _, rewards, *_ = env.step(random_actions(env, rng))
        for a, r in rewards.items():
            row = env.results[-1].firm_rows[env.firm_index(a)]
            if kind == "score":
                assert r == row["score"]
            returns[a] += r
            last_row[a] = row
            rank_points[a].append((6 - row["rank"]) / 5)
    assert last_row.keys() == set(env.possible_agents)
    bankrupt = [a for a, row in last_row.items() if row["bankrupt"]]
    assert bankrupt and len(bankrupt) < 6  # the seed shows both kinds of end
    for a, row in last_row.items():
        if kind == "score_delta":
            assert returns[a] == pytest.approx(0.0 if row["bankrupt"] else row["score"], abs=1e-9)
        elif kind == "score_delta_bankruptcy_penalty":
            expected = -BANKRUPTCY_PENALTY * (12 - row["period"] + 1) / 12 if row["bankrupt"] else row["score"]
            assert returns[a] == pytest.approx(expected, abs=1e-9)
        elif kind == "profit":
            assert returns[a] * 300_000 == pytest.approx(row["cum_operating_profit"], rel=1e-9, abs=1e-6)
        elif kind == "rank":
            assert returns[a] == pytest.approx(sum(rank_points[a]) / 12, abs=1e-12)


def test_the_bankruptcy_penalty_rewards_surviving_longer():
    """Under the default reward a firm that fails later earns more than one that fails earlier; under score_delta
    both earn 0."""
    env = CRMSingleFirmEnv("classroom-v1", opponents=("balanced",), overrides=SMALL)

    def failing_return(seed: int) -> tuple[float, int]:
        env.reset(seed=seed)
        total, terminated, steps = 0.0, False, 0
        while not terminated:
            _, r, terminated, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
            total, steps = total + r, steps + 1
        assert info["bankrupt"]
        return total, steps

    ends = {failing_return(s) for s in range(4)}
    assert len({steps for _, steps in ends}) > 1
    for total, steps in ends:
        assert total == pytest.approx(-BANKRUPTCY_PENALTY * (12 - steps + 1) / 12)


# ---------------------------------------------------------------------------
# equivalence with the engine


@pytest.mark.parametrize("scenario,lineup", [("classroom-v1", LINEUP), ("classroom-v2", V2_LINEUP)])
def test_zero_actions_around_each_seats_bot_give_the_engines_game(scenario, lineup):
    """Every agent's baseline is its seat's bot and every action is zero: the env plays CRMModel's game exactly,
    and the game's end terminates every remaining agent."""
    env = CRMParallelEnv(scenario, overrides=SMALL, baseline=list(lineup))
    env.reset(seed=7)
    last = None
    while env.agents:
        last = env.step(zeros(env))
    model = CRMModel(env.scenario, seed=7, strategies=list(lineup)).run()
    assert len(env.results) == len(model.results) == env.scenario.periods
    for ours, theirs in zip(env.results, model.results, strict=True):
        assert ours.decisions == theirs.decisions
        assert [(r["rank"], r["score"], r["cash"]) for r in ours.firm_rows] == [(r["rank"], r["score"], r["cash"]) for r in theirs.firm_rows]
    _, _, terms, truncs, _ = last
    assert all(terms.values()) and not any(truncs.values()) and env.agents == []


@pytest.mark.parametrize("scenario,lineup", [("classroom-v1", LINEUP), ("classroom-v2", V2_LINEUP)])
def test_bot_decisions_encoded_around_the_standing_decision_give_the_engines_game(scenario, lineup):
    """Each agent acting as its seat's bot (decision -> residual around the standing decision -> decision)
    reproduces CRMModel's game exactly when one step of each lever reaches the bot's moves."""
    scales = {"price": 1.0, "service": 1.0, "care": 1e5, "advertising": 1e5, "sales_staff": 20, "service_staff": 50,
              "cultivation": 1e5, "survey": 2000, "bid_service": 1.0, "care_split": 100.0}
    env = CRMParallelEnv(scenario, overrides=SMALL, scales=scales)
    bots = [make_bot(b) for b in lineup]
    env.reset(seed=3)
    while env.agents:
        actions = {}
        for a in env.agents:
            i = env.firm_index(a)
            raw = bots[i].decide(observe(env.game, i, env.results), bot_rng(3, i, env.game.period))
            actions[a] = env.decision_to_action(a, raw)
        _, _, _, _, infos = env.step(actions)
        assert all(info["repairs"] == () for info in infos.values())
    model = CRMModel(env.scenario, seed=3, strategies=list(lineup)).run()
    for ours, theirs in zip(env.results, model.results, strict=True):
        assert canonical(ours.decisions) == canonical(theirs.decisions)
        assert [(r["rank"], r["score"], r["cash"]) for r in ours.firm_rows] == [(r["rank"], r["score"], r["cash"]) for r in theirs.firm_rows]
    assert any(d.activities for r in env.results for d in r.decisions.values()) == (scenario == "classroom-v2")


def canonical(decisions: dict) -> dict:
    """Decisions with each research order's clients sorted: a flag per client cannot say in which order a bot
    named them, and the order changes nothing in the game."""
    return {i: replace(d, research=replace(d.research, rivals=tuple(sorted(d.research.rivals)))) for i, d in decisions.items()}


def test_single_firm_env_around_a_bot_matches_the_engine():
    """The learner's zero action around 'balanced' against the env's bots plays the same game as CRMModel with that
    line-up, its rewards add up to its final score and nothing is repaired."""
    lineup = ("balanced", "premium", "price_cutter", "relationship", "adaptive", "premium")
    env = CRMSingleFirmEnv("classroom-v1", opponents=lineup[1:], firm=0, overrides={"market.customers": 3000}, baseline="balanced")
    obs, _ = env.reset(seed=8)
    total, terminated = 0.0, False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        assert obs in env.observation_space and truncated is False and info["repairs"] == ()
        total += reward
    model = CRMModel(env.scenario, seed=8, strategies=list(lineup)).run()
    assert [r["score"] for r in env.results[-1].firm_rows] == [r["score"] for r in model.results[-1].firm_rows]
    assert not model.results[-1].firm_rows[0]["bankrupt"]
    assert total == pytest.approx(model.results[-1].firm_rows[0]["score"])


def test_single_firm_episode_ends_when_the_learner_goes_bankrupt():
    """Cutting the price 10% a period, raising care and advertising and hiring a sales head every period bankrupts
    the learner before the last period; the episode then ends and a further step is refused."""
    env = CRMSingleFirmEnv("classroom-v2", opponents=("balanced",), firm=2, overrides=SMALL)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    for name, value in (("price", -1.0), ("care_budget", 1.0), ("advertising_budget", 1.0), ("sales_staff_change", 1.0)):
        action[env.codec.action_names.index(name)] = value
    terminated, steps = False, 0
    while not terminated:
        _, _, terminated, _, info = env.step(action)
        steps += 1
    assert info["bankrupt"] and steps < env.scenario.periods
    assert not info["action_mask"].any()  # out of the game: nothing more to do
    assert [b.name for b in env.bots.values()] == ["balanced"] * 5 and 2 not in env.bots
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)


# ---------------------------------------------------------------------------
# construction, render


def test_bad_arguments_name_the_field_and_the_allowed_values():
    with pytest.raises(ValueError, match="reward: must be one of score_delta_bankruptcy_penalty, score_delta, rank, profit, score"):
        small_env(reward="money")
    with pytest.raises(ValueError, match="render_mode"):
        small_env(render_mode="rgb_array")
    with pytest.raises(ValueError, match=r"firm: must be a seat index in \[0, 5\]"):
        CRMSingleFirmEnv(firm=6, overrides=SMALL)
    with pytest.raises(ValueError, match="opponents: the scenario seats 5 opponents"):
        CRMSingleFirmEnv(opponents=("balanced",) * 6, overrides=SMALL)
    with pytest.raises(ValueError, match="unknown bot"):
        CRMSingleFirmEnv(opponents=("nobody",), overrides=SMALL)
    with pytest.raises(ValueError, match="baseline: unknown bot 'nobody'"):
        CRMSingleFirmEnv(baseline="nobody", overrides=SMALL)
    with pytest.raises(ValueError, match=r"baseline: one spec per seat \(6\); got 2"):
        small_env(baseline=["balanced", "premium"])
    with pytest.raises(ValueError, match=r"baseline: unknown agents \['firm_7'\]"):
        small_env(baseline={"firm_7": "balanced"})
    with pytest.raises(ValueError, match="scales.price: must be a number > 0; got -1"):
        small_env(scales={"price": -1})
    with pytest.raises(ValueError, match="scales.sales_staff: must be a whole number > 0; got 1.5"):
        small_env(scales={"sales_staff": 1.5})
    with pytest.raises(ValueError, match="scales.colour: unknown scale"):
        small_env(scales={"colour": 1})
    with pytest.raises(ValueError, match="bankruptcy_penalty: must be a finite number >= 0"):
        small_env(bankruptcy_penalty=-5)
    with pytest.raises(ValueError, match="max_tenders: must be a whole number >= 0"):
        small_env(max_tenders=-1)


def test_scenario_object_with_overrides_is_accepted():
    env = CRMParallelEnv(load_scenario("classroom-v1"), overrides=SMALL)
    assert env.scenario.market.customers == 1500


def test_baselines_can_differ_by_seat():
    env = small_env(baseline={"firm_1": "premium"})
    assert [b.name for b in env.baselines.values()] == ["standing", "premium", "standing", "standing", "standing", "standing"]


def test_render_ansi_shows_every_firm():
    env = small_env("classroom-v2", render_mode="ansi")
    env.reset(seed=0)
    env.step(zeros(env))
    text = env.render()
    assert "classroom-v2, seed 0: next period 2 of 12" in text
    for name in ("Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord"):
        assert name in text
    env.close()
