"""Two `crmsim serve` processes on one PostgreSQL database: one classroom, whichever process answers.

50 teams send their requests to the two processes in turn (join on one,
submit on the other, revise on the first), and each period is resolved by two
racing requests, one to each process. A period must resolve exactly once, no
acknowledged decision may be lost (the engine resolves each team's last
acknowledged decision), and every page and API answer must show the same state
from either process. Sessions and tokens live in the database, so a token or a
browser cookie from one process works on the other.
"""

from __future__ import annotations

import http.cookiejar
import re
import sys
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import Api, ApiError, LiveServer  # noqa: E402

pytestmark = pytest.mark.slow  # two real server processes: about 30 s
TEAMS, SEATS, ROUNDS = 50, 6, 2
SHARED = {"CRMSIM_SECRET_KEY": "one key for every process"}


@pytest.fixture
def servers(pg_url, tmp_path):
    a = LiveServer(tmp_path / "a", database=pg_url, env=SHARED, threads=8).start()
    b = LiveServer(tmp_path / "b", database=pg_url, env=SHARED, threads=8).start()  # after a: a has migrated the schema
    yield a, b
    a.stop()
    b.stop()


def without_clock(body):
    """An API answer without the seconds left, which tick between two requests."""
    if isinstance(body, dict):
        return {k: without_clock(v) for k, v in body.items() if k != "seconds_left"}
    if isinstance(body, list):
        return [without_clock(v) for v in body]
    return body


def page(url: str, opener=None) -> str:
    with (opener or urllib.request.build_opener()).open(url, timeout=60) as r:
        return re.sub(r'data-seconds="[^"]*"', "", r.read().decode())


def stored(pg_url: str) -> tuple[list, list]:
    """(every api/form decision row, every snapshot's engine decisions) as the database holds them."""
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT game_id, firm_index, period, payload FROM decisions WHERE source = 'api' ORDER BY id").fetchall()
        snaps = conn.execute("SELECT game_id, period, engine_decisions FROM snapshots ORDER BY game_id, period").fetchall()
    return rows, snaps


def test_two_processes_on_one_postgresql_serve_one_consistent_classroom(servers, pg_url):
    a, b = servers
    procs = (a, b)
    inst = Api.instructor(a.url)
    inst_b = Api(b.url, inst.token)  # a token from one process works on the other
    games = []
    for i in range(-(-TEAMS // SEATS)):
        games.append((inst if i % 2 == 0 else inst_b).post("/api/games", {"scenario": "classroom-v1", "seed": 100 + i,
                                                                          "name": f"Class {i + 1}", "period_minutes": 60}))
    seats = [(g, firm) for g in games for firm in range(SEATS)][:TEAMS]
    teams = []
    for n, (g, firm) in enumerate(seats):
        api, joined = Api.team(procs[n % 2].url, g["join_codes"][str(firm)])
        assert (joined["game"], joined["firm"]) == (g["id"], firm)
        teams.append((g["id"], firm, Api(a.url, api.token), Api(b.url, api.token)))

    acked: dict[tuple[int, int, int], dict] = {}  # (game, firm, period) -> the last acknowledged decision
    lock = threading.Lock()

    def decide(n: int, period: int) -> None:
        gid, firm, on_a, on_b = teams[n]
        first, second = (on_a, on_b) if n % 2 == 0 else (on_b, on_a)
        for attempt, api in enumerate((first, second)):  # submit on one process, revise on the other
            body = {"price": 90 + (n % 17) + attempt + period / 4, "care_budget": 1000 * (n % 5) + 10 * attempt}
            r = api.post(f"/api/games/{gid}/decision", body)
            assert r["ok"] and r["period"] == period
            with lock:
                acked[(gid, firm, period)] = r["decision"]

    def resolve(api: Api, gid: int, period: int):
        try:
            return api.post(f"/api/games/{gid}/resolve", {"period": period})["period"]
        except ApiError as exc:
            return exc.status, exc.body["error"]["field"]

    for period in range(1, ROUNDS + 1):
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: decide(n, period), range(TEAMS)))
        with ThreadPoolExecutor(2 * len(games)) as pool:
            races = {g["id"]: (pool.submit(resolve, inst, g["id"], period), pool.submit(resolve, inst_b, g["id"], period)) for g in games}
        for gid, (on_a, on_b) in races.items():
            outcomes = sorted([on_a.result(), on_b.result()], key=str)
            assert outcomes == sorted([period, (409, "period")], key=str), (gid, outcomes)  # resolved exactly once

        # every answer is the same from either process
        for g in games:
            gid = g["id"]
            for path in (f"/api/games/{gid}", f"/api/games/{gid}/scoreboard", f"/api/games/{gid}/tenders", f"/api/games/{gid}/version"):
                assert without_clock(Api(a.url).get(path)) == without_clock(Api(b.url).get(path)), path
            assert Api(a.url).get(f"/api/games/{gid}")["period"] == period + 1
            assert page(f"{a.url}/scoreboard/{gid}?partial=1") == page(f"{b.url}/scoreboard/{gid}?partial=1")
        for gid, firm, on_a, on_b in teams:
            mine_a, mine_b = without_clock(on_a.get("/api/team")), without_clock(on_b.get("/api/team"))
            assert mine_a == mine_b and mine_a["firm"] == firm and mine_a["submitted"] is None

    # no acknowledged decision lost: the engine resolved each team's last acknowledged decision, and every
    # acknowledgement is a stored row
    rows, snaps = stored(pg_url)
    assert len(rows) == 2 * TEAMS * ROUNDS
    assert [(g, p) for g, p, _ in snaps] == [(g["id"], p) for g in games for p in range(1, ROUNDS + 1)]
    for gid, period, engine in snaps:
        for (g, firm, p), decision in acked.items():
            if (g, p) == (gid, period):
                assert engine[str(firm)] == decision, (gid, period, firm)
    assert len(acked) == TEAMS * ROUNDS

    # a browser session made on one process is good on the other, and signing out on one ends it on both
    gid, firm = teams[0][0], teams[0][1]
    code = next(g for g in games if g["id"] == gid)["join_codes"][str(firm)]
    browser = Browser()
    at, _ = browser.post(f"{a.url}/join", {"code": code}, form_page=f"{a.url}/join")
    assert at.endswith("/team/")
    at, html = browser.get(f"{b.url}/team/")
    assert at.endswith("/team/") and 'id="decision"' in html
    at, _ = browser.post(f"{b.url}/logout", {}, form_page=f"{b.url}/team/")
    at, _ = browser.get(f"{a.url}/team/")
    assert at.endswith("/join")  # signed out on both


class Browser:
    """A cookie-keeping HTTP client: cookies for 127.0.0.1 go to either process (cookies ignore the port)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, url: str) -> tuple[str, str]:
        with self.opener.open(url, timeout=60) as r:
            return r.geturl(), r.read().decode()

    def post(self, url: str, form: dict[str, str], form_page: str) -> tuple[str, str]:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(form_page)[1]).group(1)
        data = urllib.parse.urlencode({**form, "csrf_token": token}).encode()
        with self.opener.open(urllib.request.Request(url, data=data), timeout=60) as r:
            return r.geturl(), r.read().decode()
