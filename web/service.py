"""The classroom's game service: every web and API action on a game, on top of the engine.

Views call these functions; the rules live in the engine. The database holds
the scenario, the seed, the append-only decision log, adjustments and one
snapshot per resolved period. A game's engine state is rebuilt from that log
(and cached in the app, see GameCache), so a server restart loses nothing.
"""

from __future__ import annotations

import ast
import json
import math
import secrets
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from crmsim.agents.bots import BOTS
from crmsim.scenarios import SCENARIO_DIR, Scenario, ScenarioError, list_scenarios, load_scenario, scenario_from_dict
from crmsim.sim.decisions import DECISION_FIELDS, Decision, DecisionError, Problem, decision_from_dict, unknown_field_rule
from crmsim.sim.engine import check_adjustment, check_decision
from crmsim.sim.model import CRMModel
from crmsim.sim.preview import preview as engine_preview
from crmsim.web.models import Adjustment, Announcement, AuditEntry, DecisionRecord, Draft, Game, Snapshot, Team, utcnow

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6

# limits that validation enforces before the database sees a value, the same on SQLite and PostgreSQL
GAME_NAME_MAX = Game.__table__.c.name.type.length
TEAM_NAME_MAX = Team.__table__.c.name.type.length
SCENARIO_NAME_MAX = Game.__table__.c.scenario_name.type.length
REASON_MAX = Adjustment.__table__.c.reason.type.length
SEED_MAX = 2**31 - 1  # Game.seed is an INTEGER
PERIOD_MINUTES = (0.5, 24 * 60)
DEADLINE_MINUTES = (0, 24 * 60)
SCENARIO_TEXT_MAX = 64 * 1024
DEFAULT_SCENARIO = "classroom-v1"
BOT_SCOPES = ("absent", "all")  # seats no team joined, or every team seat
ANNOUNCEMENT_MAX = Announcement.__table__.c.text.type.length
SEEN_EVERY = timedelta(seconds=15)  # a team's last-seen time is written at most this often
PRACTICE_PERIOD = 0  # the unscored practice period a game may open with
PRACTICE_STREAM = 0x50524143  # "PRAC": the practice period's seed is drawn from the game's seed and this stream key
SERVER_FIELDS = ("late",)  # decision fields the server sets (a decision after the deadline is refused, never marked late)
TEAM_FIELDS = tuple(f for f in DECISION_FIELDS if f not in SERVER_FIELDS)  # the fields a team's decision may hold


class ServiceError(ValueError):
    """An action that is not allowed now (wrong state, wrong team, after the deadline)."""

    def __init__(self, field: str, rule: str, value: Any = None, status: int = 409):
        self.problem = Problem(field, rule, value)
        self.status = status
        super().__init__(str(self.problem))


def jsonable(obj: Any) -> Any:
    """Plain JSON: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ---------------------------------------------------------------------------
# the app's cache of rebuilt games

GameKey = tuple[str, int]  # (database URL, game id)
GameStamp = tuple[datetime, int]  # (the game row's creation time, its open period), as stored in the database


class GameCache:
    """The engine models of one app's games, rebuilt from their logs; one per app, on ``app.extensions``.

    Entries are keyed by database URL and game id, so two apps (or two databases) never share a game,
    and each entry keeps the stamp of the game row it was built from: a model is served only while
    the database still says the same game is at the same period, so a period resolved by another
    process or app (or a database restored from a backup) is noticed and the game rebuilt.
    """

    def __init__(self) -> None:
        self._models: dict[GameKey, tuple[GameStamp, CRMModel]] = {}
        self._resolving: dict[GameKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: GameKey, stamp: GameStamp) -> CRMModel | None:
        """The cached model if it was built from the game as the database stamps it now."""
        with self._lock:
            entry = self._models.get(key)
        return entry[1] if entry is not None and entry[0] == stamp else None

    def put(self, key: GameKey, stamp: GameStamp, model: CRMModel) -> None:
        with self._lock:
            self._models[key] = (stamp, model)

    def forget(self, key: GameKey) -> None:
        with self._lock:
            self._models.pop(key, None)

    def resolve_lock(self, key: GameKey) -> threading.Lock:
        """The lock that lets one of this app's threads at a time resolve the game."""
        with self._lock:
            return self._resolving.setdefault(key, threading.Lock())


GAME_CACHE = "game_cache"  # the key of the app's GameCache in app.extensions and in each session's ``info``


def game_cache(db: Session) -> GameCache:
    """The GameCache of the app whose session this is (a session made elsewhere gets a cache of its own)."""
    return db.info.setdefault(GAME_CACHE, GameCache())


def game_key(db: Session, game: Game) -> GameKey:
    return (str(db.get_bind().url), game.id)


def game_stamp(game: Game) -> GameStamp:
    """What the database says the cached model must match: the same game row, at the same period."""
    return (game.created_at, game.period)


def game_scenario(game: Game) -> Scenario:
    return scenario_from_dict(game.scenario_json, source=f"game {game.id}")


def practice_seed(seed: int) -> int:
    """The practice period's seed: drawn from the game's seed, so the practice shows nothing of period 1's draws."""
    return int(np.random.SeedSequence([int(seed), PRACTICE_STREAM]).generate_state(1)[0]) % (SEED_MAX + 1)


def rebuild(db: Session, game: Game) -> CRMModel:
    """The game's engine model after its last resolved period, rebuilt from the log (cached in the app).

    In the practice period (period 0) it is the practice game: the scenario's starting state drawn with
    :func:`practice_seed`, played for one period and then set aside; period 1 starts again from the scenario.
    """
    cache, key, stamp = game_cache(db), game_key(db, game), game_stamp(game)
    resolved = max(0, game.period - 1)
    model = cache.get(key, stamp)
    if model is not None and len(model.results) == resolved:  # not stepped by a resolution still in flight
        return model
    seed = practice_seed(game.seed) if game.period == PRACTICE_PERIOD else game.seed
    model = CRMModel(game_scenario(game), seed=seed)
    for team in game.teams:
        model.firm_agents[team.firm_index].recorded_label = team.bot or "team"
    for snap in snapshots(db, game) if game.period != PRACTICE_PERIOD else ():
        model.replay_period({"period": snap.period, "decisions": snap.engine_decisions, "adjustments": snap.adjustments})
    cache.put(key, stamp, model)
    return model


def verify_rebuild(db: Session, game: Game) -> list[int]:
    """Periods whose rebuilt results differ from the stored snapshot (empty: the log reproduces the game)."""
    game_cache(db).forget(game_key(db, game))
    model = rebuild(db, game)
    snaps = snapshots(db, game)
    return [s.period for s, r in zip(snaps, model.results) if jsonable(r.firm_rows) != s.firm_rows or jsonable(r.bid_rows()) != s.bid_rows]


# ---------------------------------------------------------------------------
# creating and joining


def new_join_code(db: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.scalar(select(Team.id).where(Team.join_code == code)) is None:
            return code


def catalogue_scenario(name: str) -> Scenario:
    """A shipped scenario by its catalogue name; anything else (a path, a file name) is refused unread."""
    if name not in list_scenarios():
        raise ServiceError("scenario", f"must be a scenario of the catalogue: {', '.join(list_scenarios())}", name[:SCENARIO_NAME_MAX], 400)
    return load_scenario(SCENARIO_DIR / f"{name}.toml")


def uploaded_scenario(text: str) -> Scenario:
    """A scenario file's text, pasted or uploaded by the instructor, validated as a scenario.

    It names itself (a new name, not a catalogue one) and may extend a catalogue
    scenario (``extends = "classroom-v1"``), stating only what differs; it never
    reads another file.
    """
    field = "scenario_toml"
    if len(text.encode("utf-8")) > SCENARIO_TEXT_MAX:
        raise ServiceError(field, f"must be at most {SCENARIO_TEXT_MAX} bytes", len(text.encode("utf-8")), 400)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServiceError(field, f"not valid TOML: {exc}", None, 400) from None
    name, parent = data.get("name"), data.pop("extends", None)
    if not isinstance(name, str):
        raise ServiceError(field, "name: an uploaded scenario needs its own name, e.g. name = \"my-class-v1\"", name, 400)
    if name in list_scenarios():
        raise ServiceError(field, f"name: {name} is a catalogue scenario; give the upload a name of its own", name, 400)
    if len(name) > SCENARIO_NAME_MAX:
        raise ServiceError(field, f"name: must have at most {SCENARIO_NAME_MAX} characters", len(name), 400)
    try:
        if parent is None:
            return scenario_from_dict(data, source="uploaded scenario")
        if not isinstance(parent, str) or parent not in list_scenarios():
            raise ServiceError(field, f"extends: must name a scenario of the catalogue: {', '.join(list_scenarios())}",
                               str(parent)[:SCENARIO_NAME_MAX], 400)
        return load_scenario(SCENARIO_DIR / f"{parent}.toml", overrides=dict(_dotted(data)))
    except ScenarioError as exc:
        raise scenario_text_error(field, exc.problems) from None


def scenario_text_error(field: str, problems: list[str]) -> ServiceError:
    """An invalid uploaded scenario's problems (``key: rule; got value``, as crmsim.scenarios words them) as one
    error on `field`: the rules (each with its key) and the values given, each said once."""
    rules, values = [], []
    for problem in problems:
        rule, sep, given = problem.rpartition("; got ")
        rules.append(rule if sep else problem)
        if sep:
            try:
                values.append(ast.literal_eval(given))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                values.append(given)
    value = values[0] if len(values) == 1 and len(problems) == 1 else values or None
    return ServiceError(field, "; ".join(rules), value, 400)


def _dotted(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """A TOML table as dotted keys: laid over a parent scenario, its tables merge key by key and its lists replace."""
    for key, value in table.items():
        if isinstance(value, Mapping) and value:
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def chosen_scenario(name: str | None, text: str | None) -> Scenario:
    """The scenario of a new game: a catalogue name, or an uploaded scenario's text (not both)."""
    if text is not None and text.strip():
        if name:
            raise ServiceError("scenario", "give a catalogue name or an uploaded scenario, not both", name[:SCENARIO_NAME_MAX], 400)
        return uploaded_scenario(text)
    return catalogue_scenario(DEFAULT_SCENARIO if name is None else name)


def check_name(field: str, name: str, limit: int) -> str:
    """A game or team name as stored: trimmed, not blank, at most `limit` characters."""
    if not isinstance(name, str) or not name.strip():
        raise ServiceError(field, "must not be blank", name, 400)
    if len(name.strip()) > limit:
        raise ServiceError(field, f"must have at most {limit} characters", len(name.strip()), 400)
    return name.strip()


def create_game(
    db: Session,
    scenario: str | Scenario,
    seed: int,
    name: str | None = None,
    team_names: list[str] | None = None,
    bots: dict[int, str] | None = None,
    period_minutes: float = 15.0,
    *,
    practice: bool = False,
    public: bool = False,
    auto_resolve: bool = False,
) -> Game:
    """A new game from a scenario (a catalogue name or a validated Scenario): one team (and join code) per firm
    seat; bot seats named in `bots`.

    Args:
        practice: open with the unscored practice period 0 (see :func:`rebuild`).
        public: list the game on the home page for anyone (default: only the instructor sees it listed).
        auto_resolve: the server resolves each period at its deadline (:func:`resolve_if_due`).
    """
    sc = scenario if isinstance(scenario, Scenario) else catalogue_scenario(scenario)
    if len(sc.name) > SCENARIO_NAME_MAX:
        raise ServiceError("scenario", f"name: must have at most {SCENARIO_NAME_MAX} characters", len(sc.name), 400)
    names = [check_name("teams", n, TEAM_NAME_MAX) for n in team_names or []]
    if len(names) > sc.firms.count:
        raise ServiceError("teams", f"at most {sc.firms.count} names: the scenario seats {sc.firms.count} teams", len(names), 400)
    names += list(sc.firms.firm_names())[len(names):]  # fewer names (e.g. the human teams only): the scenario's for the rest
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ServiceError("teams", "each team needs a name of its own", twice[0], 400)
    # the engine names its firms from the scenario: the game's copy names them as the class does (reports, scoreboard)
    sc = sc.model_copy(update={"firms": sc.firms.model_copy(update={"names": tuple(names)})})
    for i, b in (bots or {}).items():
        if not 0 <= i < sc.firms.count:
            raise ServiceError(f"bots.{i}", f"no such seat: the scenario seats {sc.firms.count} teams (0 to {sc.firms.count - 1})", i, 400)
        if b not in BOTS:
            raise ServiceError(f"bots.{i}", f"unknown bot; known: {', '.join(BOTS)}", b, 400)
    if not (0 <= int(seed) <= SEED_MAX):
        raise ServiceError("seed", "must be in [0, 2147483647]", seed, 400)
    if not (PERIOD_MINUTES[0] <= float(period_minutes) <= PERIOD_MINUTES[1]):
        raise ServiceError("period_minutes", "must be >= 0.5 and <= 1440", period_minutes, 400)
    game = Game(
        name=check_name("name", name, GAME_NAME_MAX) if name is not None else sc.title.en[:GAME_NAME_MAX],
        scenario_name=sc.name,
        scenario_json=sc.model_dump(mode="json"),
        seed=int(seed),
        status="open",
        period=PRACTICE_PERIOD if practice else 1,
        period_minutes=float(period_minutes),
        practice=bool(practice),
        public=bool(public),
        auto_resolve=bool(auto_resolve),
        deadline=utcnow() + timedelta(minutes=float(period_minutes)),
    )
    db.add(game)
    db.flush()
    if name is None:
        game.name = f"{sc.title.en[:GAME_NAME_MAX - 12]} #{game.id}"  # never the seed: it stays secret while the game runs
    for i, n in enumerate(names):
        db.add(Team(game_id=game.id, firm_index=i, name=n, join_code=new_join_code(db), bot=(bots or {}).get(i)))
    audit(db, game, "create", f"{sc.name}, seed {seed}")
    db.commit()
    return game


def team_by_code(db: Session, code: str) -> Team:
    team = db.scalar(select(Team).where(Team.join_code == code.strip().upper()))
    if team is None:
        raise ServiceError("code", "no team has this join code", code, 404)
    if team.bot:
        raise ServiceError("code", "this seat is played by a bot", code, 409)
    if team.joined_at is None:
        team.joined_at = utcnow()
        db.commit()
    return team


def audit(db: Session, game: Game, action: str, detail: str = "", public: bool = True) -> None:
    db.add(AuditEntry(game_id=game.id, period=game.period, action=action, detail=detail, is_public=public))


# ---------------------------------------------------------------------------
# the clock


def seconds_left(game: Game, now: datetime | None = None) -> float | None:
    if game.status == "paused":
        return game.paused_seconds_left
    if game.status != "open" or game.deadline is None:
        return None
    return (game.deadline - (now or utcnow())).total_seconds()


def is_past_deadline(game: Game, now: datetime | None = None) -> bool:
    left = seconds_left(game, now)
    return game.status == "open" and left is not None and left <= 0


def set_deadline(db: Session, game: Game, minutes_from_now: float) -> None:
    _require_running(game)
    if not (DEADLINE_MINUTES[0] <= minutes_from_now <= DEADLINE_MINUTES[1]):
        raise ServiceError("minutes", "must be >= 0 and <= 1440", minutes_from_now, 400)
    if game.status == "paused":
        game.paused_seconds_left = minutes_from_now * 60
    else:
        game.deadline = utcnow() + timedelta(minutes=minutes_from_now)
    game.version += 1
    audit(db, game, "deadline", f"{minutes_from_now:g} min from now")
    db.commit()


def extend_deadline(db: Session, game: Game, minutes: float) -> None:
    left = seconds_left(game) or 0.0
    set_deadline(db, game, max(0.0, left) / 60 + minutes)


def pause(db: Session, game: Game) -> None:
    if game.status != "open":
        raise ServiceError("status", "only an open period can be paused", game.status)
    game.paused_seconds_left = max(0.0, seconds_left(game) or 0.0)
    game.status = "paused"
    game.version += 1
    audit(db, game, "pause")
    db.commit()


def resume(db: Session, game: Game) -> None:
    if game.status != "paused":
        raise ServiceError("status", "only a paused game can resume", game.status)
    game.deadline = utcnow() + timedelta(seconds=game.paused_seconds_left or 0.0)
    game.paused_seconds_left = None
    game.status = "open"
    game.version += 1
    audit(db, game, "resume")
    db.commit()


def _require_running(game: Game) -> None:
    if game.status == "finished":
        raise ServiceError("status", "the game is finished", game.status)


# ---------------------------------------------------------------------------
# decisions


def team_submissions(db: Session, game: Game, period: int | None = None) -> list[DecisionRecord]:
    """Every decision the teams submitted for the period (default: the open one), oldest first; rolled-back ones left out."""
    period = game.period if period is None else period
    return list(db.scalars(
        select(DecisionRecord)
        .where(DecisionRecord.game_id == game.id, DecisionRecord.period == period, DecisionRecord.source != "engine",
               DecisionRecord.rolled_back_at.is_(None))
        .order_by(DecisionRecord.id)
    ).all())


def latest_decisions(db: Session, game: Game, period: int | None = None) -> dict[int, DecisionRecord]:
    """The last submitted decision of each team for the period."""
    return {r.firm_index: r for r in team_submissions(db, game, period)}


def check_team_decision(state: Any, firm: int, raw: Mapping[str, Any]) -> Decision:
    """The engine's validation of a team's decision, and one rule of the server's: a team never sets
    SERVER_FIELDS. Every problem is reported at once.

    Raises:
        DecisionError: listing every problem; nothing is stored.
    """
    refused = [Problem(f, "is set by the server, never by a team", raw[f]) for f in SERVER_FIELDS if f in raw]
    try:
        decision = check_decision(state, firm, {k: v for k, v in raw.items() if k not in SERVER_FIELDS})
    except DecisionError as exc:
        engine_rule, team_rule = unknown_field_rule(DECISION_FIELDS), unknown_field_rule(TEAM_FIELDS)
        problems = [Problem(p.field, team_rule, p.value) if p.rule == engine_rule else p for p in exc.problems]
        raise DecisionError(refused + problems, exc.firm) from None
    if refused:
        raise DecisionError(refused)
    return decision


def closed_period_rule(period: int) -> str:
    """The refusal of a decision made for a period that has since been resolved (a stale form)."""
    return f"period {period} is closed: reload"


def period_mismatch_rule(period: int, open_period: int, started: bool = True) -> str:
    """The refusal of a decision made for a period other than the open one: an earlier period has been resolved
    since the form was made; a later one has been rolled back since (the instructor's 回退) or, when it never
    `started`, is still to come."""
    if period < open_period:
        return closed_period_rule(period)
    if not started:
        return f"period {period} has not started: period {open_period} is open"
    return f"period {period} was rolled back: period {open_period} is open again; reload"


def period_mismatch(db: Session, game: Game, period: int) -> str:
    """:func:`period_mismatch_rule` for `game`: a later period started if a resolution ever opened it (the audit
    log keeps each resolution, under the period it opened, rolled back or not)."""
    started = period <= game.period or db.scalar(
        select(AuditEntry.id).where(AuditEntry.game_id == game.id, AuditEntry.action == "resolve",
                                    AuditEntry.period == period).limit(1)) is not None
    return period_mismatch_rule(period, game.period, started)


def submit_decision(db: Session, game: Game, team: Team, raw: dict[str, Any], source: str = "form",
                    period: int | None = None) -> Decision:
    """Validate and append a team's decision for the open period (a later one replaces it).

    Args:
        period: the period the team decided for (the form carries it); a decision for any other period
            than the open one is refused, so a form left open across a resolution never lands in the next
            period (its hires applied twice, its bids late).

    Raises:
        DecisionError: every problem with the values; nothing is stored.
        ServiceError: the game is not open, the deadline has passed or `period` is not the open period.
    """
    if team.game_id != game.id:
        raise ServiceError("team", "belongs to another game", team.name, 403)
    if team.bot:
        raise ServiceError("team", "this seat is played by a bot", team.name, 409)
    if period is not None and period != game.period:
        raise ServiceError("period", period_mismatch(db, game, period), period, 409)
    _require_running(game)
    if game.status == "paused":
        raise ServiceError("status", "the game is paused; submit when the instructor resumes", game.status)
    if is_past_deadline(game):
        raise ServiceError("deadline", "the deadline for this period has passed", game.deadline.isoformat() + "Z")
    period = game.period if period is None else period
    model = rebuild(db, game)
    decision = check_team_decision(model.state, team.firm_index, raw)
    # atomic: only while this period is still open (a resolution holds the game row until it commits)
    bumped = db.execute(
        update(Game)
        .where(Game.id == game.id, Game.period == period, Game.status == "open")
        .values(version=Game.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if bumped != 1:
        db.rollback()
        db.refresh(game)
        if game.period != period:
            raise ServiceError("period", period_mismatch(db, game, period), period)
        raise ServiceError("period", "was just resolved or paused; submit for the period that is open now", period)
    db.add(DecisionRecord(game_id=game.id, firm_index=team.firm_index, period=period, payload=jsonable(decision.to_dict()), source=source))
    db.query(Draft).filter_by(game_id=game.id, firm_index=team.firm_index, period=period).delete()
    db.commit()
    db.refresh(game)
    return decision


def preview(db: Session, game: Game, team: Team, raw: dict[str, Any]) -> dict[str, Any]:
    """Decision support for a team's draft, stored nowhere: the engine's :func:`crmsim.sim.preview.preview`
    (bid checks with their limits, the rules that depend on the other bids, costs, the projection, warnings)
    as JSON, with ``ok`` (the draft would be accepted), its ``problems`` as the submit reports them and its
    planned ``costs``. A finished game or a bankrupt firm has nothing to preview (``ok`` false, a problem)."""
    model = rebuild(db, game)
    server = [Problem(f, "is set by the server, never by a team", raw[f]) for f in SERVER_FIELDS if f in raw]
    draft = {k: v for k, v in raw.items() if k not in SERVER_FIELDS}
    firm = team.firm_index
    try:
        p = engine_preview(model.state, firm, draft, own_last=model.results[-1].firm_rows[firm] if model.results else None,
                           research=model.results[-1].research.get(firm) if model.results else None)
    except ValueError as exc:
        return {"ok": False, "period": game.period, "problems": [problem_json(Problem("status", str(exc), game.status))]}
    out = p.to_dict()
    problems = server + [Problem(n.params["field"], n.params["rule"], n.params["value"]) for n in p.problems]
    out.update(ok=not problems, problems=[problem_json(x) for x in problems], costs=out["costs"])
    return jsonable(out)


def save_draft(db: Session, game: Game, team: Team, raw: dict[str, Any], max_bytes: int | None = None) -> None:
    """Keep a team's unsubmitted form (any JSON object, at most `max_bytes` as JSON); it is not validated."""
    if max_bytes is not None:
        size = len(json.dumps(raw).encode("utf-8"))
        if size > max_bytes:
            raise ServiceError("draft", f"a draft must be at most {max_bytes} bytes of JSON", size, 413)
    draft = db.scalar(select(Draft).filter_by(game_id=game.id, firm_index=team.firm_index, period=game.period))
    if draft is None:
        db.add(Draft(game_id=game.id, firm_index=team.firm_index, period=game.period, payload=jsonable(raw)))
    else:
        draft.payload = jsonable(raw)
    db.commit()


def load_draft(db: Session, game: Game, team: Team) -> dict[str, Any] | None:
    draft = db.scalar(select(Draft).filter_by(game_id=game.id, firm_index=team.firm_index, period=game.period))
    return draft.payload if draft else None


def problem_json(p: Problem) -> dict[str, Any]:
    return {"field": p.field, "rule": p.rule, "value": jsonable(p.value) if isinstance(p.value, (int, float, str, bool, type(None), list, dict)) else repr(p.value), "message": str(p)}


# ---------------------------------------------------------------------------
# instructor actions


def add_adjustment(db: Session, game: Game, firm: int, amount: float, reason: str) -> None:
    _require_running(game)
    try:
        amount = check_adjustment(rebuild(db, game).state, firm, amount)
    except ValueError as exc:
        name, _, rule = str(exc).partition(": ")
        raise ServiceError(name, rule.rsplit("; got ", 1)[0], amount if name == "amount" else firm, 400) from None
    if not isinstance(reason, str) or not reason.strip():
        raise ServiceError("reason", "must say why (it is shown in the debrief)", reason, 400)
    if len(reason.strip()) > REASON_MAX:
        raise ServiceError("reason", f"must have at most {REASON_MAX} characters", len(reason.strip()), 400)
    db.add(Adjustment(game_id=game.id, firm_index=firm, period=game.period, amount=float(amount), reason=reason.strip()))
    audit(db, game, "adjustment", f"firm {firm}: {amount:+.0f} ({reason.strip()[:120]})")
    game.version += 1
    db.commit()


def only_absent_seats(scope: str) -> bool:
    """A bots request's scope: "absent" (seats no team joined) or "all" (every team seat); anything else is refused."""
    if scope not in BOT_SCOPES:
        raise ServiceError("scope", "must be absent (seats no team joined) or all (every team seat)", scope, 400)
    return scope == "absent"


def fill_with_bots(db: Session, game: Game, bot: str = "balanced", only_absent: bool = True) -> list[int]:
    """Give every seat no team has joined (or every human seat) to a bot; returns the firms filled."""
    if not isinstance(bot, str) or bot not in BOTS:
        raise ServiceError("bot", f"unknown bot; known: {', '.join(BOTS)}", bot, 400)
    filled = []
    for t in game.teams:
        if t.bot is None and (t.joined_at is None or not only_absent):
            t.bot = bot
            filled.append(t.firm_index)
    audit(db, game, "bots", f"{bot} fills seats {filled}")
    game.version += 1
    db.commit()
    return filled


@dataclass
class Resolution:
    period: int
    seconds: float
    finished: bool


def lock_game(db: Session, game: Game) -> None:
    """Hold the game's row until the transaction ends (SELECT FOR UPDATE; on SQLite, a write transaction)."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(update(Game).where(Game.id == game.id).values(version=Game.version).execution_options(synchronize_session=False))
    else:
        db.execute(select(Game.id).where(Game.id == game.id).with_for_update())
    db.refresh(game)


def resolve(db: Session, game: Game, expected_period: int | None = None) -> Resolution:
    """Close the open period: absent teams keep standing decisions, bots decide, the engine resolves.

    The snapshot, the decisions passed to the engine and the period advance are
    committed in one transaction; the unique (game, period) snapshot makes a
    second, concurrent resolution fail instead of resolving twice.
    """
    _require_running(game)
    cache, key = game_cache(db), game_key(db, game)
    with cache.resolve_lock(key):
        db.commit()  # end any read transaction, then take the row lock for the whole resolution
        lock_game(db, game)
        _require_running(game)
        if expected_period is not None and game.period != expected_period:
            db.rollback()
            raise ServiceError("period", "was already resolved", expected_period)
        try:
            return _resolve(db, game)
        except Exception:
            cache.forget(key)  # the cached model may have stepped past what the database holds
            raise


def _resolve(db: Session, game: Game) -> Resolution:
    t0 = time.perf_counter()
    period = game.period
    cache, key = game_cache(db), game_key(db, game)
    model = rebuild(db, game)
    submitted = latest_decisions(db, game, period)
    for firm, rec in submitted.items():
        if not model.state.firms[firm].bankrupt:
            model.pending[firm] = decision_from_dict(rec.payload)
    for t in game.teams:
        agent = model.firm_agents[t.firm_index]
        agent.strategy = BOTS[t.bot]() if t.bot else None
    adjustments = db.scalars(select(Adjustment).where(Adjustment.game_id == game.id, Adjustment.period == period)).all()
    for a in adjustments:
        if not model.state.firms[a.firm_index].bankrupt:
            model.adjust(a.firm_index, a.amount)
    model.step()
    result = model.results[-1]
    entry = model.log_periods[-1]
    seconds = time.perf_counter() - t0
    db.add(
        Snapshot(
            game_id=game.id,
            period=period,
            engine_decisions=entry["decisions"],
            adjustments=entry.get("adjustments", {}),
            firm_rows=jsonable(result.firm_rows),
            bid_rows=jsonable(result.bid_rows()),
            tender_rows=jsonable(result.tender_rows()),
            relationship_rows=jsonable(result.relationship_rows),
            events=jsonable(result.events),
            market=jsonable(result.market),
            resolve_seconds=seconds,
        )
    )
    for firm, d in entry["decisions"].items():
        if int(firm) not in submitted:
            db.add(DecisionRecord(game_id=game.id, firm_index=int(firm), period=period, payload=d, source="engine"))
    finished = model.finished and period != PRACTICE_PERIOD
    game.period = period + 1
    game.status = "finished" if finished else "open"
    game.deadline = None if finished else utcnow() + timedelta(minutes=game.period_minutes)
    game.paused_seconds_left = None
    game.version += 1
    audit(db, game, "resolve", f"period {period} resolved in {seconds:.2f} s" + (" (practice, not scored)" if period == PRACTICE_PERIOD else ""))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        cache.forget(key)
        raise ServiceError("period", "was resolved by another request", period) from None
    if period == PRACTICE_PERIOD:
        cache.forget(key)  # period 1 starts again from the scenario
    else:
        cache.put(key, game_stamp(game), model)  # the stepped model is the game as now committed
    return Resolution(period, seconds, finished)


# ---------------------------------------------------------------------------
# reading results


def snapshots(db: Session, game: Game) -> list[Snapshot]:
    """The scored periods' published results, in order (the practice period's is :func:`practice_snapshot`)."""
    return list(db.scalars(select(Snapshot).where(Snapshot.game_id == game.id, Snapshot.period > PRACTICE_PERIOD)
                           .order_by(Snapshot.period)).all())


def practice_snapshot(db: Session, game: Game) -> Snapshot | None:
    """The practice period's published results (not scored), if the game had one and it was resolved."""
    return db.scalar(select(Snapshot).where(Snapshot.game_id == game.id, Snapshot.period == PRACTICE_PERIOD))


def iso(t: datetime | None) -> str | None:
    return t.isoformat() + "Z" if t is not None else None


def bankrupt_firms(db: Session, game: Game) -> set[int]:
    """Firms bankrupt in the last published period (they decide nothing more)."""
    last = db.scalar(select(Snapshot).where(Snapshot.game_id == game.id).order_by(Snapshot.period.desc()).limit(1))
    return {r["firm"] for r in last.firm_rows if r.get("bankrupt")} if last is not None and last.period > PRACTICE_PERIOD else set()


def submission_status(db: Session, game: Game) -> dict[int, dict[str, Any]]:
    """The live submission monitor: per seat, who joined and when, who submitted (how often, last when), when
    the team was last seen, and whether the resolution still waits for it (`missing`)."""
    submitted = team_submissions(db, game)
    latest = {r.firm_index: r for r in submitted}
    counts = Counter(r.firm_index for r in submitted)
    bankrupt = bankrupt_firms(db, game)
    return {
        t.firm_index: {
            "team": t.name,
            "bot": t.bot,
            "joined": t.joined_at is not None,
            "joined_at": iso(t.joined_at),
            "last_seen": iso(t.last_seen_at),
            "submitted": t.firm_index in latest,
            "submissions": counts.get(t.firm_index, 0),
            "at": iso(latest[t.firm_index].created_at) if t.firm_index in latest else None,
            "bankrupt": t.firm_index in bankrupt,
            "missing": game.status != "finished" and not t.bot and t.firm_index not in latest and t.firm_index not in bankrupt,
        }
        for t in game.teams
    }


def missing_teams(db: Session, game: Game) -> list[Team]:
    """Team seats (not bots, not bankrupt) with no decision for the open period: resolving now gives them their
    standing decision and no bids."""
    status = submission_status(db, game)
    return [t for t in game.teams if status[t.firm_index]["missing"]]


# ---------------------------------------------------------------------------
# the console: last seen, rollback, announcements, visibility, automatic resolve


def record_seen(db: Session, team: Team) -> None:
    """Note that the team was just seen (a signed-in request), at most once every SEEN_EVERY.

    Best effort: a database that refuses the write (read-only, full) leaves the time as it was, and the
    request goes on to meet the same fault where it matters."""
    now = utcnow()
    if team.last_seen_at is not None and team.last_seen_at >= now - SEEN_EVERY:
        return
    try:
        db.execute(
            update(Team)
            .where(Team.id == team.id, (Team.last_seen_at.is_(None)) | (Team.last_seen_at < now - SEEN_EVERY))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.commit()
    except (DBAPIError, OSError):
        db.rollback()


def rollback(db: Session, game: Game, expected_period: int | None = None) -> int:
    """Roll back (回退) the last resolved period: its published results are withdrawn and the period opens again.

    The decision log keeps everything: the teams' submissions for the period stand (a re-resolve uses them, so
    resolving again without changes gives the same result), the standing and bot decisions the resolution
    added are marked rolled back, and so are submissions already made for the period after it (they were made
    on results that are withdrawn; the teams submit again). Adjustments stay booked for the period. The audit
    log records what was rolled back.

    Args:
        expected_period: the period to roll back (the last resolved one); another value is refused, so a
            repeated request cannot roll back twice.

    Returns:
        The period open again.
    """
    cache, key = game_cache(db), game_key(db, game)
    with cache.resolve_lock(key):
        db.commit()
        lock_game(db, game)
        last = db.scalar(select(Snapshot).where(Snapshot.game_id == game.id).order_by(Snapshot.period.desc()).limit(1))
        if last is None:
            db.rollback()
            raise ServiceError("period", "no period has been resolved yet: nothing to roll back", None)
        if expected_period is not None and expected_period != last.period:
            db.rollback()
            raise ServiceError("period", f"is not the last resolved period ({last.period})", expected_period)
        now = utcnow()
        top = min(last.firm_rows, key=lambda r: r["rank"]) if last.firm_rows else None
        db.execute(
            update(DecisionRecord)
            .where(DecisionRecord.game_id == game.id, DecisionRecord.rolled_back_at.is_(None),
                   ((DecisionRecord.period == last.period) & (DecisionRecord.source == "engine")) | (DecisionRecord.period > last.period))
            .values(rolled_back_at=now)
            .execution_options(synchronize_session=False)
        )
        db.query(Draft).filter(Draft.game_id == game.id, Draft.period > last.period).delete(synchronize_session=False)
        db.delete(last)
        game.period = last.period
        game.status = "open"
        game.deadline = now + timedelta(minutes=game.period_minutes)
        game.paused_seconds_left = None
        game.version += 1
        audit(db, game, "rollback", f"period {last.period} rolled back (was resolved at {iso(last.created_at)}"
                                    + (f", leader {top['name']}, score {top['score']:.1f}" if top else "") + ")")
        db.commit()
        cache.forget(key)
    return game.period


def announce(db: Session, game: Game, text: str, firm: int | None = None) -> Announcement:
    """An announcement to every team (`firm` None) or to one; shown on the team page."""
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("text", "must not be blank", text, 400)
    if len(text.strip()) > ANNOUNCEMENT_MAX:
        raise ServiceError("text", f"must have at most {ANNOUNCEMENT_MAX} characters", len(text.strip()), 400)
    if firm is not None and not any(t.firm_index == firm for t in game.teams):
        raise ServiceError("firm", f"no such seat: the game seats {len(game.teams)} teams (0 to {len(game.teams) - 1})", firm, 400)
    note = Announcement(game_id=game.id, firm_index=firm, period=game.period, text=text.strip(), created_at=utcnow())
    db.add(note)
    audit(db, game, "announce", f"{'all teams' if firm is None else f'firm {firm}'}: {text.strip()[:120]}", public=False)
    game.version += 1
    db.commit()
    return note


def announcements_for(db: Session, game: Game, firm: int | None = None) -> list[Announcement]:
    """Announcements a team sees (to everyone, and to its own seat), newest first; `firm` None: every one."""
    q = select(Announcement).where(Announcement.game_id == game.id)
    if firm is not None:
        q = q.where((Announcement.firm_index.is_(None)) | (Announcement.firm_index == firm))
    return list(db.scalars(q.order_by(Announcement.id.desc())).all())


def set_options(db: Session, game: Game, public: bool | None = None, auto_resolve: bool | None = None) -> None:
    """List the game publicly (home page) or not; resolve each period automatically at its deadline or not."""
    changed = []
    if public is not None and bool(public) != game.public:
        game.public = bool(public)
        changed.append(f"public={game.public}")
    if auto_resolve is not None and bool(auto_resolve) != game.auto_resolve:
        game.auto_resolve = bool(auto_resolve)
        changed.append(f"auto_resolve={game.auto_resolve}")
    if changed:
        audit(db, game, "options", ", ".join(changed), public=False)
        game.version += 1
    db.commit()


def resolve_if_due(db: Session, game: Game) -> Resolution | None:
    """The automatic resolve: if the game resolves at its deadline and the open period's deadline has passed,
    resolve that period now.

    Any request may call this (the version poll of every live page does, see docs/deploy.md): the resolution
    holds the game's row (:func:`lock_game`) and names the period it expects, so when several requests or
    processes find it due at once, one resolves and the others find the period already resolved. Nothing runs
    in the background, so a restart loses nothing: the next request after the deadline resolves.
    """
    if not game.auto_resolve or not is_past_deadline(game):
        return None
    try:
        r = resolve(db, game, expected_period=game.period)
    except ServiceError:  # another request or process resolved it first, or the game changed meanwhile
        db.rollback()
        db.refresh(game)
        return None
    audit(db, game, "auto-resolve", f"period {r.period} resolved at its deadline")
    db.commit()
    return r


# ---------------------------------------------------------------------------
# the debrief's counterfactuals (crmsim.sim.counterfactual): only what is public, or the asking team's own


def what_if_bid(db: Session, game: Game, firm: int, period: int | None, tender: str, price: float, promised_service: float) -> dict[str, Any]:
    """Re-score a published tender of a resolved period with `firm`'s bid at `price` and `promised_service`
    (:func:`crmsim.sim.counterfactual.rescore_tender`): who would have won, and by how many points.

    It reads the tender's published outcome (every bid is public after the award) and the firm's own
    relationship with the client before that period when its bid was not scored; nothing of another firm's
    that is not public.

    Args:
        period: the period that awarded it (None: the last resolved period that did).

    Raises:
        ServiceError: the period is not resolved (400), no resolved period awarded the tender (404), or the
            engine needs what the firm's own records do not give (named).
    """
    from crmsim.sim.counterfactual import rescore_tender

    model = rebuild(db, game)
    if period is not None and not 1 <= period <= len(model.results):
        raise ServiceError("period", f"must be a resolved period, 1 to {len(model.results)}", period, 400)
    awarded = [(r.period, o) for r in model.results for o in r.tenders if o.tender.id == tender and (period is None or r.period == period)]
    if not awarded:
        raise ServiceError("tender", "no resolved period awarded this tender (bids are public only after the award)", tender, 404)
    period, outcome = awarded[-1]
    if not 0 <= firm < len(model.state.firms):
        raise ServiceError("firm", f"must be a seat, 0 to {len(model.state.firms) - 1}", firm, 400)
    for name, value, low, high in (("price", price, 0.0, math.inf), ("promised_service", promised_service, 0.0, 1.0)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
            raise ServiceError(name, f"must be a number in [{low:g}, {high:g}]" if math.isfinite(high) else "must be a number >= 0", value, 400)
    k = model.scenario.client_ids.index(outcome.tender.client)
    if period > 1:
        before = next(r for r in model.results[period - 2].relationship_rows if r["firm"] == firm and r["client"] == outcome.tender.client)
        relationship = float(before["relationship"])
    else:
        relationship = float(initial_relationships(game)[firm, k])
    try:
        r = rescore_tender(outcome, None, firm, float(price), float(promised_service), model.scenario, relationship=relationship)
    except ValueError as exc:
        name, _, rule = str(exc).partition(": ")
        raise ServiceError(name if name in ("relationship", "stage") else "tender", rule or str(exc), tender, 400) from None
    return jsonable(r.to_dict())


def initial_relationships(game: Game) -> Any:
    """The firms' relationships with the key clients before period 1 (the scenario's starting state)."""
    from crmsim.sim.engine import initial_state

    return initial_state(game_scenario(game), game.seed).relationship


def replay_change(db: Session, game: Game, firm: int, period: int, change: dict[str, Any]) -> dict[str, Any]:
    """Replay the finished game with `firm`'s decision in `period` changed
    (:func:`crmsim.sim.counterfactual.replay_with_change`): the final standings side by side with the real ones.

    Raises:
        ServiceError: the game is not finished (the rest of the game is not public before), or the period or
            firm is not in it.
        DecisionError: the changed decision breaks a rule (every problem named).
    """
    from crmsim.sim.counterfactual import replay_with_change

    if game.status != "finished":
        raise ServiceError("status", "a replay is possible once the game is finished: the rest of the game is not public before",
                           game.status)
    if not isinstance(change, dict) or not change:
        raise ServiceError("change", "must name at least one decision field to change", change, 400)
    model = rebuild(db, game)
    try:
        replay = replay_with_change(model.decision_log(), period, firm, change)
    except ValueError as exc:
        if isinstance(exc, DecisionError):
            raise
        name, _, rule = str(exc).partition(": ")
        rule = (rule or str(exc)).rsplit("; got ", 1)[0]  # the value is the error's own, not a second "got"
        raise ServiceError(name if name in ("period", "firm") else "change", rule, period, 400) from None
    return jsonable(replay.to_dict())
