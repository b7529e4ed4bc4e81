"""The classroom as the hostile-input suite and the access matrix see it: callers, secrets, stored state, a tally.

Not a test module: tests import it with ``from probe import ...`` after putting
this folder on ``sys.path`` (as they do with server.py).

- :class:`Classroom` sets up two games and signs in every kind of caller: team A
  and team B (game 1), another game's team (game 2), the instructor, and an
  anonymous visitor, each with a browser session (cookie) and an API token.
- :func:`stored_state` is the database as a comparable value: a refused request
  must leave it unchanged.
- :func:`rule_violations` lists what an accepted request must never leave behind
  (the rules that validation enforces, checked on the stored rows).
- :data:`TALLY` counts requests, 5xx answers, wrong accepts and leaks; the
  conftest prints it at the end of a run (the README's security figure).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

PASSWORD = "secret-pass"  # the conftest's INSTRUCTOR_PASSWORD
ROLES = ("team_a", "team_b", "other_game_team", "instructor", "anonymous")


@dataclass
class Tally:
    """What the security suite tried and found, summed over the tests that ran in this process."""

    requests: int = 0
    server_errors: int = 0
    wrong_accepts: int = 0
    leaks: int = 0
    cells: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: dict[str, Any] | None) -> None:
        """Add another process's tally (an xdist worker's, as a dict)."""
        for key, value in (other or {}).items():
            setattr(self, key, getattr(self, key) + value)

    def line(self) -> str:
        return (f"security suite: {self.requests} requests tried, {self.server_errors} responses >= 500, "
                f"{self.wrong_accepts} wrong accepts, {self.leaks} leaks in {self.cells} access-matrix cells")


TALLY = Tally()


@dataclass
class Caller:
    """One kind of visitor: a browser session and, if signed in, an API token."""

    role: str
    browser: FlaskClient
    token: str | None = None

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class Classroom:
    """Two running games and a caller of every kind, with the secrets each may or may not see."""

    app: Flask
    game: int
    other_game: int
    callers: dict[str, Caller]
    join_codes: dict[str, str]  # role -> its team's join code
    all_codes: list[str]
    seed: int
    markers: dict[str, str]  # role -> a value only that team (and the instructor) may see

    @classmethod
    def open(cls, app: Flask, seed: int = 918_273) -> Classroom:
        """Create the games, join the teams and sign the instructor in (rate limits and CSRF are off in tests)."""
        from crmsim.web.db import get_db
        from crmsim.web.service import create_game

        with app.app_context():
            g1 = create_game(get_db(), "classroom-v1", seed=seed, name="Game one", period_minutes=30)
            g2 = create_game(get_db(), "classroom-v1", seed=seed + 1, name="Game two", period_minutes=30)
            codes1 = {t.firm_index: t.join_code for t in g1.teams}
            codes2 = {t.firm_index: t.join_code for t in g2.teams}
            game, other = g1.id, g2.id
        join_codes = {"team_a": codes1[0], "team_b": codes1[1], "other_game_team": codes2[0]}
        callers = {}
        for role, code in join_codes.items():
            browser = app.test_client()
            assert browser.post("/join", data={"code": code}).status_code == 302
            r = app.test_client().post("/api/join", json={"code": code})
            assert r.status_code == 200, r.get_json()
            callers[role] = Caller(role, browser, r.get_json()["token"])
        inst = app.test_client()
        assert inst.post("/login", data={"password": PASSWORD}).status_code == 302
        r = app.test_client().post("/api/login", json={"password": PASSWORD})
        callers["instructor"] = Caller("instructor", inst, r.get_json()["token"])
        callers["anonymous"] = Caller("anonymous", app.test_client())
        room = cls(app, game, other, callers, join_codes, [*codes1.values(), *codes2.values()], seed,
                   markers={"team_a": "43210.125", "team_b": "76543.875", "other_game_team": "31415.5"})
        room.plant_secrets()
        return room

    def plant_secrets(self) -> None:
        """Each team submits a decision whose care budget no one else may see, and saves a draft."""
        for role, marker in self.markers.items():
            c = self.callers[role]
            gid = self.game if role != "other_game_team" else self.other_game
            r = c.browser.post(f"/api/games/{gid}/decision", json={"care_budget": float(marker)}, headers=c.bearer)
            assert r.status_code == 200, r.get_json()
            assert c.browser.put("/api/team/draft", json={"note": f"draft-{marker}"}, headers=c.bearer).status_code == 200

    def secrets_hidden_from(self, role: str, game_running: bool = True) -> list[str]:
        """Strings the role must never receive: rivals' decisions and drafts, join codes, tokens, the running game's seed."""
        hidden = [m for r, m in self.markers.items() if r != role and role != "instructor"]
        hidden += [f"draft-{m}" for r, m in self.markers.items() if r != role]
        if role != "instructor":
            own = self.join_codes.get(role)
            hidden += [code for code in self.all_codes if code != own]
            if game_running:
                hidden.append(str(self.seed))
        hidden += [c.token for r, c in self.callers.items() if c.token and r != role]
        return hidden


# ---------------------------------------------------------------------------
# the stored state


def stored_state(app: Flask) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: what a refused request must leave unchanged."""
    from crmsim.web.db import get_db
    from crmsim.web.models import Base

    out = {}
    with app.app_context():
        db = get_db()
        for table in Base.metadata.sorted_tables:
            rows = db.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(json.dumps(v, sort_keys=True, default=str) for v in row) for row in rows]
    return out


def rule_violations(app: Flask) -> list[str]:
    """What no accepted request may store: the limits and rules that validation enforces, read back from the rows."""
    from crmsim.agents.bots import BOTS
    from crmsim.sim.decisions import DECISION_FIELDS
    from crmsim.web.db import get_db
    from crmsim.web.models import Adjustment, DecisionRecord, Draft, Game

    found = []
    with app.app_context():
        db = get_db()
        draft_limit = app.config["DRAFT_MAX_BYTES"]
        for g in db.scalars(select(Game)):
            if not (0 < len(g.name) <= 120 and g.name.strip()) or "\x00" in g.name:
                found.append(f"game {g.id}: name {g.name[:40]!r} ({len(g.name)} characters)")
            if not (0 <= g.seed < 2**31) or not (0.5 <= g.period_minutes <= 1440) or g.status not in ("open", "paused", "finished"):
                found.append(f"game {g.id}: seed {g.seed}, minutes {g.period_minutes}, status {g.status}")
            if len(g.scenario_name) > 80:
                found.append(f"game {g.id}: scenario name of {len(g.scenario_name)} characters")
            firms = len(g.teams)
            for t in g.teams:
                if not (0 < len(t.name) <= 80 and t.name.strip()) or "\x00" in t.name:
                    found.append(f"team {t.id}: name {t.name[:40]!r}")
                if t.bot is not None and t.bot not in BOTS:
                    found.append(f"team {t.id}: bot {t.bot!r}")
                if not 0 <= t.firm_index < firms:
                    found.append(f"team {t.id}: firm {t.firm_index}")
        for d in db.scalars(select(DecisionRecord)):
            extra = set(d.payload) - set(DECISION_FIELDS)
            if extra or (d.source != "engine" and d.payload.get("late")):
                found.append(f"decision {d.id}: fields {sorted(extra)}, late {d.payload.get('late')}")
        for d in db.scalars(select(Draft)):
            size = len(json.dumps(d.payload))
            if size > draft_limit:
                found.append(f"draft {d.id}: {size} bytes")
        for a in db.scalars(select(Adjustment)):
            if not (math.isfinite(a.amount) and abs(a.amount) <= 1e9 and a.reason.strip() and len(a.reason) <= 200):
                found.append(f"adjustment {a.id}: {a.amount}, {a.reason[:40]!r}")
    return found


# ---------------------------------------------------------------------------
# sending a request and judging the answer


def send(client: FlaskClient, method: str, path: str, *, json_body: Any = None, raw: bytes | None = None,
         form: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    """One request, counted in the tally; a 5xx is recorded with what caused it."""
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    elif json_body is not None:
        kwargs["data"] = json.dumps(json_body)  # Infinity and NaN as Python writes them
        kwargs["content_type"] = "application/json"
    elif form is not None:
        kwargs["data"] = form
    r = getattr(client, method.lower())(path, **kwargs)
    TALLY.requests += 1
    if r.status_code >= 500:
        TALLY.server_errors += 1
        TALLY.problems.append(f"{method} {path} -> {r.status_code}: {str(json_body or raw or form)[:200]}")
    return r


def judge(app: Flask, before: dict[str, list[tuple]], response, what: str) -> list[str]:
    """Problems with one answer: a 5xx, a refusal that changed the stored state, an acceptance that broke a rule."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"{what}: {response.status_code}")
    elif response.status_code >= 400:
        if stored_state(app) != before:
            TALLY.wrong_accepts += 1
            problems.append(f"{what}: refused with {response.status_code} but the stored state changed")
    else:
        broken = rule_violations(app)
        if broken:
            TALLY.wrong_accepts += 1
            problems.append(f"{what}: accepted with {response.status_code} and stored {broken}")
    return problems
