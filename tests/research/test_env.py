"""The learning environments: PettingZoo's and Gymnasium's checkers, determinism, rewards from the
engine's rows, action repair, and equivalence with the engine's own bot games."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from crmsim.agents.bots import make_bot
from crmsim.research.codec import BID_THRESHOLD, MIN_PRICE
from crmsim.research.env import SINGLE_FIRM_ID, CRMParallelEnv, CRMSingleFirmEnv, reward_of
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.sim.engine import bot_rng, check_decision
from crmsim.sim.model import CRMModel
from crmsim.sim.observation import observe

SMALL = {"market.customers": 1500}
LINEUP = ("balanced", "premium", "price_cutter", "relationship", "adaptive", "balanced")


def small_env(**kwargs) -> CRMParallelEnv:
    return CRMParallelEnv(overrides={**SMALL, **kwargs.pop("overrides", {})}, **kwargs)


def random_actions(env: CRMParallelEnv, rng: np.random.Generator) -> dict:
    """Uniform actions over each live agent's space, drawn from `rng` (not the spaces' own generators)."""
    return {a: rng.uniform(env.action_space(a).low, env.action_space(a).high).astype(np.float32) for a in env.agents}


def play_bots(env: CRMParallelEnv, seed: int, lineup=LINEUP) -> list[dict]:
    """Play a whole game through the env, each agent acting as its seat's bot would; returns every step's output."""
    bots = [make_bot(b) for b in lineup]
    env.reset(seed=seed)
    steps = []
    while env.agents:
        actions = {}
        for a in env.agents:
            i = env.firm_index(a)
            raw = bots[i].decide(observe(env.game, i, env.results), bot_rng(seed, i, env.game.period))
            actions[a] = env.decision_to_action(a, raw)
        obs, rewards, terms, truncs, infos = env.step(actions)
        steps.append({"rewards": rewards, "terms": terms, "truncs": truncs, "agents_after": list(env.agents)})
    return steps


# ---------------------------------------------------------------------------
# the checkers


def test_parallel_api_test_passes():
    """PettingZoo's parallel API test: dict keys, cached spaces, dead agents leave and never come back."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(small_env(), num_cycles=20)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_passes_parallel_api_test(name):
    """A smoke run of every shipped scenario through the env (design principle 9)."""
    env = CRMParallelEnv(name, overrides={**SMALL, "market.track_customers": 200})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=env.scenario.periods + 1)
    assert env.action_space("firm_0").shape == (7 + 4 * len(env.scenario.clients),)


def test_parallel_seed_test_passes():
    """PettingZoo's seed test: two envs, same seed, same sampled actions, equal outputs."""
    parallel_seed_test(lambda: small_env(), num_cycles=20)


def test_single_firm_env_passes_check_env():
    """Gymnasium's check_env on the registered single-firm env, with its warnings treated as errors."""
    env = gymnasium.make(SINGLE_FIRM_ID, overrides=SMALL).unwrapped
    assert isinstance(env, CRMSingleFirmEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


# ---------------------------------------------------------------------------
# spaces


def test_spaces_have_fixed_shapes_and_are_cached_per_agent():
    """Actions: 7 + C cultivation + 3 per tender slot; one cached space object per agent; names cover every entry."""
    env = small_env()
    n_clients = len(env.scenario.clients)
    assert env.possible_agents == [f"firm_{i}" for i in range(6)]
    for a in env.possible_agents:
        assert env.action_space(a) is env.action_space(a)
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a).shape == (7 + n_clients + 3 * n_clients,) == (35,)
        assert env.observation_space(a).shape == (299,)
        assert env.observation_space(a).dtype == np.float32
        assert np.isfinite(env.observation_space(a).low).all() and np.isfinite(env.observation_space(a).high).all()
    assert env.action_space("firm_0") is not env.action_space("firm_1")
    assert len(env.codec.action_names) == 35 and len(env.codec.observation_names) == 299
    assert len(set(env.codec.observation_names)) == 299
    assert small_env(max_tenders=3).action_space("firm_0").shape == (7 + n_clients + 9,)


def test_observation_reads_the_firms_own_books_and_the_public_report():
    """Named entries carry the engine's values: own cash in starting-cash units, own row first in the market report."""
    env = small_env()
    obs, _ = env.reset(seed=4)
    first = env.codec.named(obs["firm_2"])
    assert first["own.cash"] == pytest.approx(1.0)
    assert first["last.present"] == 0.0 and first["market.self.present"] == 0.0
    env.step({a: env.decision_to_action(a, None) for a in env.agents})
    obs, *_ = env.step({a: env.decision_to_action(a, None) for a in env.agents})
    named = env.codec.named(obs["firm_2"])
    row = env.results[-1].firm_rows[2]
    assert named["own.cash"] == pytest.approx(np.clip(env.game.firms[2].cash / 300_000, -10, 10), rel=1e-6)
    assert named["last.score"] == pytest.approx(row["score"] / 100, rel=1e-6)
    assert named["market.self.price"] == pytest.approx(row["price"] / 200, rel=1e-6)
    assert named["market.rival1.price"] == pytest.approx(env.results[-1].firm_rows[3]["price"] / 200, rel=1e-6)
    rel = env.game.relationship[2, list(env.scenario.client_ids).index("haier")]
    assert named["client.haier.relationship"] == pytest.approx(rel, rel=1e-6)


def test_the_market_block_encodes_only_public_fields():
    """The environments see of a rival what every firm sees: the market block's entries are public columns."""
    from crmsim.research.codec import MARKET_ROW
    from crmsim.sim.observation import PUBLIC_FIRM_FIELDS

    assert MARKET_ROW == ("present", "bankrupt", "price", "service_level", "market_share_customers", "market_share_revenue",
                          "avg_satisfaction", "operating_profit", "tenders_won", "score", "rank")
    assert set(MARKET_ROW) - {"present"} <= set(PUBLIC_FIRM_FIELDS)
    names = small_env().codec.observation_names
    assert not [n for n in names if n.startswith("market.") and n.rsplit(".", 1)[1] in ("cash", "debt", "equity")]


def test_tender_slots_follow_sorted_tender_ids():
    """Slot k is the k-th open tender by id; a bid flag on slot 1 bids on that tender, at its cap's fraction."""
    env = small_env()
    obs, infos = env.reset(seed=0)
    slots = infos["firm_0"]["tender_slots"]
    assert list(slots) == sorted(t.id for t in env.game.tenders) and len(slots) >= 2
    named = env.codec.named(obs["firm_0"])
    assert [named[f"slot{k}.present"] for k in range(7)] == [1.0] * len(slots) + [0.0] * (7 - len(slots))
    action = env.decision_to_action("firm_0", None)
    names = env.codec.action_names
    action[names.index("slot1.bid")] = BID_THRESHOLD
    action[names.index("slot1.price")] = 0.95
    action[names.index("slot1.promised_service")] = 0.7
    tender = {t.id: t for t in env.game.tenders}[slots[1]]
    decision, repairs = env.codec.to_decision(env.game, 0, action)
    assert repairs == ()
    assert list(decision.bids) == [slots[1]]
    assert decision.bids[slots[1]].price == round(0.95 * tender.price_cap, 2)
    assert decision.bids[slots[1]].promised_service == pytest.approx(0.7, abs=1e-4)


# ---------------------------------------------------------------------------
# episodes


def test_random_episode_runs_to_the_end_with_observations_in_bounds():
    """Random actions: every observation lies in its space; a bankrupt agent is terminated once and then leaves."""
    env = small_env()
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
            actions = {a: (0.6 * env.decision_to_action(a, None) + 0.4 * rng.random(35)).astype(np.float32) for a in env.agents}
            trace.append(env.step(actions)[:2])
        return trace

    def same(x, y) -> bool:
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, tuple):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        if isinstance(x, np.ndarray):
            return x.dtype == y.dtype and np.array_equal(x, y)
        return type(x) is type(y) and x == y

    env = small_env()
    a, b = run(env, 21), run(env, 21)
    c = run(small_env(), 21)
    assert len(a) > 2
    for x, y, z in zip(a, b, c, strict=True):
        assert same(x, y) and same(x, z)
    assert not np.array_equal(small_env().reset(seed=22)[0]["firm_0"], a[0]["firm_0"])


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


def test_reward_of_on_hand_worked_rows():
    """score_delta: this score less the last (62.5 - 50 = 12.5); profit: operating profit / the money scale
    (45,000 / 300,000 = 0.15); score: the level (62.5)."""
    row = {"score": 62.5, "operating_profit": 45_000.0}
    assert reward_of("score_delta", row, 50.0, 300_000.0) == 12.5
    assert reward_of("profit", row, 50.0, 300_000.0) == 0.15
    assert reward_of("score", row, 50.0, 300_000.0) == 62.5
    assert reward_of("score_delta", {"score": 0.0, "operating_profit": -1.0}, 40.0, 300_000.0) == -40.0  # bankrupt: score 0


@pytest.mark.parametrize("kind", ["score_delta", "profit", "score"])
def test_rewards_add_up_to_the_engines_own_totals(kind):
    """The env's rewards come from the engine's rows: score_delta returns add up to the final score (the score
    before period 1 counts as 0; 0 for a bankrupt firm); profit returns x the starting cash add up to the firm's
    cumulative operating profit; a score reward is the firm's score that period."""
    env = small_env(reward=kind)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    returns = dict.fromkeys(env.possible_agents, 0.0)
    last_row: dict = {}
    while env.agents:
        actions = {a: (0.8 * env.decision_to_action(a, None) + 0.2 * rng.random(35)).astype(np.float32) for a in env.agents}
        _, rewards, *_ = env.step(actions)
        for a, r in rewards.items():
            row = env.results[-1].firm_rows[env.firm_index(a)]
            if kind == "score":
                assert r == row["score"]
            returns[a] += r
            last_row[a] = row
    assert last_row.keys() == set(env.possible_agents)
    for a, row in last_row.items():
        if kind == "score_delta":
            assert returns[a] == pytest.approx(0.0 if row["bankrupt"] else row["score"], abs=1e-9)
        elif kind == "profit":
            assert returns[a] * 300_000 == pytest.approx(row["cum_operating_profit"], rel=1e-9, abs=1e-6)


def test_an_agent_left_out_keeps_its_standing_decision():
    """An agent missing from the action dict submits nothing: the engine keeps its standing decision, no bids."""
    env = small_env()
    env.reset(seed=2)
    actions = {a: env.decision_to_action(a, None) for a in env.agents if a != "firm_4"}
    _, _, _, _, infos = env.step(actions)
    assert env.results[-1].submitted[4] is False and env.results[-1].submitted[0] is True
    assert infos["firm_4"]["repairs"] == ()
    with pytest.raises(ValueError, match="firm_9"):
        env.step({"firm_9": env.decision_to_action("firm_0", None)})


# ---------------------------------------------------------------------------
# repairs


def test_an_impossible_action_is_repaired_not_raised():
    """NaN, out-of-range entries, firing more staff than the firm has, bids and cultivation beyond what the
    (fired) sales staff allow: the env repairs them into a decision the engine accepts and lists each repair."""
    env = small_env()
    env.reset(seed=1)
    names = env.codec.action_names
    action = np.ones(35, dtype=np.float32) * 5.0
    action[names.index("price")] = np.nan
    action[names.index("sales_staff_change")] = -1.0  # fire 50 of 3
    action[names.index("service_staff_change")] = -1.0  # fire 50 of 10
    decision, repairs = env.codec.to_decision(env.game, 0, action)
    text = " | ".join(repairs)
    assert "non-finite entries read as 0: price" in text
    assert "clipped" in text
    assert "fire_sales: 50 asked, 3 on staff: fired 3" in text
    assert "fire_service: 50 asked, 10 on staff: fired 10" in text
    assert "cultivation: 7 clients asked" in text and "bids:" in text
    assert decision.price == MIN_PRICE
    assert (decision.fire_sales, decision.fire_service, decision.hire_sales) == (3, 10, 0)
    assert decision.bids == {} and decision.cultivation == {}
    assert decision.borrow == pytest.approx(env.scenario.costs.credit_line)
    assert check_decision(env.game, 0, decision) == decision
    obs, rewards, terms, truncs, infos = env.step({"firm_0": action})
    assert infos["firm_0"]["repairs"] == repairs and obs["firm_0"] in env.observation_space("firm_0")


def test_hires_above_the_per_period_limit_and_excess_bids_are_trimmed():
    """Hires are capped at costs.max_hire_per_period; bids beyond the sales staff's limit keep the strongest flags."""
    env = small_env(staff_scale=100, overrides={"costs.bids_per_sales_staff": 1})
    env.reset(seed=0)
    names = env.codec.action_names
    action = env.decision_to_action("firm_0", None)
    action[names.index("service_staff_change")] = 1.0
    action[names.index("sales_staff_change")] = -2 / 100  # 3 -> 1 sales staff: one bid allowed
    for k, flag in ((0, 0.6), (1, 0.9)):
        action[names.index(f"slot{k}.bid")] = flag
        action[names.index(f"slot{k}.price")] = 0.9
        action[names.index(f"slot{k}.promised_service")] = 0.8
    decision, repairs = env.codec.to_decision(env.game, 0, action)
    assert decision.hire_service == 50 and decision.fire_sales == 2
    assert list(decision.bids) == [env.codec.slots(env.game)[1].id]
    assert any(r.startswith("hire_service: 100 asked") for r in repairs)
    assert any(r.startswith("bids: 2 asked") for r in repairs)


def test_an_action_of_the_wrong_shape_names_the_expected_shape():
    env = small_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected 35 numbers"):
        env.step({"firm_0": np.zeros(3)})


# ---------------------------------------------------------------------------
# equivalence with the engine


@pytest.mark.parametrize("seed", [3, 7])
def test_bot_decisions_played_through_the_env_give_the_engines_standings(seed):
    """Each agent acting as its seat's bot (decision -> action -> decision) reproduces CRMModel's game exactly,
    and the game's end terminates every remaining agent."""
    env = small_env(care_max=100_000)
    steps = play_bots(env, seed)
    model = CRMModel(env.scenario, seed=seed, strategies=list(LINEUP)).run()
    assert len(env.results) == len(model.results) == env.scenario.periods
    for ours, theirs in zip(env.results, model.results, strict=True):
        assert ours.decisions == theirs.decisions
        assert [(r["rank"], r["score"], r["cash"]) for r in ours.firm_rows] == [
            (r["rank"], r["score"], r["cash"]) for r in theirs.firm_rows
        ]
    last = steps[-1]
    assert all(last["terms"].values()) and not any(last["truncs"].values()) and last["agents_after"] == []
    assert any(not f.bankrupt for f in env.game.firms)  # someone survived to the end: the end, not bankruptcy, ended it


def test_single_firm_env_with_bot_actions_matches_the_engine():
    """The learner acting as 'balanced' against the env's bots plays the same game as CRMModel with that line-up."""
    lineup = ("balanced", "premium", "price_cutter", "relationship", "adaptive", "premium")
    env = CRMSingleFirmEnv(opponents=lineup[1:], firm=0, overrides={"market.customers": 3000}, care_max=100_000)
    me = make_bot("balanced")
    obs, _ = env.reset(seed=8)
    total, terminated = 0.0, False
    while not terminated:
        raw = me.decide(observe(env.game, 0, env.results), bot_rng(8, 0, env.game.period))
        obs, reward, terminated, truncated, info = env.step(env.decision_to_action(raw))
        assert obs in env.observation_space and truncated is False and info["repairs"] == ()
        total += reward
    model = CRMModel(env.scenario, seed=8, strategies=list(lineup)).run()
    assert [r["score"] for r in env.results[-1].firm_rows] == [r["score"] for r in model.results[-1].firm_rows]
    assert total == pytest.approx(model.results[-1].firm_rows[0]["score"])


def test_single_firm_episode_ends_when_the_learner_goes_bankrupt():
    """A one-cent price, zero service, top care and advertising budgets and 50 sales hires a period bankrupt the
    learner before the last period; the episode then ends and a further step is refused."""
    env = CRMSingleFirmEnv(opponents=("balanced",), firm=2, overrides=SMALL)
    env.reset(seed=0)
    action = np.zeros(35, dtype=np.float32)
    action[env.codec.action_names.index("care_budget")] = 1.0
    action[env.codec.action_names.index("advertising_budget")] = 1.0
    action[env.codec.action_names.index("sales_staff_change")] = 1.0
    terminated, steps = False, 0
    while not terminated:
        _, _, terminated, _, info = env.step(action)
        steps += 1
    assert info["bankrupt"] and steps < env.scenario.periods
    assert [b.name for b in env.bots.values()] == ["balanced"] * 5 and 2 not in env.bots
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)


# ---------------------------------------------------------------------------
# construction, render


def test_bad_arguments_name_the_field_and_the_allowed_values():
    with pytest.raises(ValueError, match="reward: must be one of score_delta, profit, score"):
        small_env(reward="money")
    with pytest.raises(ValueError, match="render_mode"):
        small_env(render_mode="rgb_array")
    with pytest.raises(ValueError, match=r"firm: must be a seat index in \[0, 5\]"):
        CRMSingleFirmEnv(firm=6, overrides=SMALL)
    with pytest.raises(ValueError, match="opponents: the scenario seats 5 opponents"):
        CRMSingleFirmEnv(opponents=("balanced",) * 6, overrides=SMALL)
    with pytest.raises(ValueError, match="unknown bot"):
        CRMSingleFirmEnv(opponents=("nobody",), overrides=SMALL)


def test_scenario_object_with_overrides_is_accepted():
    env = CRMParallelEnv(load_scenario("classroom-v1"), overrides=SMALL)
    assert env.scenario.market.customers == 1500


def test_render_ansi_shows_every_firm():
    env = small_env(render_mode="ansi")
    env.reset(seed=0)
    env.step({a: env.decision_to_action(a, None) for a in env.agents})
    text = env.render()
    assert "classroom-v1, seed 0: next period 2 of 12" in text
    for name in ("Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord"):
        assert name in text
    env.close()
