"""The game service (web/service.py) on SQLite and PostgreSQL: the rules of a classroom game's life cycle."""

from __future__ import annotations

import io
import threading
import zipfile

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from crmsim.scenarios import load_scenario
from crmsim.sim.decisions import DecisionError
from crmsim.sim.model import CRMModel
from crmsim.web import export, service
from crmsim.web.models import Adjustment, AuditEntry, DecisionRecord, Draft, Game, Snapshot, Team
from crmsim.web.service import (
    CODE_ALPHABET,
    CODE_LENGTH,
    ServiceError,
    add_adjustment,
    create_game,
    extend_deadline,
    fill_with_bots,
    latest_decisions,
    pause,
    rebuild,
    resolve,
    resume,
    save_draft,
    seconds_left,
    set_deadline,
    submit_decision,
    team_by_code,
    verify_rebuild,
)

EXPORT_NAMES = ["decisions", "results", "tenders", "bids", "customers", "relationships", "adjustments", "events"]


def count(db, model, **where) -> int:
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return db.scalar(q)


def problem_fields(exc: DecisionError) -> set[str]:
    return {p.field for p in exc.problems}


@pytest.fixture
def game(db) -> Game:
    return create_game(db, "classroom-v1", seed=11)


# ---------------------------------------------------------------------------
# creating and joining


def test_each_seat_gets_a_unique_join_code_and_named_bot_seats_are_bots(clock, db):
    g1 = create_game(db, "classroom-v1", seed=1, bots={2: "premium", 5: "random"})
    g2 = create_game(db, "classroom-v1", seed=2, team_names=[f"T{i}" for i in range(6)])
    codes = [t.join_code for t in g1.teams + g2.teams]
    assert len(codes) == 12 and len(set(codes)) == 12
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert [t.bot for t in g1.teams] == [None, None, "premium", None, None, "random"]
    assert [t.name for t in g1.teams] == ["Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord"]
    assert [t.name for t in g2.teams] == [f"T{i}" for i in range(6)]
    assert (g1.period, g1.status) == (1, "open")
    assert seconds_left(g1) == 15 * 60  # the default period length, on a stopped clock


def test_fewer_team_names_than_seats_name_the_first_seats_and_the_rest_keep_the_scenarios_names(db):
    """An instructor names the 4 human teams and puts bots in the last 2 seats: no need to invent bot names."""
    g = create_game(db, "classroom-v1", seed=1, team_names=["红队", "Blue", "Green", "Gold"], bots={4: "balanced", 5: "premium"})
    assert [t.name for t in g.teams] == ["红队", "Blue", "Green", "Gold", "Ember", "Fjord"]
    assert [t.bot for t in g.teams] == [None, None, None, None, "balanced", "premium"]


def test_the_engine_names_its_firms_as_the_class_named_the_teams(db):
    """The scoreboard's ranking, the market report and the exports read the engine's firm rows: they must carry the
    team names the instructor typed, not the scenario's default names."""
    g = create_game(db, "classroom-v1", seed=1, team_names=["红队", "Blue"], bots={i: "balanced" for i in range(6)})
    resolve(db, g)
    assert [r["name"] for r in service.snapshots(db, g)[-1].firm_rows] == ["红队", "Blue", "Cedar", "Delta", "Ember", "Fjord"]
    with pytest.raises(ServiceError) as e:
        create_game(db, "classroom-v1", seed=1, team_names=["A", "B", "A"])
    assert (e.value.problem.field, e.value.problem.rule, e.value.problem.value) == ("teams", "each team needs a name of its own", "A")


def test_create_game_rejects_bad_settings_naming_the_field(db):
    with pytest.raises(ServiceError) as e:
        create_game(db, "classroom-v1", seed=1, bots={0: "genius"})
    assert (e.value.problem.field, e.value.problem.value, e.value.status) == ("bots.0", "genius", 400)
    with pytest.raises(ServiceError) as e:
        create_game(db, "classroom-v1", seed=1, team_names=[f"T{i}" for i in range(7)])
    assert (e.value.problem.field, e.value.problem.value) == ("teams", 7)
    with pytest.raises(ServiceError) as e:
        create_game(db, "classroom-v1", seed=-1)
    assert e.value.problem.field == "seed"
    with pytest.raises(ServiceError) as e:
        create_game(db, "classroom-v1", seed=1, period_minutes=0)
    assert e.value.problem.field == "period_minutes"
    assert count(db, Game) == 0 and count(db, Team) == 0


def test_a_join_code_finds_its_team_in_any_case_and_a_bot_seat_cannot_be_joined(db):
    g = create_game(db, "classroom-v1", seed=1, bots={1: "balanced"})
    t0, t1 = g.teams[0], g.teams[1]
    assert t0.joined_at is None
    assert team_by_code(db, f"  {t0.join_code.lower()} ").id == t0.id
    assert t0.joined_at is not None
    with pytest.raises(ServiceError) as e:
        team_by_code(db, t1.join_code)
    assert (e.value.problem.field, e.value.status) == ("code", 409)
    with pytest.raises(ServiceError) as e:
        team_by_code(db, "NOPE99")
    assert (e.value.problem.field, e.value.problem.value, e.value.status) == ("code", "NOPE99", 404)


# ---------------------------------------------------------------------------
# decisions


def test_a_resubmitted_decision_is_appended_and_the_latest_one_counts(db, game):
    team = game.teams[0]
    submit_decision(db, game, team, {"price": 90, "service_level": 0.5})
    submit_decision(db, game, team, {"price": 110, "service_level": 0.7}, source="api")
    recs = db.scalars(select(DecisionRecord).where(DecisionRecord.game_id == game.id).order_by(DecisionRecord.id)).all()
    assert [(r.payload["price"], r.source) for r in recs] == [(90.0, "form"), (110.0, "api")]
    assert latest_decisions(db, game)[0].payload["price"] == 110.0
    resolve(db, game)
    snap = db.scalar(select(Snapshot).where(Snapshot.game_id == game.id, Snapshot.period == 1))
    assert snap.engine_decisions["0"]["price"] == 110.0
    assert snap.firm_rows[0]["price"] == 110.0 and snap.firm_rows[0]["service_level"] == 0.7
    # the log keeps both submissions; nothing was overwritten
    assert count(db, DecisionRecord, game_id=game.id, firm_index=0, period=1) == 2


def test_a_rejected_decision_stores_nothing_and_changes_nothing(db, game):
    team = game.teams[2]
    save_draft(db, game, team, {"price": "95"})
    submit_decision(db, game, team, {"price": 105})
    model = rebuild(db, game)
    cash, standing = model.state.firms[2].cash, model.state.firms[2].standing
    before = (count(db, DecisionRecord), count(db, Draft), game.version)
    with pytest.raises(DecisionError) as e:
        submit_decision(db, game, team, {"price": -5, "service_level": 1.5, "hire_sales": 2.5, "prise": 3})
    problems = {p.field: p for p in e.value.problems}
    assert set(problems) == {"price", "service_level", "hire_sales", "prise"}
    assert problems["price"].value == -5 and "> 0" in problems["price"].rule
    assert problems["service_level"].value == 1.5 and "<= 1" in problems["service_level"].rule
    assert "whole number" in problems["hire_sales"].rule
    assert "unknown field" in problems["prise"].rule
    db.expire_all()
    assert (count(db, DecisionRecord), count(db, Draft), db.get(Game, game.id).version) == before
    assert latest_decisions(db, game)[2].payload["price"] == 105.0
    model = rebuild(db, game)
    assert model.state.firms[2].cash == cash and model.state.firms[2].standing == standing


def test_after_the_deadline_a_submission_is_refused_until_the_deadline_is_extended(clock, db, game):
    team = game.teams[0]
    set_deadline(db, game, 0)
    assert seconds_left(game) == 0
    n = count(db, DecisionRecord)
    with pytest.raises(ServiceError) as e:
        submit_decision(db, game, team, {"price": 100})
    assert (e.value.problem.field, e.value.status) == ("deadline", 409)
    assert count(db, DecisionRecord) == n
    clock.advance(90)  # 90 s after the deadline, extending gives 5 minutes from now, not from the deadline
    assert seconds_left(game) == -90
    extend_deadline(db, game, 5)
    assert seconds_left(game) == 5 * 60
    submit_decision(db, game, team, {"price": 100})
    assert count(db, DecisionRecord) == n + 1


def test_pause_freezes_the_clock_and_resume_restores_it(clock, db, game):
    set_deadline(db, game, 10)
    clock.advance(30)
    pause(db, game)
    frozen = seconds_left(game)
    assert frozen == 10 * 60 - 30
    clock.advance(3600)  # an hour paused
    db.expire_all()
    game = db.get(Game, game.id)
    assert seconds_left(game) == frozen
    with pytest.raises(ServiceError) as e:
        submit_decision(db, game, game.teams[0], {"price": 100})
    assert e.value.problem.field == "status"
    with pytest.raises(ServiceError):
        pause(db, game)
    resume(db, game)
    assert game.status == "open"
    assert seconds_left(game) == frozen  # the time left when paused, none of the hour
    clock.advance(20)
    assert seconds_left(game) == frozen - 20  # and it runs again
    with pytest.raises(ServiceError):
        resume(db, game)
    # a deadline set while paused is kept frozen until resume
    pause(db, game)
    set_deadline(db, game, 3)
    clock.advance(600)
    assert seconds_left(game) == 180
    resume(db, game)
    assert seconds_left(game) == 180


# ---------------------------------------------------------------------------
# resolving


def test_resolve_advances_the_period_and_writes_one_snapshot(clock, db, game):
    v = game.version
    r = resolve(db, game)
    assert (r.period, r.finished) == (1, False)
    db.expire_all()
    game = db.get(Game, game.id)
    assert (game.period, game.status) == (2, "open") and game.version > v
    snaps = db.scalars(select(Snapshot).where(Snapshot.game_id == game.id)).all()
    assert [s.period for s in snaps] == [1]
    assert [row["firm"] for row in snaps[0].firm_rows] == list(range(6))
    assert sorted(row["rank"] for row in snaps[0].firm_rows) == list(range(1, 7))
    assert seconds_left(game) == 15 * 60  # a fresh clock for period 2
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.game_id == game.id).order_by(AuditEntry.id.desc())) == "resolve"


def test_absent_teams_keep_their_standing_decisions(db, game):
    team = game.teams[0]
    start = rebuild(db, game).state.firms[0]
    submit_decision(db, game, team, {"price": 123, "service_level": 0.72, "care_budget": 4321, "hire_sales": 1})
    resolve(db, game)
    resolve(db, game)  # team 0 is silent in period 2
    snaps = db.scalars(select(Snapshot).where(Snapshot.game_id == game.id).order_by(Snapshot.period)).all()
    p1, p2 = snaps[0].firm_rows[0], snaps[1].firm_rows[0]
    assert (p2["price"], p2["service_level"]) == (123.0, 0.72)
    assert p1["sales_staff"] == p2["sales_staff"] == start.sales_staff + 1  # the hire is one-off, not repeated
    assert p2["care"] == pytest.approx(4321.0)
    # silent human firms (all of them in period 2) have no decision in the engine log, and none is invented
    assert "0" not in snaps[1].engine_decisions
    assert count(db, DecisionRecord, game_id=game.id, period=2) == 0
    # every other firm kept the scenario's starting price
    sc = load_scenario("classroom-v1")
    assert all(r["price"] == sc.firms.price for r in snaps[1].firm_rows[1:])


def test_a_stale_second_resolution_of_the_same_period_fails_and_writes_nothing(app, db, game):
    """A second process that read the game before the first committed cannot resolve the period again."""
    from crmsim.web.db import get_db

    submit_decision(db, game, game.teams[0], {"price": 120})
    with app.app_context():
        other = get_db()
        stale = other.get(Game, game.id)
        assert stale.period == 1
        resolve(db, game)  # the first request commits
        n = (count(db, DecisionRecord), count(db, AuditEntry))
        with pytest.raises(ServiceError) as e:
            service._resolve(other, stale)  # the unique (game, period) snapshot stops it
        assert (e.value.problem.field, e.value.problem.value, e.value.status) == ("period", 1, 409)
    db.expire_all()
    assert db.get(Game, game.id).period == 2
    assert db.scalars(select(Snapshot.period).where(Snapshot.game_id == game.id)).all() == [1]
    assert (count(db, DecisionRecord), count(db, AuditEntry)) == n
    assert verify_rebuild(db, db.get(Game, game.id)) == []


def race(app, game_id: int, act, n: int = 4) -> tuple[list, list[str]]:
    """`act(session, game)` in `n` threads at once, each with its own session and its game read before the start:
    what the calls returned, and the fields of the ServiceErrors that refused the others."""
    from crmsim.web.db import get_db

    done, refused, barrier = [], [], threading.Barrier(n)

    def worker():
        with app.app_context():
            s = get_db()
            g = s.get(Game, game_id)
            barrier.wait()
            try:
                done.append(act(s, g))
            except ServiceError as exc:
                refused.append(exc.problem.field)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return done, refused


def test_concurrent_resolutions_never_resolve_a_period_twice(app, db):
    game = create_game(db, "classroom-v1", seed=5, bots={i: "balanced" for i in range(6)})
    _done, errors = race(app, game.id, resolve)  # a loser of the race may be refused; never a double resolution
    periods = db.scalars(select(Snapshot.period).where(Snapshot.game_id == game.id).order_by(Snapshot.period)).all()
    assert len(periods) == len(set(periods)) and periods == list(range(1, len(periods) + 1))
    assert set(errors) <= {"period"}
    db.expire_all()
    g = db.get(Game, game.id)
    assert g.period == len(periods) + 1
    assert verify_rebuild(db, g) == []


def test_a_decision_accepted_while_its_period_resolves_is_the_one_the_engine_uses(app, db, game, monkeypatch):
    """Every accepted submission either counts for its period or is refused; none is silently dropped."""
    from crmsim.web.db import get_db

    submit_decision(db, game, game.teams[0], {"price": 101})
    outcome: list[str] = []

    def late_submission():  # another request, e.g. a second server thread, a second later
        with app.app_context():
            s = get_db()
            g = s.get(Game, game.id)
            try:
                submit_decision(s, g, g.teams[0], {"price": 142}, source="api")
                outcome.append(f"accepted for period {g.period}")
            except (ServiceError, DecisionError) as exc:
                outcome.append(f"refused: {exc}")

    original = service.latest_decisions
    racer: list[threading.Thread] = []

    def latest_then_race(dbs, g, period=None):
        out = original(dbs, g, period)
        if not racer:  # while resolve is between reading the submissions and committing the snapshot
            racer.append(threading.Thread(target=late_submission))
            racer[0].start()
            racer[0].join(timeout=2)  # a fix may make it wait for the resolution's lock
        return out

    monkeypatch.setattr(service, "latest_decisions", latest_then_race)
    resolve(db, game)
    racer[0].join(timeout=60)
    assert outcome, "the late submission did not finish"
    db.expire_all()
    snap = db.scalar(select(Snapshot).where(Snapshot.game_id == game.id, Snapshot.period == 1))
    latest = db.scalars(
        select(DecisionRecord).where(DecisionRecord.game_id == game.id, DecisionRecord.period == 1,
                                     DecisionRecord.firm_index == 0, DecisionRecord.source != "engine").order_by(DecisionRecord.id)
    ).all()[-1]
    assert latest.payload == snap.engine_decisions["0"], outcome


# ---------------------------------------------------------------------------
# the app's cache of rebuilt games


def _sqlite_app(path, monkeypatch):
    from crmsim.web import create_app

    for var in ("DATABASE_URL", "RATELIMIT_STORAGE_URI", "CRMSIM_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CRMSIM_INSTANCE", str(path.parent / "instance"))
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{path}"})


def _game_one_after_a_period(app, seed: int) -> list[float]:
    """Create game 1 with `seed` in the app's database, resolve period 1; the period's cash per firm."""
    from crmsim.web.db import get_db

    with app.app_context():
        db = get_db()
        game = create_game(db, "classroom-v1", seed=seed)
        assert game.id == 1
        resolve(db, game)
        return [row["cash"] for row in snapshots_of(db, 1)[0].firm_rows]


def snapshots_of(db, game_id: int) -> list[Snapshot]:
    return list(db.scalars(select(Snapshot).where(Snapshot.game_id == game_id).order_by(Snapshot.period)))


def _served(app) -> tuple[int, list[float]]:
    """The seed and period-1 cash of game 1 as the app's service rebuilds it."""
    from crmsim.web.db import get_db

    with app.app_context():
        db = get_db()
        model = rebuild(db, db.get(Game, 1))
        return model.seed, [row["cash"] for row in model.results[0].firm_rows]


@pytest.mark.parametrize("action", ["resolve", "rollback"])
def test_racing_console_actions_without_a_period_act_once(app, db, action):
    """A resolve (or rollback) sent without a period acts on the period as it was when the request came: of four
    racing requests, one resolves (rolls back) and three are refused on `period`, never two periods in a row."""
    from crmsim.web.actions import GAME_ACTIONS

    game = create_game(db, "classroom-v1", seed=5, bots={i: "balanced" for i in range(6)})
    for _ in range(2):
        resolve(db, game)
    action_body = GAME_ACTIONS[action].body()
    done, refused = race(app, game.id, lambda s, g: GAME_ACTIONS[action].run(s, g, action_body))
    assert len(done) == 1 and refused == ["period"] * 3, (done, refused)
    db.expire_all()
    g = db.get(Game, game.id)
    assert g.period == (4 if action == "resolve" else 2)
    assert verify_rebuild(db, g) == []


def test_a_game_is_rebuilt_once_and_kept_across_submissions_and_resolutions(db, game):
    """Only a resolution changes a game's engine state: submissions (which bump the game's version) keep the
    cached model, and the model the resolution stepped is the one served for the next period."""
    model = rebuild(db, game)
    version = game.version
    submit_decision(db, game, game.teams[0], {"price": 104})
    assert game.version > version and rebuild(db, game) is model
    resolve(db, game)
    assert rebuild(db, db.get(Game, game.id)) is model and len(model.results) == 1
    assert model.results[0].firm_rows[0]["price"] == 104.0


def test_two_apps_on_two_databases_each_serve_their_own_game_1(tmp_path, monkeypatch):
    """The cache of rebuilt games belongs to each app and is keyed by database: B's game 1 is never A's."""
    app_a = _sqlite_app(tmp_path / "a" / "crmsim.db", monkeypatch)
    app_b = _sqlite_app(tmp_path / "b" / "crmsim.db", monkeypatch)
    cash_a = _game_one_after_a_period(app_a, seed=3)
    cash_b = _game_one_after_a_period(app_b, seed=4)
    assert cash_a != cash_b
    for _ in range(2):  # and again, each from its cache
        assert _served(app_a) == (3, cash_a)
        assert _served(app_b) == (4, cash_b)
    assert app_a.extensions["game_cache"] is not app_b.extensions["game_cache"]


def test_a_period_resolved_by_another_app_on_the_same_database_is_noticed(tmp_path, monkeypatch):
    """Two processes on one database: each serves the game as the database has it, never its own stale copy."""
    from crmsim.web.db import get_db

    path = tmp_path / "shared" / "crmsim.db"
    first, second = _sqlite_app(path, monkeypatch), _sqlite_app(path, monkeypatch)
    _game_one_after_a_period(first, seed=5)
    assert _served(first)[0] == 5  # the first app has game 1 after period 1 in its cache
    with second.app_context():
        db = get_db()
        resolve(db, db.get(Game, 1))
        resolve(db, db.get(Game, 1))
        published = [[row["cash"] for row in s.firm_rows] for s in snapshots_of(db, 1)]
    with first.app_context():
        db = get_db()
        model = rebuild(db, db.get(Game, 1))
        assert len(model.results) == 3
        assert [[row["cash"] for row in r.firm_rows] for r in model.results] == published


def test_a_database_replaced_under_a_running_app_is_noticed(tmp_path, monkeypatch):
    """Game 1 at the same period but a different game (say, a restored backup): the app rebuilds it from the database."""
    import shutil

    app_a = _sqlite_app(tmp_path / "a" / "crmsim.db", monkeypatch)
    app_b = _sqlite_app(tmp_path / "b" / "crmsim.db", monkeypatch)
    _game_one_after_a_period(app_a, seed=6)
    cash_b = _game_one_after_a_period(app_b, seed=7)
    assert _served(app_a)[0] == 6
    for app in (app_a, app_b):
        app.extensions["db_engine"].dispose()  # SQLite folds its write-ahead log into the file on the last close
    shutil.copyfile(tmp_path / "b" / "crmsim.db", tmp_path / "a" / "crmsim.db")
    assert _served(app_a) == (7, cash_b)


def test_adjustments_are_booked_in_the_ledger_of_the_period_they_are_resolved_in(db, game):
    add_adjustment(db, game, 1, 5000, "best presentation")
    add_adjustment(db, game, 1, -2000.0, "late report")
    add_adjustment(db, game, 3, -750, "  rude to the client  ")
    resolve(db, game)
    resolve(db, game)
    snaps = db.scalars(select(Snapshot).where(Snapshot.game_id == game.id).order_by(Snapshot.period)).all()
    assert [r["adjustment"] for r in snaps[0].firm_rows] == [0.0, 3000.0, 0.0, -750.0, 0.0, 0.0]
    assert [r["adjustment"] for r in snaps[1].firm_rows] == [0.0] * 6  # booked once, not again
    assert {int(k): v for k, v in snaps[0].adjustments.items()} == {1: 3000.0, 3: -750.0}
    assert sum(e["kind"] == "adjustment" for e in snaps[0].events) == 2
    assert db.scalar(select(Adjustment.reason).where(Adjustment.firm_index == 3)) == "rude to the client"
    # the engine with the same seed and adjustments books the same cash
    ref = CRMModel(load_scenario("classroom-v1"), seed=11)
    ref.adjust(1, 3000.0)
    ref.adjust(3, -750.0)
    ref.step()
    assert [r["cash"] for r in snaps[0].firm_rows] == pytest.approx([r["cash"] for r in ref.results[0].firm_rows], rel=1e-12)
    plain = CRMModel(load_scenario("classroom-v1"), seed=11)
    plain.step()
    assert snaps[0].firm_rows[1]["cash"] - plain.results[0].firm_rows[1]["cash"] == pytest.approx(3000.0)


@pytest.mark.parametrize(
    ("firm", "amount", "reason", "field"),
    [(1, float("nan"), "x", "amount"), (1, 2e9, "x", "amount"), (1, "100", "x", "amount"), (1, 100, "  ", "reason"), (9, 100, "x", "firm")],
)
def test_a_bad_adjustment_is_refused_naming_the_field(db, game, firm, amount, reason, field):
    with pytest.raises(ServiceError) as e:
        add_adjustment(db, game, firm, amount, reason)
    assert (e.value.problem.field, e.value.status) == (field, 400)
    assert count(db, Adjustment) == 0


def test_the_log_rebuilds_every_snapshot_after_several_periods(db):
    game = create_game(db, "classroom-v1", seed=21, bots={3: "adaptive", 4: "random", 5: "price_cutter"})
    teams = game.teams
    for p in range(1, 6):
        model = rebuild(db, game)
        tender = model.state.tenders[0] if model.state.tenders else None
        bids = {tender.id: {"price": tender.price_cap * 0.9, "promised_service": max(0.7, tender.required_service)}} if tender else {}
        submit_decision(db, game, teams[0], {"price": 95 + p, "service_level": 0.6, "bids": bids})
        if p % 2:
            submit_decision(db, game, teams[1], {"price": 105, "hire_service": 1, "cultivation": {model.scenario.client_ids[0]: 3000}})
        if p == 3:
            add_adjustment(db, game, 2, 2500, "bonus")
        resolve(db, game)
    assert verify_rebuild(db, game) == []
    # the checker does see a snapshot that the log does not reproduce
    snap = db.scalar(select(Snapshot).where(Snapshot.game_id == game.id, Snapshot.period == 4))
    rows = [dict(r) for r in snap.firm_rows]
    rows[2]["cash"] += 1.0
    snap.firm_rows = rows
    db.commit()
    assert verify_rebuild(db, game) == [4]


def test_fill_with_bots_gives_every_unjoined_seat_to_a_bot(db, game):
    team_by_code(db, game.teams[0].join_code)
    team_by_code(db, game.teams[2].join_code)
    assert fill_with_bots(db, game, "premium") == [1, 3, 4, 5]
    assert [t.bot for t in game.teams] == [None, "premium", None, "premium", "premium", "premium"]
    with pytest.raises(ServiceError) as e:
        team_by_code(db, game.teams[1].join_code)
    assert e.value.problem.field == "code"
    with pytest.raises(ServiceError) as e:
        fill_with_bots(db, game, "genius")
    assert (e.value.problem.field, e.value.status) == ("bot", 400)
    resolve(db, game)
    engine = {r.firm_index for r in db.scalars(select(DecisionRecord).where(DecisionRecord.source == "engine"))}
    assert engine == {1, 3, 4, 5}  # the bots decided; the joined, silent teams kept standing decisions
    assert fill_with_bots(db, game, "balanced", only_absent=False) == [0, 2]
    assert fill_with_bots(db, game, "balanced") == []


# ---------------------------------------------------------------------------
# exports


def test_exports_are_a_csv_zip_and_an_excel_workbook_with_the_named_tables(db):
    game = create_game(db, "classroom-v1", seed=3, bots={i: "balanced" for i in range(1, 6)})
    submit_decision(db, game, game.teams[0], {"price": 99})
    add_adjustment(db, game, 0, 1000, "bonus")
    resolve(db, game)
    resolve(db, game)
    z = zipfile.ZipFile(io.BytesIO(export.csv_zip(db, game)))
    assert sorted(z.namelist()) == sorted(f"{n}.csv" for n in EXPORT_NAMES)
    results = pd.read_csv(z.open("results.csv"))
    assert len(results) == 12 and sorted(set(results["period"])) == [1, 2]
    decisions = pd.read_csv(z.open("decisions.csv"))
    assert set(decisions["source"]) == {"form", "engine"}
    adjustments = pd.read_csv(z.open("adjustments.csv"))
    assert adjustments[["period", "firm", "amount", "reason"]].values.tolist() == [[1, 0, 1000.0, "bonus"]]
    wb = openpyxl.load_workbook(io.BytesIO(export.excel(db, game)), read_only=True)
    assert wb.sheetnames == EXPORT_NAMES
    assert wb["results"].max_row == 13  # header + 2 periods x 6 firms
    header = [c.value for c in next(wb["customers"].iter_rows(max_row=1))]
    assert header[:3] == ["period", "firm", "name"]


def test_exports_of_a_game_not_yet_resolved_still_open(db, game):
    z = zipfile.ZipFile(io.BytesIO(export.csv_zip(db, game)))
    assert sorted(z.namelist()) == sorted(f"{n}.csv" for n in EXPORT_NAMES)
    wb = openpyxl.load_workbook(io.BytesIO(export.excel(db, game)), read_only=True)
    assert wb.sheetnames == EXPORT_NAMES


def test_a_seat_given_to_a_bot_no_longer_takes_its_teams_decisions(db, game):
    """After the instructor gives every team seat to a bot, a team's old session cannot override the bot."""
    import pytest as _pytest

    from crmsim.web.service import ServiceError, fill_with_bots, submit_decision

    team = next(t for t in game.teams if t.bot is None)
    fill_with_bots(db, game, "balanced", only_absent=False)
    with _pytest.raises(ServiceError) as err:
        submit_decision(db, game, team, {"price": 99})
    assert err.value.problem.field == "team" and "bot" in err.value.problem.rule
