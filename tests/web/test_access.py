"""The access matrix: every route × {team A, team B, another game's team, instructor, anonymous}, with 0 leaks.

Each signed-in caller comes twice, with its browser cookie and with its API
token, so a route is also checked against the credential it must ignore (the
CSRF-exempt API never takes the cookie). A cell leaks when a caller who may
not use the route gets anything but a refusal, when a refusal changes the
stored state, or when any answer carries a secret kept from that caller:
rivals' decisions and drafts, join codes, other callers' tokens, the seed of a
running game. The matrix must name every route the app has.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe import ROLES, TALLY, Classroom, send, stored_state  # noqa: E402

PUBLIC, NOBODY = frozenset(ROLES), frozenset()
INSTRUCTOR = frozenset({"instructor"})
TEAMS = frozenset({"team_a", "team_b", "other_game_team"})
GAME_TEAMS = frozenset({"team_a", "team_b"})  # the teams of the game in the path


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    path: str
    allowed: frozenset[str]
    json: dict | None = None
    form: dict | None = None
    order: int = 0  # allowed mutations run in this order, after every read and every refusal (resolve and sign-out last)


ACT = {"resolve": {"period": 1}, "pause": {}, "resume": {}, "deadline": {"minutes": 20}, "extend": {"minutes": 5},
       "bots": {"bot": "balanced", "scope": "absent"}, "adjust": {"firm": 1, "amount": 500, "reason": "tidy desks"},
       "announce": {"text": "ten minutes left"}, "options": {"public": True}, "rollback": {"period": 1}}
ACT_ORDER = {"pause": 1, "resume": 2, "deadline": 3, "extend": 4, "bots": 5, "adjust": 6, "announce": 6.1, "options": 6.2,
             "resolve": 9, "rollback": 11}

MATRIX = [
    Route("scoreboard.home", "GET", "/", PUBLIC),
    Route("auth.setup", "GET", "/setup", PUBLIC),
    Route("auth.setup", "POST", "/setup", NOBODY, form={"password": "takeover!!", "again": "takeover!!", "token": "guess"}),
    Route("auth.login", "GET", "/login", PUBLIC),
    Route("auth.login", "POST", "/login", NOBODY, form={"password": "not the password"}),
    Route("auth.join", "GET", "/join", PUBLIC),
    Route("auth.join", "POST", "/join", NOBODY, form={"code": "ZZZZZZ"}),
    Route("auth.logout", "POST", "/logout", PUBLIC, order=20),
    Route("instructor.index", "GET", "/instructor/", INSTRUCTOR),
    Route("instructor.new_game", "POST", "/instructor/games", INSTRUCTOR, form={"scenario": "classroom-v1", "seed": "5"}, order=8),
    Route("instructor.console", "GET", "/instructor/games/{game}", INSTRUCTOR),
    *[Route("instructor.act", "POST", f"/instructor/games/{{game}}/{a}", INSTRUCTOR, form={k: str(v) for k, v in body.items()},
            order=ACT_ORDER[a] + (0.5 if a != "resolve" else 1)) for a, body in ACT.items()],
    Route("instructor.join_sheet", "GET", "/instructor/games/{game}/join-sheet", INSTRUCTOR),
    Route("instructor.export_zip", "GET", "/instructor/games/{game}/export.zip", INSTRUCTOR),
    Route("instructor.export_xlsx", "GET", "/instructor/games/{game}/export.xlsx", INSTRUCTOR),
    Route("team.dashboard", "GET", "/team/", TEAMS),
    Route("team.dashboard", "POST", "/team/", TEAMS, form={"price": "120"}, order=7),
    Route("team.reports", "GET", "/team/reports", TEAMS),
    Route("team.rules", "GET", "/team/rules", TEAMS),
    Route("scoreboard.board", "GET", "/scoreboard/{game}", PUBLIC),
    Route("scoreboard.chart", "GET", "/scoreboard/{game}/chart/score.svg", PUBLIC),
    Route("scoreboard.debrief", "GET", "/debrief/{game}", PUBLIC),
    Route("scoreboard.team_debrief", "GET", "/debrief/{game}/team/0", frozenset({"team_a", "instructor"})),
    Route("api.openapi", "GET", "/api/openapi.json", PUBLIC),
    Route("api.login", "POST", "/api/login", NOBODY, json={"password": "not the password"}),
    Route("api.join", "POST", "/api/join", NOBODY, json={"code": "ZZZZZZ"}),
    Route("api.logout", "POST", "/api/logout", TEAMS | INSTRUCTOR, json={}, order=21),
    Route("api.scenarios", "GET", "/api/scenarios", PUBLIC),
    Route("api.games", "GET", "/api/games", PUBLIC),
    Route("api.new_game", "POST", "/api/games", INSTRUCTOR, json={"scenario": "classroom-v1", "seed": 6}, order=8),
    Route("api.game", "GET", "/api/games/{game}", PUBLIC),
    Route("api.version", "GET", "/api/games/{game}/version", PUBLIC),
    Route("api.scoreboard", "GET", "/api/games/{game}/scoreboard", PUBLIC),
    Route("api.tenders", "GET", "/api/games/{game}/tenders", PUBLIC),
    Route("api.status", "GET", "/api/games/{game}/status", INSTRUCTOR),
    Route("api.rebuild_check", "GET", "/api/games/{game}/rebuild-check", INSTRUCTOR),
    *[Route(f"api.{a}", "POST", f"/api/games/{{game}}/{a}", INSTRUCTOR, json=body, order=ACT_ORDER[a]) for a, body in ACT.items()],
    Route("api.team_state", "GET", "/api/team", TEAMS),
    Route("api.team_statements", "GET", "/api/team/statements", TEAMS),
    Route("api.decision", "POST", "/api/games/{game}/decision", GAME_TEAMS, json={"price": 118}, order=7),
    Route("api.rescore", "POST", "/api/games/{game}/tenders/mengniu-01/rescore", GAME_TEAMS | INSTRUCTOR,
          json={"price": 90, "promised_service": 0.8}, order=10),
    Route("api.replay", "POST", "/api/games/{game}/replay", GAME_TEAMS | INSTRUCTOR, json={"period": 1, "change": {"price": 90}}),
    Route("api.team_announcements", "GET", "/api/team/announcements", TEAMS),
    Route("api.draft", "PUT", "/api/team/draft", TEAMS, json={"price": "117"}, order=7),
    Route("api.cost_preview", "POST", "/api/team/preview", TEAMS, json={"price": 116}, order=7),
]
SIGN_IN_PAGES = ("/login", "/join")


def callers(room: Classroom):
    """(label, role, client, headers): each signed-in role with its cookie, and with its token alone; then the anonymous visitor."""
    for role in ROLES:
        c = room.callers[role]
        if role == "anonymous":
            yield "anonymous", role, c.browser, {}
            continue
        yield f"{role} (cookie)", role, c.browser, {}
        yield f"{role} (token)", role, room.app.test_client(), c.bearer


def effective_role(route: Route, role: str, headers: dict) -> str:
    """The API takes tokens only: a cookie alone is an anonymous caller there."""
    return "anonymous" if route.path.startswith("/api/") and not headers else role


def refused(route: Route, r) -> bool:
    """401, 403 or 404; or, for a page, a redirect to a sign-in page (with a password set, /setup sends everyone to /login)."""
    if r.status_code in (401, 403, 404):
        return True
    if route.path.startswith("/api/") or r.status_code != 302:
        return False
    return urlsplit(r.headers["Location"]).path.endswith(SIGN_IN_PAGES)


def secrets_in(room: Classroom, role: str, r) -> list[str]:
    """Secrets kept from `role` that the answer carries (the exports are the instructor's, and binary)."""
    if r.mimetype == "application/zip" or "spreadsheet" in r.mimetype:
        return []
    body = r.get_data(as_text=True)
    return [secret for secret in room.secrets_hidden_from(role) if secret in body]


def check_cell(room: Classroom, route: Route, label: str, role: str, client, headers: dict, allowed: bool) -> list[str]:
    """One cell: the problems found, each a leak except an allowed caller refused (a bug, but nothing given away)."""
    path = route.path.format(game=room.game)
    where = f"{label} {route.method} {path}"
    before = stored_state(room.app) if route.method != "GET" and not allowed else None
    r = send(client, route.method, path, json_body=route.json, form=route.form, headers=headers)
    TALLY.cells += 1
    leaks = [f"{where}: carries a secret ({s[:10]}...)" for s in secrets_in(room, role, r)]
    if not allowed and not refused(route, r):
        leaks.append(f"{where}: answered {r.status_code} though not allowed")
    if before is not None and stored_state(room.app) != before:
        leaks.append(f"{where}: refused, but the stored state changed")
    TALLY.leaks += len(leaks)
    problems = list(leaks)
    turned_away = r.status_code >= 400 if route.allowed == PUBLIC else refused(route, r)  # /setup sends all to /login
    if r.status_code >= 500 or (allowed and turned_away):  # a 409 (paused twice, resolved already) is no refusal
        problems.append(f"{where}: {r.status_code} though allowed")
    return problems


def test_the_matrix_names_every_route(app):
    routes = {(rule.endpoint, m) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert {(r.endpoint, r.method) for r in MATRIX} == routes


def test_every_route_and_every_caller_with_no_leak(app):
    room = Classroom.open(app)
    cells = [(route, label, role, client, headers, effective_role(route, role, headers) in route.allowed)
             for route in MATRIX for label, role, client, headers in callers(room)]
    reads = [c for c in cells if c[0].method == "GET"]
    refusals = [c for c in cells if c[0].method != "GET" and not c[5]]
    allowed_writes = sorted((c for c in cells if c[0].method != "GET" and c[5]), key=lambda c: c[0].order)
    problems = []
    for route, label, role, client, headers, allowed in reads + refusals + allowed_writes:
        problems += check_cell(room, route, label, role, client, headers, allowed)
    assert len(cells) >= 9 * len(MATRIX)
    assert problems == []

