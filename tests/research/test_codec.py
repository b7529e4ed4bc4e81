"""The environments' codec: residual actions around a baseline (the zero action is the baseline exactly), each
lever's worked decoding, lifecycle ladders that only hold activities counting at the client's stage, action
masks, and the repairs that keep every decoded decision valid."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crmsim.research.codec import ActionScales, FirmCodec, heads, reference_price
from crmsim.research.env import CRMParallelEnv, CRMSingleFirmEnv
from crmsim.scenarios import list_scenarios
from crmsim.scenarios.schema import STAGES
from crmsim.sim.decisions import Decision, validate_decision
from crmsim.sim.tenders import unit_delivery_cost

SMALL = {"market.customers": 1500}


def single(scenario: str = "classroom-v2", seed: int = 0, periods: int = 0, **kwargs) -> CRMSingleFirmEnv:
    """A single-firm env reset with `seed` and played `periods` periods at the zero action."""
    env = CRMSingleFirmEnv(scenario, overrides={**SMALL, **kwargs.pop("overrides", {})}, **kwargs)
    env.reset(seed=seed)
    for _ in range(periods):
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    return env


def entry(codec: FirmCodec, **values: float) -> np.ndarray:
    """An action with the named entries set (dots written as double underscores) and every other entry 0."""
    a = np.zeros(len(codec.action_names), dtype=np.float32)
    for name, v in values.items():
        a[codec.action_names.index(name.replace("__", "."))] = v
    return a


def decode(env: CRMSingleFirmEnv, action: np.ndarray) -> tuple[Decision, tuple[str, ...]]:
    t = env.turn
    return env.codec.to_decision(t.ob, t.baseline, action, t.mask)


def at_stage(env: CRMSingleFirmEnv, stages: dict[str, str], **limits) -> None:
    """Put the learner's current view at the given lifecycle stages (and limits), as validation sees them too."""
    t = env.turn
    stage = {**t.ob.stage, **stages}
    ob = replace(t.ob, stage=stage, limits=replace(t.ob.limits, stages=stage, **limits))
    env.turn = replace(t, ob=ob, mask=env.codec.action_mask(ob, t.baseline))


# ---------------------------------------------------------------------------
# the zero action


@pytest.mark.parametrize("scenario", list_scenarios())
@pytest.mark.parametrize("baseline", ["standing", "balanced", "retention", "random"])
def test_the_zero_action_decodes_to_the_baseline_exactly(scenario, baseline):
    """Every agent, every period of a game in which the agents act at random: the zero action gives the baseline
    decision exactly, with no repair, and the baseline encodes back to the zero action."""
    env = CRMParallelEnv(scenario, overrides={**SMALL, "market.track_customers": 100}, baseline=baseline)
    env.reset(seed=5)
    rng = np.random.default_rng(5)
    checked = 0
    while env.agents:
        for a in env.agents:
            t = env.turns[a]
            decision, repairs = env.codec.to_decision(t.ob, t.baseline, np.zeros(env.action_space(a).shape), t.mask)
            assert decision == t.baseline and repairs == ()
            assert not env.decision_to_action(a, t.baseline).any()
            checked += 1
        env.step({a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents})
    assert checked >= 12


# ---------------------------------------------------------------------------
# each lever


def test_firm_levers_move_by_one_step_of_the_scales():
    """price x (1 + 0.1 a), service + 0.1 a, budgets + a x step, staff by whole heads, finance by a x credit_line / 4."""
    env = single("classroom-v2")
    s, base = env.codec.scales, env.turn.baseline
    assert (base.price, base.service_level, base.care_budget, base.advertising_budget) == (100, 0.6, 10_000, 10_000)
    assert s == ActionScales.for_scenario(env.scenario)
    assert (s.care, s.advertising, s.finance, s.sales_staff, s.service_staff) == (15 * 250 / 5, 40_000 / 8, 150_000 / 4, 1, 2)
    d, repairs = decode(env, entry(env.codec, price=-0.5, service_level=1, care_budget=-1, advertising_budget=0.25,
                                   sales_staff_change=0.5, service_staff_change=-1, finance=1))
    assert repairs == ()
    assert d.price == 95.0 and d.service_level == pytest.approx(0.7)
    assert d.care_budget == 10_000 - 750 and d.advertising_budget == 10_000 + 1_250
    assert (d.hire_sales, d.fire_sales, d.hire_service, d.fire_service) == (1, 0, 0, 2)
    assert (d.borrow, d.repay) == (37_500, 0)
    assert d.bids == {} and d.activities == {}


def test_staff_entries_round_half_away_from_zero_and_are_capped():
    """0.5 x 1 head = 1, 0.49 x 1 = 0, -0.5 = -1; hires beyond the per-period limit and fires beyond the staff are
    capped and listed."""
    assert [heads(x, 1) for x in (0.5, 0.49, -0.5, -0.49, 1.0)] == [1, 0, -1, 0, 1]
    assert [heads(x, 2) for x in (0.25, 0.74, 0.75, -1.0)] == [1, 1, 2, -2]
    env = single("classroom-v1", scales={"sales_staff": 100, "service_staff": 100})
    d, repairs = decode(env, entry(env.codec, sales_staff_change=1, service_staff_change=-1))
    assert (d.hire_sales, d.fire_service) == (50, 10)
    assert "hire_sales: 100 asked, at most 50 per period: hired 50" in repairs
    assert "fire_service: 100 asked, 10 on staff: fired 10" in repairs


def test_the_second_versions_levers_decode_around_the_baseline():
    """Retention + a x step; care shares x 2^a renormalised (from the firm's customers by tier without a split);
    research: survey + round(200 a), forecast and per-client rival flags switch at +-0.5."""
    env = single("classroom-v2", baseline="retention", periods=1)
    base = env.turn.baseline
    assert base.care_split == {"A": 0.55, "B": 0.3, "C": 0.15}
    d, repairs = decode(env, entry(env.codec, retention_budget=1, care_split__A=1, research__survey=0.5,
                                   research__forecast=0.5, research__rivals__haier=0.7, research__rivals__yili=0.4))
    assert repairs == ()
    assert d.retention_budget == pytest.approx(base.retention_budget + env.codec.scales.retention)
    assert d.care_split == {"A": pytest.approx(1.1 / 1.55, abs=1e-4), "B": pytest.approx(0.3 / 1.55, abs=1e-4),
                            "C": pytest.approx(0.15 / 1.55, abs=1e-4)}
    assert sum(d.care_split.values()) == pytest.approx(1.0, abs=1e-9)
    assert d.research.survey == base.research.survey + 100 and d.research.forecast and d.research.rivals == ("haier",)
    standing = single("classroom-v2", periods=1)
    row = standing.results[-1].firm_rows[0]
    d, _ = decode(standing, entry(standing.codec, care_split__C=-1))
    tiers = np.array([row["tier_a"], row["tier_b"], row["tier_c"] / 2])
    assert [d.care_split[t] for t in "ABC"] == pytest.approx(tiers / tiers.sum(), abs=1e-4)


def test_spend_cultivation_moves_each_client_and_keeps_the_largest_within_the_client_limit():
    """Cultivating by spend: + a x cultivation step per client; beyond 3 sales x 2 clients the largest spends stay."""
    env = single("classroom-v1")
    clients = env.scenario.client_ids
    values = {f"cultivation__{c}": 0.1 * (k + 1) for k, c in enumerate(clients)}
    d, repairs = decode(env, entry(env.codec, **values))
    step = env.codec.scales.cultivation
    assert d.cultivation == {c: pytest.approx(0.1 * (k + 1) * step) for k, c in enumerate(clients) if k >= 1}
    assert repairs == ("cultivation: 7 clients asked, 3 sales staff cultivate at most 6: kept the 6 largest",)


# ---------------------------------------------------------------------------
# bids


def test_bid_flags_prices_and_promises():
    """A new bid starts at the required service, priced midway between own delivery cost and the cap; the price
    entry spans exactly [own cost, cap]; a withdrawal flag drops the baseline's bid."""
    env = single("classroom-v2", periods=1)
    slots = env.codec.slots(env.turn.ob.tenders)
    k = next(k for k, t in enumerate(slots) if env.turn.mask[env.codec.action_names.index(f"slot{k}.bid")])
    t, unit, scpu = slots[k], env.turn.ob.firm.unit_cost, env.scenario.tenders.service_cost_per_unit
    cost = unit_delivery_cost(unit, t.required_service, scpu)
    for price_entry, expected in ((0.0, reference_price(t, cost)), (1.0, t.price_cap), (-1.0, cost)):
        d, repairs = decode(env, entry(env.codec, **{f"slot{k}__bid": 0.5, f"slot{k}__price": price_entry}))
        assert d.bids[t.id].price == pytest.approx(expected, abs=0.01) and d.bids[t.id].promised_service == t.required_service
    assert reference_price(t, cost) == pytest.approx(cost + (t.price_cap - cost) / 2)
    d, _ = decode(env, entry(env.codec, **{f"slot{k}__bid": 1, f"slot{k}__promised_service": 1}))
    assert d.bids[t.id].promised_service == pytest.approx(t.required_service + 0.2)
    assert decode(env, entry(env.codec, **{f"slot{k}__bid": 0.49}))[0].bids == {}  # below the flag: as the baseline (no bid)
    with_bot = single("classroom-v2", periods=1, baseline="balanced")
    base = with_bot.turn.baseline
    assert base.bids
    k, tid = next((k, t.id) for k, t in enumerate(with_bot.codec.slots(with_bot.turn.ob.tenders)) if t.id in base.bids)
    d, _ = decode(with_bot, entry(with_bot.codec, **{f"slot{k}__bid": -0.5}))
    assert tid not in d.bids and len(d.bids) == len(base.bids) - 1
    d, _ = decode(with_bot, entry(with_bot.codec, **{f"slot{k}__bid": 0.3, f"slot{k}__price": 0.0}))
    assert d.bids == base.bids


def test_bids_beyond_the_limit_keep_the_strongest_flags():
    """One sales head after firing two: two bids allowed; of three flagged slots the two strongest flags stay."""
    env = single("classroom-v1", scales={"sales_staff": 2}, overrides={"firms.sales_staff": 3})
    slots = env.codec.slots(env.turn.ob.tenders)
    assert len(slots) == 2
    d, repairs = decode(env, entry(env.codec, sales_staff_change=-1, slot0__bid=0.6, slot1__bid=0.9))
    assert d.fire_sales == 2 and len(d.bids) == 2 and repairs == ()
    env = single("classroom-v1", scales={"sales_staff": 3}, overrides={"costs.bids_per_sales_staff": 1})
    d, repairs = decode(env, entry(env.codec, sales_staff_change=-2 / 3, slot0__bid=0.6, slot1__bid=0.9))
    assert d.fire_sales == 2 and list(d.bids) == [slots[1].id]
    assert repairs == ("bids: 2 asked, 1 sales staff bid at most 1: kept the 1 strongest bid flags",)


# ---------------------------------------------------------------------------
# lifecycle cultivation


def test_ladders_hold_every_plan_of_counting_activities_by_hours():
    """At each stage: every set of the activities that count there, fewest sales hours first."""
    codec = single("classroom-v2").codec
    assert codec.ladders["potential"] == ((), ("investigate",))
    assert codec.ladders["target"] == ((), ("call",))
    assert codec.ladders["evaluation"] == ((), ("visit",), ("demo",), ("visit", "demo"))
    assert codec.ladders["formation"] == ((), ("maintain",), ("visit",), ("demo",), ("maintain", "visit"),
                                          ("maintain", "demo"), ("visit", "demo"), ("maintain", "visit", "demo"))
    assert codec.ladders["stable"] == ((), ("maintain",))
    acts = codec.scenario.cultivation.activities
    for stage, ladder in codec.ladders.items():
        assert all(stage in acts[a].stages for plan in ladder for a in plan)
        assert [codec.plan_hours(p) for p in ladder] == sorted(codec.plan_hours(p) for p in ladder)


def test_activity_entries_climb_the_clients_ladder():
    """A client at evaluation with no baseline plan: entry x 3 rungs, rounded half away from zero: 0.2 -> none,
    0.34 -> visit, 0.5 -> demo, 1 -> visit + demo; a client at potential: 0.5 -> investigate."""
    env = single("classroom-v2")
    at_stage(env, {"mengniu": "evaluation"})
    for value, plan in ((0.16, None), (0.34, ("visit",)), (0.5, ("demo",)), (1.0, ("visit", "demo")), (-1.0, None)):
        d, repairs = decode(env, entry(env.codec, activities__mengniu=value))
        assert d.activities.get("mengniu") == plan and repairs == ()
    d, _ = decode(env, entry(env.codec, activities__haier=0.5))
    assert d.activities == {"haier": ("investigate",)}


def test_a_bots_plan_is_moved_from_its_own_rung():
    """Around balanced's plan (visit + demo at formation, rung 6 of 7) -1/7 steps down one rung to maintain +
    demo, +1 to the top rung."""
    env = single("classroom-v2", baseline="balanced")
    at_stage(env, {"mengniu": "formation"})
    t = env.turn
    base = replace(t.baseline, activities={"mengniu": ("visit", "demo")})
    base = validate_decision(base, t.ob.limits)
    env.turn = replace(t, baseline=base)
    assert env.codec.level("formation", ("demo", "visit")) == 6
    assert decode(env, entry(env.codec, activities__mengniu=-1 / 7))[0].activities["mengniu"] == ("maintain", "demo")
    assert decode(env, entry(env.codec, activities__mengniu=1))[0].activities["mengniu"] == ("maintain", "visit", "demo")
    assert decode(env, entry(env.codec))[0].activities["mengniu"] == ("visit", "demo")


def test_activities_beyond_the_sales_hours_step_down_the_lowest_entries_first():
    """3 sales x 40 hours = 120: asking the top rung (40 hours) of three evaluation clients and demo (24 hours) of a
    fourth is 144 hours; the plan of the client with the lowest entry steps down a rung at a time until they fit."""
    env = single("classroom-v2")
    at_stage(env, {c: "evaluation" for c in ("mengniu", "wahaha", "haier", "yili")})
    d, repairs = decode(env, entry(env.codec, activities__mengniu=1, activities__wahaha=0.9, activities__haier=0.95, activities__yili=0.8))
    assert d.activities == {"mengniu": ("visit", "demo"), "wahaha": ("visit", "demo"), "haier": ("visit", "demo")}
    assert repairs == ("activities: 144 sales hours asked, 3 sales staff have 120: the lowest entries' plans stepped down",)
    d, _ = decode(env, entry(env.codec, sales_staff_change=-1, activities__mengniu=1, activities__wahaha=0.9))
    assert d.fire_sales == 1 and sum(env.codec.plan_hours(p) for p in d.activities.values()) <= 80
    assert d.activities == {"mengniu": ("visit", "demo"), "wahaha": ("visit", "demo")}


def test_random_actions_only_ever_produce_activities_that_count_at_the_clients_stage():
    """Every agent, every period of random play: each decoded plan is a rung of its client's ladder at the client's
    stage then, within the sales hours, and the engine never had to reject a decoded decision."""
    env = CRMParallelEnv("classroom-v2", baseline="relationship")
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    plans = 0
    while env.agents:
        turns = dict(env.turns)
        _, _, _, _, infos = env.step({a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents})
        for a, info in infos.items():
            assert not any(r.startswith("engine rejected") for r in info["repairs"])
            ob, d = turns[a].ob, info["decision"]
            for c, plan in d.activities.items():
                assert plan in env.codec.ladders[ob.stage[c]]
                plans += 1
            assert sum(env.codec.plan_hours(p) for p in d.activities.values()) <= ob.limits.hours_limit(ob.firm.sales_staff + d.hire_sales - d.fire_sales)
    assert plans > 50
    stages = {STAGES.index(s) for t in env.turns.values() for s in t.ob.stage.values()}
    assert max(stages) >= STAGES.index("evaluation")  # the play reached stages with more than one activity


# ---------------------------------------------------------------------------
# masks


def test_the_mask_hides_empty_slots_and_invited_tenders_below_the_stage():
    """Period 2 of classroom-v2: motorola's invited tender needs the evaluation stage (the firm is at potential), so
    its slot is masked; wahaha's open tender is not; the five empty slots are masked."""
    env = single("classroom-v2", periods=1)
    mask, names = env.turn.mask, env.codec.action_names
    assert [t.id for t in env.codec.slots(env.turn.ob.tenders)] == ["motorola-02", "wahaha-02"]
    slot = {k: [mask[names.index(f"slot{k}.{n}")] for n in ("bid", "price", "promised_service")] for k in range(7)}
    assert slot[0] == [False] * 3 and slot[1] == [True] * 3
    assert all(slot[k] == [False] * 3 for k in range(2, 7))
    assert mask[: names.index("slot0.bid")].all()
    at_stage(env, {"motorola": "evaluation"})
    assert env.turn.mask[names.index("slot0.bid")]


def test_masked_entries_are_ignored():
    """Whatever a masked entry holds, the decision is the one with that entry at 0 (here: the baseline's)."""
    env = single("classroom-v2", periods=1)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
    zeroed = np.where(env.turn.mask, a, 0.0)
    assert decode(env, a) == decode(env, zeroed)
    assert decode(env, np.where(env.turn.mask, 0.0, 1.0))[0] == env.turn.baseline


def test_the_mask_hides_tenders_priced_below_own_cost_and_levers_without_room():
    """A unit cost above every cap: no tender is biddable; no credit line and no debt: finance is masked; no sales
    staff and no hiring: no activity can be done and nothing can be bid."""
    env = single("classroom-v2", overrides={"firms.unit_cost": 130, "costs.credit_line": 0})
    names, mask = env.codec.action_names, env.turn.mask
    assert env.turn.ob.tenders and not any(mask[names.index(f"slot{k}.bid")] for k in range(7))
    assert not mask[names.index("finance")]
    env = single("classroom-v2", overrides={"firms.sales_staff": 0, "costs.max_hire_per_period": 0})
    mask = env.turn.mask
    assert not any(mask[names.index(f"activities.{c}")] for c in env.scenario.client_ids)
    assert not any(mask[names.index(f"slot{k}.bid")] for k in range(7))
    assert env.action_masks() is env.turn.mask


# ---------------------------------------------------------------------------
# repairs and the inverse


def test_an_impossible_action_is_repaired_not_raised():
    """NaN and out-of-range entries read as 0 or are clipped, each listed; the result is a decision the engine
    accepts."""
    env = single("classroom-v2")
    a = entry(env.codec, price=np.nan, service_level=5.0, sales_staff_change=-3.0)
    d, repairs = decode(env, a)
    assert repairs[:2] == ("non-finite entries read as 0: price", "entries outside [-1, 1] clipped: service_level, sales_staff_change")
    assert d.price == env.turn.baseline.price and d.service_level == pytest.approx(0.7) and d.fire_sales == 1
    assert validate_decision(d, env.turn.ob.limits) == d
    _, _, _, _, info = env.step(a)
    assert info["repairs"] == repairs
    with pytest.raises(ValueError, match=r"expected 48 numbers"):
        decode(env, np.zeros(3))


def test_to_action_inverts_moves_within_one_step():
    """A decision one step or less from the baseline on every lever encodes to a residual that decodes back to it."""
    env = single("classroom-v2", periods=2, baseline="balanced")
    t = env.turn
    raw = t.baseline.to_dict()
    split = np.array(env.codec.split_base(t.ob, t.baseline)) * (1.5, 1.0, 0.8)
    split = np.round(split / split.sum(), 4)
    raw.update(price=round(t.baseline.price * 1.05, 2), care_budget=t.baseline.care_budget + 300, retention_budget=150.0,
               research={"rivals": ["haier"], "survey": 50, "forecast": True}, hire_sales=1,
               care_split={"A": float(split[0]), "B": float(split[1]), "C": round(1 - float(split[0]) - float(split[1]), 4)})
    d = validate_decision(raw, t.ob.limits)
    a = env.decision_to_action(raw)
    assert np.abs(a).max() <= 1
    assert decode(env, a) == (d, ())


# ---------------------------------------------------------------------------
# the observation vector


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2", "service-economy-v2"])
def test_every_observation_entry_sits_at_its_names_place(scenario):
    """The vector holds, at each name of ``observation_names``, the value the blocks give that name (NaN read as 0,
    then clipped to the entry's bounds), on several periods with tenders open and empty slots."""
    env = single(scenario, max_tenders=4)
    codec, slots_seen = env.codec, set()
    for period in range(4):
        t = env.turn
        entries = codec.observation_entries(t.ob, t.baseline)
        assert entries.keys() == set(codec.observation_names) and len(entries) == len(codec.observation_names)
        expected = np.nan_to_num(np.array([entries[n] for n in codec.observation_names]), nan=0.0, posinf=10.0, neginf=-10.0)
        expected = np.clip(expected, codec.observation_space().low, codec.observation_space().high).astype(np.float32)
        assert np.array_equal(codec.observe(t.ob, t.baseline), expected), f"period {period + 1}"
        assert np.array_equal(t.vector, expected)
        slots_seen |= {entries[f"slot{k}.present"] for k in range(4)}
        env.step(np.random.default_rng(period).uniform(-1, 1, env.action_space.shape).astype(np.float32))
    assert slots_seen == {0.0, 1.0}  # open tenders and empty slots were both seen


def test_a_block_entry_missing_extra_or_out_of_order_is_a_codec_bug():
    """Assembling the vector names the part and the entries that do not match the layout, rather than shifting values."""
    env = single("classroom-v2")
    codec, t = env.codec, env.turn
    parts = codec._parts(t.ob, t.baseline)
    own = dict(parts[0][1])
    del own["cash"]
    with pytest.raises(RuntimeError, match=r"observation: own \['cash'\] missing, \[\] not in the layout"):
        codec._vector(codec._o_parts, [("own", own), *parts[1:]], "observation")
    with pytest.raises(RuntimeError, match=r"observation: own \[\] missing, \['extra'\] not in the layout"):
        codec._vector(codec._o_parts, [("own", {**parts[0][1], "extra": 1.0}), *parts[1:]], "observation")
    with pytest.raises(RuntimeError, match=r"do not follow the layout"):
        codec._vector(codec._o_parts, [parts[1], parts[0], *parts[2:]], "observation")
