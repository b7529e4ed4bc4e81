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


def expect(room: Classroom, role: str, method: str, path: str, statuses: set[int], **body) -> None:
    """Send as `role`; the answer must be one of `statuses`, and judge() must find nothing wrong."""
    c = room.callers[role]
    before = stored_state(room.app)
    path = path.format(game=room.game, other=room.other_game)
    r = send(c.browser, method, path, headers=c.bearer, **body)
    assert r.status_code in statuses, (method, path, r.status_code, r.get_data(as_text=True)[:300])
    assert judge(room.app, before, r, f"{method} {path}") == []
    if path.startswith("/api/") and r.status_code >= 400:
        err = r.get_json()
        assert err and ("error" in err or "problems" in err), r.get_data(as_text=True)[:200]


# ---------------------------------------------------------------------------
# the audit's 23 server errors (finding 5)

DEEP = b"[" * 100_000


@pytest.mark.parametrize("path", ["/api/login", "/api/join"])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(room, path):
    expect(room, "anonymous", "POST", path, {400}, raw=DEEP)
    expect(room, "anonymous", "POST", path, {400}, raw=b'{"a":' * 5000 + b"1" + b"}" * 5000)


@pytest.mark.parametrize(("role", "method", "path", "raw"), [
    ("anonymous", "POST", "/api/login", b'{"password": "\\ud800"}'),
    ("anonymous", "POST", "/api/join", b'{"code": "\\ud800"}'),
    ("team_a", "PUT", "/api/team/draft", b'{"price": "\\ud800"}'),
    ("team_a", "PUT", "/api/team/draft", b'{"\\udfff": 1}'),
    ("team_a", "POST", "/api/games/{game}/decision", b'{"cultivation": {"\\ud800": 5}}'),
    ("instructor", "POST", "/api/games", b'{"scenario": "classroom-v1", "name": "a\\ud800"}'),
])
def test_a_lone_surrogate_is_a_400(room, role, method, path, raw):
    expect(room, role, method, path, {400}, raw=raw)


@pytest.mark.parametrize("big", [2**63, 10**20])
@pytest.mark.parametrize("page", ["/api/games/{id}", "/scoreboard/{id}", "/debrief/{id}", "/api/games/{id}/version",
                                  "/debrief/{id}/team/0", "/scoreboard/{id}/chart/cash.svg"])
def test_an_id_too_large_for_the_database_is_a_404(room, page, big):
    expect(room, "anonymous", "GET", page.format(id=big), {404})
    expect(room, "instructor", "GET", f"/instructor/games/{big}", {404})
    expect(room, "instructor", "POST", f"/api/games/{big}/pause", {404})
    expect(room, "anonymous", "GET", f"/debrief/{{game}}/team/{big}", {404})


def test_a_nul_byte_is_a_400_in_json_and_in_forms(room):
    expect(room, "anonymous", "POST", "/api/join", {400}, json_body={"code": "AB\x00CD"})
    expect(room, "anonymous", "POST", "/join", {400}, form={"code": "AB\x00CD"})
    expect(room, "anonymous", "POST", "/api/login", {400}, json_body={"password": "pass\x00word"})
    expect(room, "instructor", "POST", "/api/games", {400}, json_body={"scenario": "classroom-v1", "name": "a\x00b"})
    expect(room, "instructor", "POST", "/instructor/games", {400}, form={"scenario": "classroom-v1", "name": "a\x00b"})
    expect(room, "instructor", "POST", "/api/games/{game}/adjust", {400}, json_body={"firm": 0, "amount": 5, "reason": "a\x00"})
    expect(room, "anonymous", "GET", "/join?code=AB%00CD", {400})


@pytest.mark.parametrize(("field", "value", "limit"), [("name", "x" * 121, 120), ("name", "x" * 1_000_000, 120), ("teams", "x" * 81, 80)])
def test_over_long_names_are_refused_the_same_on_every_database(room, field, value, limit):
    body = {"scenario": "classroom-v1", "seed": 1, "name": value} if field == "name" else \
        {"scenario": "classroom-v1", "seed": 1, "teams": [value, "B", "C", "D", "E", "F"]}
    expect(room, "instructor", "POST", "/api/games", {400, 413}, json_body=body)
    form = {"scenario": "classroom-v1", "name": value} if field == "name" else {"scenario": "classroom-v1", "teams": "\n".join([value, *"BCDEF"])}
    expect(room, "instructor", "POST", "/instructor/games", {400, 413}, form=form)
    r = room.callers["instructor"].browser.post("/api/games", json={**body, **({"name": "x" * limit} if field == "name" else
                                                {"teams": ["x" * limit, "B", "C", "D", "E", "F"]})}, headers=room.callers["instructor"].bearer)
    assert r.status_code == 201  # the limit itself is allowed


@pytest.mark.parametrize("draft", [{"cultivation": "x"}, {"bids": {"t": 5}}, {"bids": "x"}, {"cultivation": {"c": {"deep": [1]}}},
                                   {"_form": "x"}, {"_form": {"price": {"a": 1}}}, {"price": {"a": [1, 2]}}, {"bids": {"t": {"price": None}}}])
def test_any_saved_draft_leaves_the_teams_dashboard_working(room, draft):
    team = room.callers["team_a"]
    r = send(team.browser, "PUT", "/api/team/draft", json_body=draft, headers=team.bearer)
    assert r.status_code in (200, 400)
    # the decision submitted in plant_secrets() is shown over a draft: withdraw it by opening the next period
    inst = room.callers["instructor"]
    assert send(inst.browser, "POST", f"/api/games/{room.game}/resolve", json_body={}, headers=inst.bearer).status_code == 200
    send(team.browser, "PUT", "/api/team/draft", json_body=draft, headers=team.bearer)
    r = send(team.browser, "GET", "/team/")
    assert r.status_code == 200, r.get_data(as_text=True)[-500:]


@pytest.mark.parametrize(("path", "raw"), [
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
])
def test_infinite_numbers_are_a_400(room, path, raw):
    expect(room, "instructor", "POST", path, {400}, raw=raw)


@pytest.mark.parametrize("form", [{"minutes": "inf"}, {"minutes": "1e400"}, {"minutes": "nan"}])
@pytest.mark.parametrize("action", ["deadline", "extend"])
def test_infinite_numbers_in_the_instructors_forms_are_a_400(room, action, form):
    expect(room, "instructor", "POST", f"/instructor/games/{{game}}/{action}", {400}, form=form)


@pytest.mark.parametrize("form", [{"seed": "1e400"}, {"seed": "Infinity"}, {"period_minutes": "inf"}, {"seed": "9" * 30},
                                  {"period_minutes": "nan"}])
def test_infinite_numbers_in_the_new_game_form_are_a_400(room, form):
    expect(room, "instructor", "POST", "/instructor/games", {400}, form={"scenario": "classroom-v1", **form})


@pytest.mark.parametrize("form", [{"firm": "1e400", "amount": "5", "reason": "x"}, {"firm": "0", "amount": "inf", "reason": "x"},
                                  {"firm": "99999999999999999999", "amount": "5", "reason": "x"}, {"firm": "0", "amount": "1e400", "reason": "x"}])
def test_bad_numbers_in_the_adjustment_form_are_a_400(room, form):
    expect(room, "instructor", "POST", "/instructor/games/{game}/adjust", {400}, form=form)


@pytest.mark.parametrize(("path", "body"), [
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
])
def test_malformed_bots_bodies_are_a_400(room, path, body):
    expect(room, "instructor", "POST", path, {400}, json_body=body)


@pytest.mark.parametrize("name", ["", " ", ".", "a" * 300, "b" * 5000, "/", "classroom-v1/", "classroom-v1\n"])
def test_an_empty_or_over_long_scenario_name_is_a_400(room, name):
    expect(room, "instructor", "POST", "/api/games", {400}, json_body={"scenario": name, "seed": 1})
    expect(room, "instructor", "POST", "/instructor/games", {400}, form={"scenario": name})


def test_team_names_with_mathtext_still_draw_the_charts(app):
    from crmsim.web.charts import METRICS
    from crmsim.web.db import get_db
    from crmsim.web.service import create_game, resolve

    names = ["$\\frac{$", "$x^$", "\\$$", "$\\undefinedcommand$", "_nolegend_", "ok"]
    with app.app_context():
        g = create_game(get_db(), "classroom-v1", seed=1, team_names=names)
        resolve(get_db(), g)
        gid = g.id
    c = app.test_client()
    for metric in METRICS:
        r = send(c, "GET", f"/scoreboard/{gid}/chart/{metric}.svg")
        assert r.status_code == 200 and r.mimetype == "image/svg+xml", metric
    assert c.get(f"/scoreboard/{gid}").status_code == 200


# ---------------------------------------------------------------------------
# the audit's wrong accepts (finding 6)


def test_a_nonsense_bots_scope_fills_no_seat(room):
    expect(room, "instructor", "POST", "/api/games/{game}/bots", {400}, json_body={"bot": "balanced", "scope": "nonsense"})
    expect(room, "instructor", "POST", "/instructor/games/{game}/bots", {400}, form={"bot": "balanced", "scope": "nonsense"})
    r = room.callers["instructor"].browser.get(f"/api/games/{room.game}/status", headers=room.callers["instructor"].bearer)
    assert [t["bot"] for t in r.get_json()["teams"].values()] == [None] * 6


@pytest.mark.parametrize("period", ["abc", "1.5", "-1", "١", "99999999999999999999", "1e400", "0x1"])
def test_a_resolve_form_with_a_bad_period_resolves_nothing(room, period):
    expect(room, "instructor", "POST", "/instructor/games/{game}/resolve", {400}, form={"period": period})


def test_a_resolve_form_for_the_open_period_resolves_it_once(room):
    expect(room, "instructor", "POST", "/instructor/games/{game}/resolve", {302}, form={"period": "1"})
    expect(room, "instructor", "POST", "/instructor/games/{game}/resolve", {409}, form={"period": "1"})


@pytest.mark.parametrize("bots", [{"99": "balanced"}, {"6": "balanced"}, {"0": "balanced", "12": "premium"}])
def test_bots_for_seats_the_scenario_does_not_have_are_refused(room, bots):
    expect(room, "instructor", "POST", "/api/games", {400}, json_body={"scenario": "classroom-v1", "bots": bots})


def test_bots_for_seats_in_the_new_game_form_outside_the_scenario_are_refused(room):
    expect(room, "instructor", "POST", "/instructor/games", {400}, form={"scenario": "classroom-v1", "bot_99": "balanced"})


@pytest.mark.parametrize("late", [True, False, "yes", None])
def test_a_team_cannot_mark_its_own_decision_late_or_on_time(room, late):
    expect(room, "team_a", "POST", "/api/games/{game}/decision", {400}, json_body={"price": 100, "late": late})
    team = room.callers["team_a"]
    r = send(team.browser, "POST", "/api/team/preview", json_body={"price": 100, "late": late}, headers=team.bearer)
    assert r.status_code == 200 and r.get_json()["ok"] is False
    assert [p["field"] for p in r.get_json()["problems"]] == ["late"]


def test_validation_limits_hold_on_every_database(room):
    """The name limits are the database columns', checked before the database sees them (SQLite would store 1 MB)."""
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
ACT_FORM = ("minutes", "bot", "scope", "firm", "amount", "reason", "period")

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
    ("team_a", "POST", "/api/games/{game}/decision", DECISION),
    ("team_a", "PUT", "/api/team/draft", DECISION),
    ("team_a", "POST", "/api/team/preview", DECISION),
]
FORM_ROUTES = [
    ("anonymous", "POST", "/login", ("password",)),
    ("anonymous", "POST", "/join", ("code",)),
    ("anonymous", "POST", "/setup", ("password", "again", "token")),
    ("instructor", "POST", "/instructor/games", NEW_GAME_FORM),
    *[("instructor", "POST", f"/instructor/games/{{game}}/{a}", ACT_FORM) for a in ("resolve", "pause", "resume", "deadline", "extend",
                                                                                   "bots", "adjust")],
    ("team_a", "POST", "/team/", DECISION_FORM),
]
PAGES = [
    ("anonymous", "/api/games/{x}"), ("anonymous", "/api/games/{x}/version"), ("anonymous", "/api/games/{x}/scoreboard"),
    ("anonymous", "/api/games/{x}/tenders"), ("instructor", "/api/games/{x}/status"), ("instructor", "/api/games/{x}/rebuild-check"),
    ("anonymous", "/scoreboard/{x}"), ("anonymous", "/scoreboard/{x}?partial={y}"), ("anonymous", "/scoreboard/{x}/chart/{y}.svg"),
    ("anonymous", "/debrief/{x}"), ("team_a", "/debrief/{x}/team/{y}"), ("instructor", "/instructor/games/{x}"),
    ("instructor", "/instructor/games/{x}/export.zip"), ("instructor", "/instructor/games/{x}/export.xlsx"),
    ("anonymous", "/join?code={y}"), ("anonymous", "/?lang={y}"), ("anonymous", "/login?next={y}"), ("anonymous", "/setup?token={y}"),
    ("team_a", "/team/?lang={y}"), ("instructor", "/instructor/?lang={y}"),
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

