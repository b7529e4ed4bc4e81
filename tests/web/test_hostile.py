"""Hostile input on every route and form: a clear 4xx, never a 5xx; no wrong accept; a refusal changes nothing.

The named cases are the audit's (issue 10, findings 5 and 6), each on SQLite
and PostgreSQL; the generated ones come from hypothesis, drawn from values that
broke servers before (lone surrogates, NUL bytes, huge ids, Infinity, deep
nesting, formula text, paths) mixed with arbitrary JSON and text. Every answer
is judged by probe.judge: no status >= 500, a refusal (>= 400) leaves every
stored row unchanged, and an acceptance leaves no row that breaks a rule.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe import Classroom, judge, rule_violations, send, stored_state  # noqa: E402

BIG_IDS = (2**63, 10**20, 2**31, -1)


@pytest.fixture
def room(app) -> Classroom:
    return Classroom.open(app)


def expect(room: Classroom, role: str, method: str, path: str, statuses: set[int], **body) -> list[str]:
    """Send as `role`: the problems with the answer (not one of `statuses`, or what judge() finds; an API
    refusal without a JSON error)."""
    c = room.callers[role]
    before = stored_state(room.app)
    path = path.format(game=room.game, other=room.other_game)
    r = send(c.browser, method, path, headers=c.bearer, **body)
    what = f"{role} {method} {path} {str(body)[:120]}"
    problems = judge(room.app, before, r, what)
    if r.status_code not in statuses:
        problems.append(f"{what}: {r.status_code}, expected {sorted(statuses)}: {r.get_data(as_text=True)[:200]}")
    elif path.startswith("/api/") and r.status_code >= 400 and not ({"error", "problems"} & set(r.get_json() or {})):
        problems.append(f"{what}: {r.status_code} without a JSON error")
    return problems


def run_cases(room: Classroom, cases) -> None:
    """Every case (role, method, path, expected statuses, body) answered as expected, with nothing wrong stored."""
    problems = []
    for role, method, path, statuses, body in cases:
        problems += expect(room, role, method, path, statuses, **body)
    assert problems == []


# ---------------------------------------------------------------------------
# the audit's 23 server errors (finding 5), each a clear 4xx now

DEEP = b"[" * 100_000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000
NESTED_JSON = [("anonymous", "POST", path, {400}, {"raw": raw}) for path in ("/api/login", "/api/join") for raw in (DEEP, DEEP_OBJECT)]
SURROGATES = [
    ("anonymous", "POST", "/api/login", {400}, {"raw": b'{"password": "\\ud800"}'}),
    ("anonymous", "POST", "/api/join", {400}, {"raw": b'{"code": "\\ud800"}'}),
    ("team_a", "PUT", "/api/team/draft", {400}, {"raw": b'{"price": "\\ud800"}'}),
    ("team_a", "PUT", "/api/team/draft", {400}, {"raw": b'{"\\udfff": 1}'}),
    ("team_a", "POST", "/api/games/{game}/decision", {400}, {"raw": b'{"cultivation": {"\\ud800": 5}}'}),
    ("instructor", "POST", "/api/games", {400}, {"raw": b'{"scenario": "classroom-v1", "name": "a\\ud800"}'}),
]
HUGE_IDS = [
    *[("anonymous", "GET", page.format(id=big), {404}, {}) for big in (2**63, 10**20)
      for page in ("/api/games/{id}", "/scoreboard/{id}", "/debrief/{id}", "/api/games/{id}/version", "/debrief/{id}/team/0",
                   "/scoreboard/{id}/chart/cash.svg", "/debrief/{{game}}/team/{id}")],
    *[("instructor", "GET", f"/instructor/games/{big}", {404}, {}) for big in (2**63, 10**20)],
    *[("instructor", "POST", f"/api/games/{big}/pause", {404}, {}) for big in (2**63, 10**20)],
]
NUL_BYTES = [
    ("anonymous", "POST", "/api/join", {400}, {"json_body": {"code": "AB\x00CD"}}),
    ("anonymous", "POST", "/join", {400}, {"form": {"code": "AB\x00CD"}}),
    ("anonymous", "POST", "/api/login", {400}, {"json_body": {"password": "pass\x00word"}}),
    ("instructor", "POST", "/api/games", {400}, {"json_body": {"scenario": "classroom-v1", "name": "a\x00b"}}),
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", "name": "a\x00b"}}),
    ("instructor", "POST", "/api/games/{game}/adjust", {400}, {"json_body": {"firm": 0, "amount": 5, "reason": "a\x00"}}),
    ("anonymous", "GET", "/join?code=AB%00CD", {400}, {}),
]
LONG_NAMES = [
    ("instructor", "POST", "/api/games", {400, 413}, {"json_body": {"scenario": "classroom-v1", "name": "x" * 121}}),
    ("instructor", "POST", "/api/games", {400, 413}, {"json_body": {"scenario": "classroom-v1", "name": "x" * 1_000_000}}),
    ("instructor", "POST", "/api/games", {400}, {"json_body": {"scenario": "classroom-v1", "teams": ["x" * 81, *"BCDEF"]}}),
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", "name": "x" * 121}}),
    ("instructor", "POST", "/instructor/games", {400, 413}, {"form": {"scenario": "classroom-v1", "name": "x" * 1_000_000}}),
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", "teams": "\n".join(["x" * 81, *"BCDEF"])}}),
    ("instructor", "POST", "/api/games/{game}/adjust", {400}, {"json_body": {"firm": 0, "amount": 5, "reason": "r" * 201}}),
    # the limits themselves are allowed
    ("instructor", "POST", "/api/games", {201}, {"json_body": {"scenario": "classroom-v1", "name": "x" * 120}}),
    ("instructor", "POST", "/api/games", {201}, {"json_body": {"scenario": "classroom-v1", "teams": ["x" * 80, *"BCDEF"]}}),
]
INFINITE_NUMBERS = [
    *[("instructor", "POST", path, {400}, {"raw": raw}) for path, raw in [
        ("/api/games", b'{"scenario": "classroom-v1", "seed": Infinity}'),
        ("/api/games", b'{"scenario": "classroom-v1", "seed": 1e400}'),
        ("/api/games", b'{"scenario": "classroom-v1", "seed": NaN}'),
        ("/api/games", b'{"scenario": "classroom-v1", "period_minutes": -Infinity}'),
        ("/api/games/{game}/resolve", b'{"period": Infinity}'),
        ("/api/games/{game}/resolve", b'{"period": 1e400}'),
        ("/api/games/{game}/adjust", b'{"firm": Infinity, "amount": 1, "reason": "x"}'),
        ("/api/games/{game}/adjust", b'{"firm": 1e400, "amount": 1, "reason": "x"}'),
        ("/api/games/{game}/adjust", b'{"firm": 0, "amount": 1e400, "reason": "x"}'),
        ("/api/games/{game}/adjust", b'{"firm": 0, "amount": Infinity, "reason": "x"}'),
        ("/api/games/{game}/deadline", b'{"minutes": Infinity}'),
        ("/api/games/{game}/deadline", b'{"minutes": 1e400}'),
        ("/api/games/{game}/extend", b'{"minutes": 1e400}'),
        ("/api/games/{game}/extend", b'{"minutes": NaN}'),
    ]],
    *[("instructor", "POST", f"/instructor/games/{{game}}/{action}", {400}, {"form": {"minutes": m}})
      for action in ("deadline", "extend") for m in ("inf", "1e400", "nan")],
    *[("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", **form}})
      for form in ({"seed": "1e400"}, {"seed": "Infinity"}, {"period_minutes": "inf"}, {"seed": "9" * 30}, {"period_minutes": "nan"})],
    *[("instructor", "POST", "/instructor/games/{game}/adjust", {400}, {"form": form})
      for form in ({"firm": "1e400", "amount": "5", "reason": "x"}, {"firm": "0", "amount": "inf", "reason": "x"},
                   {"firm": "99999999999999999999", "amount": "5", "reason": "x"}, {"firm": "0", "amount": "1e400", "reason": "x"})],
]
MALFORMED_BOTS = [("instructor", "POST", path, {400}, {"json_body": body}) for path, body in [
    ("/api/games", {"scenario": "classroom-v1", "bots": {"1": ["balanced"]}}),
    ("/api/games", {"scenario": "classroom-v1", "bots": {"1": {"name": "balanced"}}}),
    ("/api/games", {"scenario": "classroom-v1", "bots": {"²": "balanced"}}),
    ("/api/games", {"scenario": "classroom-v1", "bots": {"1": None}}),
    ("/api/games", {"scenario": "classroom-v1", "bots": {"-1": "balanced"}}),
    ("/api/games", {"scenario": "classroom-v1", "bots": "balanced"}),
    ("/api/games/{game}/bots", {"bot": ["balanced"]}),
    ("/api/games/{game}/bots", {"bot": {"a": 1}}),
    ("/api/games/{game}/bots", {"bot": "balanced", "scope": ["all"]}),
    ("/api/games/{game}/bots", {"bot": "balanced", "scope": None}),
]]
SCENARIO_NAMES = [case for name in ("", " ", ".", "a" * 300, "b" * 5000, "/", "classroom-v1/", "classroom-v1\n") for case in (
    ("instructor", "POST", "/api/games", {400}, {"json_body": {"scenario": name, "seed": 1}}),
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": name}}),
)]


@pytest.mark.parametrize("cases", [NESTED_JSON, SURROGATES, HUGE_IDS, NUL_BYTES, LONG_NAMES, INFINITE_NUMBERS, MALFORMED_BOTS,
                                   SCENARIO_NAMES],
                         ids=["deep-json", "lone-surrogates", "huge-ids", "nul-bytes", "long-names", "infinite-numbers",
                              "malformed-bots", "scenario-names"])
def test_the_audits_hostile_inputs_are_clear_4xx(room, cases):
    """RecursionError, UnicodeEncodeError, OverflowError, NumericValueOutOfRange, DataError, ValueError, TypeError,
    IsADirectoryError and ENAMETOOLONG were 500s; each is a 4xx naming the field, and nothing is stored."""
    run_cases(room, cases)


ODD_DRAFTS = [{"cultivation": "x"}, {"bids": {"t": 5}}, {"bids": "x"}, {"cultivation": {"c": {"deep": [1]}}}, {"_form": "x"},
              {"_form": {"price": {"a": 1}}}, {"price": {"a": [1, 2]}}, {"bids": {"t": {"price": None}}}, {"late": [1]}]


def test_any_saved_draft_leaves_the_teams_dashboard_working(room):
    """A draft is whatever the team's browser saved: {"cultivation": "x"} broke the dashboard (AttributeError)."""
    team, inst = room.callers["team_a"], room.callers["instructor"]
    # the decision submitted in plant_secrets() is shown over a draft: open the next period, which has none
    assert send(inst.browser, "POST", f"/api/games/{room.game}/resolve", json_body={}, headers=inst.bearer).status_code == 200
    pages = []
    for draft in ODD_DRAFTS:
        assert send(team.browser, "PUT", "/api/team/draft", json_body=draft, headers=team.bearer).status_code == 200
        r = send(team.browser, "GET", "/team/")
        pages.append((draft, r.status_code))
    assert pages == [(draft, 200) for draft in ODD_DRAFTS]


def test_team_names_with_mathtext_still_draw_the_charts(app):
    from crmsim.web.db import get_db
    from crmsim.web.scoreboard import public_metrics
    from crmsim.web.service import create_game, resolve

    names = ["$\\frac{$", "$x^$", "\\$$", "$\\undefinedcommand$", "_nolegend_", "ok"]
    with app.app_context():
        g = create_game(get_db(), "classroom-v1", seed=1, team_names=names)
        resolve(get_db(), g)
        gid, metrics = g.id, list(public_metrics(g))
    assert len(metrics) >= 4
    c = app.test_client()
    for metric in metrics:
        r = send(c, "GET", f"/scoreboard/{gid}/chart/{metric}.svg")
        assert r.status_code == 200 and r.mimetype == "image/svg+xml", metric
    assert c.get(f"/scoreboard/{gid}").status_code == 200


# ---------------------------------------------------------------------------
# the audit's wrong accepts (finding 6)

BAD_SCOPE = [
    ("instructor", "POST", "/api/games/{game}/bots", {400}, {"json_body": {"bot": "balanced", "scope": "nonsense"}}),
    ("instructor", "POST", "/instructor/games/{game}/bots", {400}, {"form": {"bot": "balanced", "scope": "nonsense"}}),
]
BAD_RESOLVE_PERIOD = [("instructor", "POST", "/instructor/games/{game}/resolve", {400}, {"form": {"period": period}})
                      for period in ("abc", "1.5", "-1", "١", "99999999999999999999", "1e400", "0x1")]
MISSING_SEATS = [
    *[("instructor", "POST", "/api/games", {400}, {"json_body": {"scenario": "classroom-v1", "bots": bots}})
      for bots in ({"99": "balanced"}, {"6": "balanced"}, {"0": "balanced", "12": "premium"})],
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", "bot_99": "balanced"}}),
    ("instructor", "POST", "/instructor/games", {400}, {"form": {"scenario": "classroom-v1", "bot_6": "balanced"}}),
]
LATE = [("team_a", "POST", "/api/games/{game}/decision", {400}, {"json_body": {"price": 100, "late": late}})
        for late in (True, False, "yes", None)]


@pytest.mark.parametrize("cases", [BAD_SCOPE, BAD_RESOLVE_PERIOD, MISSING_SEATS, LATE],
                         ids=["bots-scope", "resolve-period", "bot-seats", "late-flag"])
def test_the_audits_wrong_accepts_are_refused(room, cases):
    """A nonsense bots scope filled every seat, period=abc skipped the resolve guard, bots for seat 99 were
    ignored, "late": true was stored: each is refused now, and the stored state is unchanged."""
    run_cases(room, cases)
    inst = room.callers["instructor"]
    status = inst.browser.get(f"/api/games/{room.game}/status", headers=inst.bearer).get_json()
    assert [t["bot"] for t in status["teams"].values()] == [None] * 6 and status["game"]["period"] == 1


def test_a_resolve_form_for_the_open_period_resolves_it_once(room):
    confirmed = {"period": "1", "confirm_missing": "true"}  # teams are missing: the console asks first
    run_cases(room, [("instructor", "POST", "/instructor/games/{game}/resolve", {409}, {"form": {"period": "1"}}),
                     ("instructor", "POST", "/instructor/games/{game}/resolve", {302}, {"form": confirmed}),
                     ("instructor", "POST", "/instructor/games/{game}/resolve", {409}, {"form": confirmed})])


def test_the_preview_names_the_late_flag_as_the_servers(room):
    team = room.callers["team_a"]
    for late in (True, False, "yes", None):
        r = send(team.browser, "POST", "/api/team/preview", json_body={"price": 100, "late": late}, headers=team.bearer)
        assert r.status_code == 200 and r.get_json()["ok"] is False
        assert [p["field"] for p in r.get_json()["problems"]] == ["late"]


def test_validation_limits_hold_on_every_database(room):
    """The name limits are the database columns', checked before the database sees them (SQLite would store 1 MB)."""
    run_cases(room, LONG_NAMES)
    assert rule_violations(room.app) == []


# ---------------------------------------------------------------------------
# generated hostile input on every route and form

SPECIAL_TEXT = ["", " ", "\x00", "a\x00b", "$\\frac{$", "=cmd|' /C calc'!A0", "x" * 121, "y" * 3000, "../../etc/passwd",
                "/etc/passwd", "Infinity", "NaN", "-1", "1e400", "9223372036854775808", "²", "١٢", "<script>alert(1)</script>",
                "classroom-v1", "balanced", "all", "absent", "0", "1", "1.5", "-0", "\t", "%00", "{{7*7}}", "null"]
SPECIAL_JSON_ONLY = ["\ud800", "a\udfffb"]
SPECIAL_NUMBERS = [0, -1, 1, 5, 2**31, 2**63, 10**20, -(10**20), 0.5, 1e308, float("inf"), float("-inf"), float("nan"), 1e-320,
                   True, False, None]

form_text = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=40))
json_scalar = st.one_of(st.sampled_from(SPECIAL_TEXT + SPECIAL_JSON_ONLY), st.sampled_from(SPECIAL_NUMBERS), st.text(max_size=30),
                        st.integers(), st.floats())
json_value = st.recursive(json_scalar, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(form_text, kids, max_size=4),
                          max_leaves=10)


def json_body(fields: tuple[str, ...]):
    """A body with some of `fields` (hostile values) and maybe unknown keys, or something that is not an object."""
    obj = st.fixed_dictionaries({}, optional={f: json_value for f in fields})
    extra = st.dictionaries(form_text, json_value, max_size=2)
    return st.one_of(obj, obj.flatmap(lambda d: extra.map(lambda e: {**e, **d})), json_value)


def form_body(fields: tuple[str, ...]):
    return st.fixed_dictionaries({}, optional={f: form_text for f in fields})


path_part = st.one_of(st.sampled_from([*BIG_IDS, 0, 1, 2, 3, "abc", "%00", "..", "1.5", "١", " 1"]), st.integers(), st.text(min_size=1, max_size=8))

DECISION = ("price", "service_level", "care_budget", "advertising_budget", "hire_sales", "fire_sales", "hire_service", "fire_service",
            "cultivation", "bids", "borrow", "repay", "late")
DECISION_FORM = (*DECISION[:8], "borrow", "repay", "cultivation.mengniu", "cultivation.x", "bids.t1.price", "bids.t1.promised_service")
NEW_GAME = ("scenario", "scenario_toml", "seed", "name", "teams", "bots", "period_minutes")
NEW_GAME_FORM = ("scenario", "scenario_toml", "seed", "name", "teams", "period_minutes", "bot_0", "bot_5", "bot_6")
ACT_FORM = ("minutes", "bot", "scope", "firm", "amount", "reason", "period", "confirm_missing", "text", "public", "auto_resolve")

# (role, method, path, body kind, fields): every route and form that takes input
JSON_ROUTES = [
    ("anonymous", "POST", "/api/login", ("password",)),
    ("anonymous", "POST", "/api/join", ("code",)),
    ("instructor", "POST", "/api/games", NEW_GAME),
    ("instructor", "POST", "/api/games/{game}/resolve", ("period",)),
    ("instructor", "POST", "/api/games/{game}/pause", ()),
    ("instructor", "POST", "/api/games/{game}/resume", ()),
    ("instructor", "POST", "/api/games/{game}/deadline", ("minutes",)),
    ("instructor", "POST", "/api/games/{game}/extend", ("minutes",)),
    ("instructor", "POST", "/api/games/{game}/bots", ("bot", "scope")),
    ("instructor", "POST", "/api/games/{game}/adjust", ("firm", "amount", "reason")),
    ("instructor", "POST", "/api/games/{game}/announce", ("text", "firm")),
    ("instructor", "POST", "/api/games/{game}/options", ("public", "auto_resolve")),
    ("instructor", "POST", "/api/games/{game}/rollback", ("period",)),
    ("team_a", "POST", "/api/games/{game}/tenders/mengniu-01/rescore", ("price", "promised_service", "period", "firm")),
    ("team_a", "POST", "/api/games/{game}/replay", ("period", "change", "firm")),
    ("team_a", "POST", "/api/games/{game}/decision", DECISION),
    ("team_a", "PUT", "/api/team/draft", DECISION),
    ("team_a", "POST", "/api/team/preview", DECISION),
    ("anonymous", "POST", "/api/logout", ("token",)),
]
FORM_ROUTES = [
    ("anonymous", "POST", "/login", ("password",)),
    ("anonymous", "POST", "/join", ("code",)),
    ("anonymous", "POST", "/setup", ("password", "again", "token")),
    ("instructor", "POST", "/instructor/games", NEW_GAME_FORM),
    *[("instructor", "POST", f"/instructor/games/{{game}}/{a}", ACT_FORM) for a in ("resolve", "pause", "resume", "deadline", "extend",
                                                                                   "bots", "adjust", "announce", "options",
                                                                                   "rollback")],
    ("team_a", "POST", "/team/", DECISION_FORM),
    ("anonymous", "POST", "/logout", ("next", "lang")),
]
PAGES = [
    ("anonymous", "/api/games/{x}"), ("anonymous", "/api/games/{x}/version"), ("anonymous", "/api/games/{x}/scoreboard"),
    ("anonymous", "/api/games/{x}/tenders"), ("instructor", "/api/games/{x}/status"), ("instructor", "/api/games/{x}/rebuild-check"),
    ("anonymous", "/scoreboard/{x}"), ("anonymous", "/scoreboard/{x}?partial={y}"), ("anonymous", "/scoreboard/{x}/chart/{y}.svg"),
    ("anonymous", "/debrief/{x}"), ("team_a", "/debrief/{x}/team/{y}"), ("instructor", "/instructor/games/{x}"),
    ("instructor", "/instructor/games/{x}/export.zip"), ("instructor", "/instructor/games/{x}/export.xlsx"),
    ("anonymous", "/join?code={y}"), ("anonymous", "/?lang={y}"), ("anonymous", "/login?next={y}"), ("anonymous", "/setup?token={y}"),
    ("team_a", "/team/?lang={y}"), ("instructor", "/instructor/?lang={y}"), ("anonymous", "/api/scenarios?lang={y}"),
    ("anonymous", "/api/games?x={y}"), ("team_a", "/api/team?x={y}"), ("anonymous", "/api/openapi.json?x={y}"),
    ("team_a", "/team/reports?period={y}"), ("team_a", "/team/rules?x={y}"), ("team_a", "/api/team/statements?firm={y}"),
    ("team_a", "/api/team/announcements?x={y}"), ("instructor", "/instructor/games/{x}/join-sheet"),
    ("instructor", "/instructor/games/{x}?partial={y}"), ("team_a", "/debrief/{x}/team/0?wi_tender={y}&wi_price={y}&wi_service={y}"),
    ("team_a", "/debrief/{x}/team/0?rp_period={y}&rp_field={y}&rp_value={y}"), ("anonymous", "/scoreboard/{x}?projector={y}"),
]
FUZZ = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


def _judged(room: Classroom, role: str, method: str, path: str, **body) -> list[str]:
    c = room.callers[role]
    before = stored_state(room.app)
    r = send(c.browser, method, path.format(game=room.game), headers=c.bearer, **body)
    return judge(room.app, before, r, f"{method} {path} {str(body)[:300]}")


@FUZZ
@given(bodies=st.tuples(*[json_body(fields) for *_, fields in JSON_ROUTES]))
def test_generated_json_bodies_on_every_api_route(room, bodies):
    problems = []
    for (role, method, path, _), body in zip(JSON_ROUTES, bodies):
        problems += _judged(room, role, method, path, raw=json.dumps(body).encode("utf-8", "surrogatepass"))
    assert problems == []


@FUZZ
@given(forms=st.tuples(*[form_body(fields) for *_, fields in FORM_ROUTES]))
def test_generated_form_posts_on_every_form(room, forms):
    problems = []
    for (role, method, path, _), form in zip(FORM_ROUTES, forms):
        problems += _judged(room, role, method, path, form=form)
    assert problems == []


@FUZZ
@given(parts=st.lists(st.tuples(path_part, path_part), min_size=len(PAGES), max_size=len(PAGES)))
def test_generated_ids_and_query_values_on_every_page(room, parts):
    problems = []
    for (role, page), (x, y) in zip(PAGES, parts):
        problems += _judged(room, role, "GET", page.format(x=quote(str(x), safe=""), y=quote(str(y), safe="")))
    assert problems == []



def test_the_generated_input_reaches_every_route_and_form(app):
    """The tables above name every route of the app (but the static files): a new route needs its hostile input."""
    urls = app.url_map.bind("localhost")
    reached = set()
    for role, method, path, _ in JSON_ROUTES + FORM_ROUTES:
        reached.add((urls.match(path.format(game=1).split("?")[0], method)[0], method))
    for role, page in PAGES:
        reached.add((urls.match(page.format(x=1, y=1).split("?")[0].replace("/1.svg", "/score.svg"), "GET")[0], "GET"))
    routes = {(rule.endpoint, m) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - reached == set()
