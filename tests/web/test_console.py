"""The instructor's console: seats, the submission monitor, confirm before resolving, rollback (回退),
announcements, the join sheet, the public flag, the practice period and the automatic resolve."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crmsim.web.models import AuditEntry, DecisionRecord, Game, Snapshot


def signed_in_instructor(app, helpers):
    c = app.test_client()
    r = c.post("/login", data={"password": helpers.password})
    assert r.status_code == 302
    return c


@pytest.fixture
def room(app, helpers):
    """An instructor (browser and token), a classroom game with bots in seats 3-6, teams 1 and 2 joined by API."""
    ins = signed_in_instructor(app, helpers)
    token = helpers.instructor_token(ins)
    game = helpers.api_create_game(ins, token, seed=3, bots={str(i): "balanced" for i in range(2, 6)})
    codes = game["join_codes"]
    teams = [app.test_client() for _ in range(2)]
    headers = [helpers.bearer(helpers.api_join(teams[i], codes[str(i)])["token"]) for i in range(2)]
    return {"ins": ins, "auth": helpers.bearer(token), "game": game, "id": game["id"], "teams": teams, "headers": headers}


def stored(app, game_id: int):
    from crmsim.web.db import get_db

    with app.app_context():
        db = get_db()
        g = db.get(Game, game_id)
        snaps = db.scalars(select(Snapshot).where(Snapshot.game_id == game_id).order_by(Snapshot.period)).all()
        records = db.scalars(select(DecisionRecord).where(DecisionRecord.game_id == game_id).order_by(DecisionRecord.id)).all()
        audit = db.scalars(select(AuditEntry).where(AuditEntry.game_id == game_id).order_by(AuditEntry.id)).all()
        return {"period": g.period, "status": g.status, "snaps": [(s.period, s.firm_rows, s.bid_rows) for s in snaps],
                "records": [(r.period, r.firm_index, r.source, r.rolled_back_at is not None) for r in records],
                "audit": [(a.action, a.detail) for a in audit]}


def test_the_new_game_form_offers_exactly_the_scenarios_seats_and_refuses_an_extra_one(app, helpers):
    ins = signed_in_instructor(app, helpers)
    html = ins.get("/instructor/").get_data(as_text=True)
    enabled = re.findall(r'<select name="bot_(\d+)" >', html)
    assert enabled == [str(i) for i in range(6)]  # classroom-v1 seats 6 firms: seats 7-8 are hidden and disabled
    assert len(re.findall(r'<select name="bot_\d+" disabled>', html)) == 2
    r = ins.post("/instructor/games", data={"scenario": "classroom-v1", "seed": "1", "bot_7": "balanced"})
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert "Seat 8: no such seat: the scenario seats 6 teams (0 to 5)" in text
    r = ins.post("/instructor/games?lang=zh_CN", data={"scenario": "classroom-v1", "seed": "1", "bot_7": "balanced"})
    assert "没有这个席位：共有 6 个席位" in r.get_data(as_text=True)
    assert ins.get("/api/games", headers=helpers.bearer(helpers.instructor_token(ins))).get_json()["games"] == []


def test_the_monitor_shows_who_joined_submitted_and_was_last_seen(clock, app, room):
    gid = room["id"]
    st = room["ins"].get(f"/api/games/{gid}/status", headers=room["auth"]).get_json()
    assert st["teams"]["0"]["joined"] and st["teams"]["0"]["last_seen"] is None  # joining is not yet a signed-in request
    assert st["missing"] == [0, 1]
    clock.advance(60)
    r = room["teams"][0].post(f"/api/games/{gid}/decision", json={"price": 101}, headers=room["headers"][0])
    assert r.status_code == 200
    st = room["ins"].get(f"/api/games/{gid}/status", headers=room["auth"]).get_json()
    t0 = st["teams"]["0"]
    assert (t0["submitted"], t0["submissions"], t0["last_seen"]) == (True, 1, "2026-03-02T09:01:00Z")
    assert t0["at"].endswith("Z")
    assert st["teams"]["1"]["last_seen"] is None and st["missing"] == [1]
    assert st["teams"]["2"]["bot"] == "balanced" and not st["teams"]["2"]["missing"]
    html = room["ins"].get(f"/instructor/games/{gid}").get_data(as_text=True)
    assert "09:01:00" in html and "waiting" in html and "1 of 2 team seats submitted" in html
    assert "Balanced" in html  # the bot by its name, not its id


def test_resolving_while_teams_are_missing_asks_first(app, room):
    gid, ins = room["id"], room["ins"]
    room["teams"][0].post(f"/api/games/{gid}/decision", json={"price": 101}, headers=room["headers"][0])
    r = ins.post(f"/instructor/games/{gid}/resolve", data={"period": "1"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "Resolve while 1 team(s) have not submitted?" in html and 'id="confirm-resolve-button"' in html
    missing = re.search(r"make no bid:</p>|make no bid: <strong>([^<]*)</strong>", html).group(1)
    assert missing == room["game"]["teams"][1]["name"]
    assert stored(app, gid)["period"] == 1  # nothing resolved
    r = ins.post(f"/instructor/games/{gid}/resolve", data={"period": "1", "confirm_missing": "true"})
    assert r.status_code == 302
    assert stored(app, gid)["period"] == 2


def test_a_rollback_then_a_re_resolve_gives_the_result_of_resolving_once(app, room):
    gid, ins, auth = room["id"], room["ins"], room["auth"]
    room["teams"][0].post(f"/api/games/{gid}/decision", json={"price": 104, "service_level": 0.7}, headers=room["headers"][0])
    assert ins.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=auth).status_code == 200
    once = stored(app, gid)["snaps"]
    # a team already submitted for period 2: set aside by the rollback (made on withdrawn results)
    assert room["teams"][1].post(f"/api/games/{gid}/decision", json={"price": 99}, headers=room["headers"][1]).status_code == 200
    assert ins.post(f"/api/games/{gid}/rollback", json={"period": 2}, headers=auth).status_code == 409  # not the last resolved
    r = ins.post(f"/api/games/{gid}/rollback", json={"period": 1}, headers=auth)
    assert r.status_code == 200 and r.get_json()["period"] == 1
    after = stored(app, gid)
    assert (after["period"], after["status"], after["snaps"]) == (1, "open", [])
    # the log keeps everything: team 0's period-1 submission stands, the engine's records and the period-2 one are marked
    assert (1, 0, "api", False) in after["records"]
    assert (2, 1, "api", True) in after["records"]
    assert all(rolled for p, f, src, rolled in after["records"] if src == "engine")
    assert any(a == "rollback" and "period 1 rolled back" in d for a, d in after["audit"])
    assert ins.post(f"/api/games/{gid}/rollback", json={"period": 1}, headers=auth).status_code == 409  # nothing left to roll back
    assert ins.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=auth).status_code == 200
    again = stored(app, gid)
    assert again["snaps"] == once
    assert ins.get(f"/api/games/{gid}/rebuild-check", headers=auth).get_json() == {"ok": True, "differing_periods": []}


def test_an_announcement_reaches_every_team_or_one(app, room):
    gid, ins, auth = room["id"], room["ins"], room["auth"]
    assert ins.post(f"/api/games/{gid}/announce", json={"text": "Five minutes left"}, headers=auth).status_code == 200
    r = ins.post(f"/instructor/games/{gid}/announce", data={"firm": "1", "text": "Team 2: check your bond"})
    assert r.status_code == 302
    seen = [[a["text"] for a in t.get("/api/team/announcements", headers=h).get_json()["announcements"]]
            for t, h in zip(room["teams"], room["headers"])]
    assert seen == [["Five minutes left"], ["Team 2: check your bond", "Five minutes left"]]
    r = ins.post(f"/api/games/{gid}/announce", json={"text": "  "}, headers=auth)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "text"
    r = ins.post(f"/api/games/{gid}/announce", json={"text": "x", "firm": 9}, headers=auth)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "firm"


def test_the_home_page_lists_a_game_only_once_the_instructor_marks_it_public(app, room):
    anon = app.test_client()
    name = room["game"]["name"]
    assert name not in anon.get("/").get_data(as_text=True)
    assert anon.get("/api/games").get_json()["games"] == []
    assert room["ins"].post(f"/instructor/games/{room['id']}/options", data={"public": "true"}).status_code == 302
    assert name in anon.get("/").get_data(as_text=True)
    assert [g["id"] for g in anon.get("/api/games").get_json()["games"]] == [room["id"]]


def test_the_join_sheet_has_a_qr_code_and_the_join_link_for_each_team_seat(app, room):
    html = room["ins"].get(f"/instructor/games/{room['id']}/join-sheet").get_data(as_text=True)
    links = re.findall(r'class="qr" role="img" aria-label="[^"]*" data-link="([^"]+)"><svg', html)
    codes = room["game"]["join_codes"]
    assert links == [f"http://localhost/join?code={codes['0']}", f"http://localhost/join?code={codes['1']}"]  # bots need none
    assert app.test_client().get(f"/instructor/games/{room['id']}/join-sheet").status_code == 302  # the instructor's only


def test_the_join_sheet_warns_when_its_links_point_to_the_instructors_own_computer(app, room):
    """Seen in a play-through: a console opened at 127.0.0.1 or localhost prints QR codes no phone can open."""
    path = f"/instructor/games/{room['id']}/join-sheet"
    html = room["ins"].get(path + "?lang=zh_CN").get_data(as_text=True)
    assert 'id="loopback-warning"' in html and "这些链接指向 localhost，即本机" in html
    from crmsim.web.instructor import host_name, is_loopback

    assert [host_name(h) for h in ("192.168.1.20:5000", "localhost", "[::1]:5000", "class.example.edu")] == [
        "192.168.1.20", "localhost", "[::1]", "class.example.edu"]
    assert [is_loopback(h) for h in ("127.0.0.1", "127.0.1.1", "localhost", "[::1]", "192.168.1.20", "class.example.edu")] == [
        True, True, True, True, False, False]


def test_a_practice_period_is_played_then_the_game_starts_again_from_the_scenario(app, helpers):
    ins = signed_in_instructor(app, helpers)
    token = helpers.instructor_token(ins)
    auth = helpers.bearer(token)
    bots = {str(i): "balanced" for i in range(1, 6)}
    practice = helpers.api_create_game(ins, token, seed=8, bots=bots, practice=True)
    plain = helpers.api_create_game(ins, token, seed=8, bots=bots)
    assert (practice["period"], practice["practice"]) == (0, True)
    team = app.test_client()
    h = helpers.bearer(helpers.api_join(team, practice["join_codes"]["0"])["token"])
    assert team.post(f"/api/games/{practice['id']}/decision", json={"price": 150}, headers=h).status_code == 200
    # an announcement made during the practice period says so, not "Period 0"
    assert ins.post(f"/api/games/{practice['id']}/announce", json={"text": "warm-up"}, headers=auth).status_code == 200
    page = app.test_client()
    assert helpers.form_join(page, practice["join_codes"]["0"], with_csrf=False).status_code == 302
    notes = re.search(r'<section class="announcements".*?</section>', page.get("/team/?lang=en").get_data(as_text=True), re.S).group(0)
    assert "Practice period (not scored)" in notes and "Period 0" not in notes and "warm-up" in notes
    assert ins.post(f"/api/games/{practice['id']}/resolve", json={"period": 0}, headers=auth).status_code == 200
    after = stored(app, practice["id"])
    assert after["period"] == 1 and [p for p, _, _ in after["snaps"]] == [0]
    assert ins.get(f"/api/games/{practice['id']}/scoreboard").get_json()["ranking"] == []  # not scored
    board = ins.get(f"/scoreboard/{practice['id']}").get_data(as_text=True)
    assert "practice period is over" in board and 'id="practice-ranking"' in board and 'id="ranking"' not in board
    practice_rows = re.findall(r'<tr data-firm="(\d)"><td class="rank">(\d)</td>', board)
    assert sorted(rank for _, rank in practice_rows) == ["1", "2", "3", "4", "5", "6"]
    # period 1 starts from the scenario: it resolves exactly as in a game that had no practice
    for g in (practice, plain):
        assert ins.post(f"/api/games/{g['id']}/resolve", json={"period": 1}, headers=auth).status_code == 200
    rows = [[{k: v for k, v in r.items() if k != "name"} for r in stored(app, g["id"])["snaps"][-1][1]] for g in (practice, plain)]
    assert rows[0] == rows[1]


def test_a_game_set_to_resolve_at_its_deadline_resolves_once_on_the_next_poll(clock, app, room):
    gid, ins, auth = room["id"], room["ins"], room["auth"]
    clock.advance(16 * 60)  # past the 15-minute deadline
    assert ins.get(f"/api/games/{gid}/version").get_json()["period"] == 1  # not set to resolve: waits for the instructor
    assert ins.post(f"/api/games/{gid}/options", json={"auto_resolve": True}, headers=auth).get_json()["auto_resolve"] is True
    first = app.test_client().get(f"/api/games/{gid}/version").get_json()
    second = app.test_client().get(f"/api/games/{gid}/version").get_json()
    assert (first["period"], second["period"]) == (2, 2)
    after = stored(app, gid)
    assert [p for p, _, _ in after["snaps"]] == [1]
    assert [a for a, _ in after["audit"]].count("auto-resolve") == 1
    clock.advance(5 * 60)  # period 2's deadline is 15 minutes after the resolve
    assert app.test_client().get(f"/api/games/{gid}/version").get_json()["period"] == 2


def test_the_team_page_shows_the_announcements_for_it(app, room, helpers):
    gid, ins = room["id"], room["ins"]
    ins.post(f"/instructor/games/{gid}/announce", data={"text": "Bids close at 10:30"})
    ins.post(f"/instructor/games/{gid}/announce", data={"firm": "1", "text": "Only for team 2"})
    page = app.test_client()
    assert helpers.form_join(page, room["game"]["join_codes"]["0"], with_csrf=False).status_code == 302
    html = page.get("/team/").get_data(as_text=True)
    assert 'id="announcements"' in html and "Bids close at 10:30" in html and "Only for team 2" not in html


def test_the_export_headers_follow_the_chosen_language(app, room):
    import csv
    import io
    import zipfile

    import openpyxl

    gid, ins = room["id"], room["ins"]
    assert ins.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=room["auth"]).status_code == 200
    heads = {}
    for lang in ("en", "zh_CN"):
        z = zipfile.ZipFile(io.BytesIO(ins.get(f"/instructor/games/{gid}/export.zip?lang={lang}").data))
        heads[lang] = next(csv.reader(io.StringIO(z.read("results.csv").decode("utf-8"))))
        bids = next(csv.reader(io.StringIO(z.read("bids.csv").decode("utf-8"))))
        assert ("void_reason" in bids) == (lang == "en") and ("废标原因" in bids) == (lang == "zh_CN")
    assert dict(zip(heads["en"], heads["zh_CN"]))["operating_profit"] == "营业利润"
    assert dict(zip(heads["en"], heads["zh_CN"]))["rank"] == "排名"
    wb = openpyxl.load_workbook(io.BytesIO(ins.get(f"/instructor/games/{gid}/export.xlsx?lang=zh_CN").data), read_only=True)
    first = [c.value for c in next(wb["决策"].iter_rows(max_row=1))]  # the sheets are named in the language too
    assert first[:4] == ["编号", "期", "企业序号", "团队"] and "回退时间" in first


@pytest.fixture
def exported(app, room):
    """Two periods of the room's game, team 1 bidding above a tender's cap (void, ABOVE_CAP) and cultivating a client,
    then the CSV zip and the workbook in English and in Chinese: {"zip": {lang: ZipFile}, "xlsx": {lang: bytes}, ...}."""
    import io
    import zipfile

    gid, team, h = room["id"], room["teams"][0], room["headers"][0]
    t = team.get("/api/team", headers=h).get_json()["tenders"][0]
    client = t["id"].rpartition("-")[0]
    sent = {"bids": {t["id"]: {"price": t["price_cap"] + 5, "promised_service": 0.9}}, "cultivation": {client: 5000}}
    assert team.post(f"/api/games/{gid}/decision", json=sent, headers=h).status_code == 200
    for period in (1, 2):
        assert room["ins"].post(f"/api/games/{gid}/resolve", json={"period": period}, headers=room["auth"]).status_code == 200
    out = {"sent": sent, "tender": t["id"], "zip": {}, "xlsx": {}}
    for lang in ("en", "zh"):
        query = "en" if lang == "en" else "zh_CN"
        out["zip"][lang] = zipfile.ZipFile(io.BytesIO(room["ins"].get(f"/instructor/games/{gid}/export.zip?lang={query}").data))
        out["xlsx"][lang] = room["ins"].get(f"/instructor/games/{gid}/export.xlsx?lang={query}").data
    return out


def csv_table(exported, lang: str, name: str):
    import pandas as pd

    return pd.read_csv(exported["zip"][lang].open(f"{name}.csv"), dtype=str, keep_default_na=False)


def sheet_rows(exported, lang: str, sheet: str) -> list[dict]:
    import io

    import openpyxl

    rows = list(openpyxl.load_workbook(io.BytesIO(exported["xlsx"][lang]), read_only=True)[sheet].values)
    return [dict(zip(rows[0], r)) for r in rows[1:]]


NESTED = ("activities", "research", "care_split", "cultivation", "bids")


def test_nested_decision_fields_are_json_text_in_the_csv_and_the_workbook(exported):
    """bids, cultivation, activities, research and care_split: JSON (keys sorted, Chinese unescaped), never a Python repr."""
    import json

    decisions = csv_table(exported, "en", "decisions")
    sent = decisions[decisions["source"] == "api"].iloc[0]
    assert json.loads(sent["bids"]) == exported["sent"]["bids"]
    assert json.loads(sent["cultivation"]) == exported["sent"]["cultivation"]
    for column in NESTED:
        for text in decisions[column]:
            assert isinstance(json.loads(text), (dict, list)), (column, text)
            assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
    book = sheet_rows(exported, "en", "decisions")
    assert [json.loads(r["bids"]) for r in book] == [json.loads(b) for b in decisions["bids"]]
    assert all(isinstance(json.loads(r[c]), (dict, list)) for r in book for c in NESTED)
    zh = csv_table(exported, "zh", "decisions")
    assert list(zh["投标"]) == list(decisions["bids"])  # JSON is data: the same in both languages


def test_counts_and_indexes_are_integers_in_the_csv_and_the_workbook(exported):
    """Firm indexes, ranks, winners (Int64 where missing) and counts read back as integers, not 0.0 or 3.0."""
    import re

    from crmsim.sim.frames import read_csv

    zipped = exported["zip"]["en"]
    events = read_csv(zipped.open("events.csv"), "events")
    assert str(events["firm"].dtype) == "Int64" and events["firm"].isna().any() and events["firm"].notna().any()
    bids = read_csv(zipped.open("bids.csv"), "bids")
    assert str(bids["rank"].dtype) == "Int64" and str(bids["firm"].dtype) == "int64"
    assert bids["rank"].isna().any()  # the void bid has no rank
    assert str(read_csv(zipped.open("tenders.csv"), "tenders")["winner"].dtype) == "Int64"
    whole = re.compile(r"^\d+$")
    for name, columns in {"events": ["firm"], "bids": ["firm", "rank"], "tenders": ["winner", "volume", "bids"],
                          "results": ["firm", "customers", "complaints", "rank"], "customers": ["customers", "tier_a"],
                          "decisions": ["id", "firm", "hire_sales"]}.items():
        table = csv_table(exported, "en", name)
        for c in columns:
            cells = [v for v in table[c] if v != ""]
            assert cells and all(whole.match(v) for v in cells), (name, c, cells[:5])
    for sheet, columns in {"events": ["firm"], "bids": ["firm", "rank"], "tenders": ["winner"], "results": ["customers", "rank"]}.items():
        for row in sheet_rows(exported, "en", sheet):
            for c in columns:
                assert row[c] is None or type(row[c]) is int, (sheet, c, row[c])


def test_the_chinese_export_translates_fixed_words_and_keeps_free_text(exported):
    """是/否 for booleans, the void reason and the event kinds in Chinese, Chinese sheet names; team names as typed."""
    from crmsim.sim.tenders import VOID_REASONS
    from crmsim.web.export_headers import SHEETS_ZH, VOID_REASONS_ZH

    assert set(VOID_REASONS_ZH) == set(VOID_REASONS)
    en_bids, zh_bids = csv_table(exported, "en", "bids"), csv_table(exported, "zh", "bids")
    assert set(en_bids["valid"]) == {"True", "False"} and set(zh_bids["有效"]) == {"是", "否"}
    assert "ABOVE_CAP" in set(en_bids["void_reason"]) and "超过限价" in set(zh_bids["废标原因"])
    en_events, zh_events = csv_table(exported, "en", "events"), csv_table(exported, "zh", "events")
    assert {"tender_awarded", "instructor:resolve"} <= set(en_events["kind"])
    assert {"中标", "教师:结算"} <= set(zh_events["类型"])
    assert list(zh_events["详情"]) == list(en_events["detail"])  # the log's details are text, kept as written
    assert set(csv_table(exported, "zh", "decisions")["团队"]) == set(csv_table(exported, "en", "decisions")["team"])
    for name in exported["zip"]["zh"].namelist():  # no code or boolean left, but in the engine's details (its words)
        if not exported["zip"]["zh"].read(name).strip():
            continue  # a table with no rows (no adjustments in this game)
        table = csv_table(exported, "zh", name.removesuffix(".csv"))
        cells = {v for c in table.columns if c not in ("详情", "废标详情") for v in table[c]}
        assert not cells & {"ABOVE_CAP", "True", "False", "tender_awarded", "lot"}, name
    import io

    import openpyxl

    names = {lang: openpyxl.load_workbook(io.BytesIO(exported["xlsx"][lang]), read_only=True).sheetnames for lang in ("en", "zh")}
    assert names["zh"] == [SHEETS_ZH[n] for n in names["en"]] and names["en"][0] == "decisions"
    assert {r["有效"] for r in sheet_rows(exported, "zh", "投标")} == {"是", "否"}
    assert {r["valid"] for r in sheet_rows(exported, "en", "bids")} == {True, False}


def visible_words(html: str) -> set[str]:
    """The Latin words a reader sees on a page (scripts, styles and tags removed)."""
    import html as entities

    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return set(re.findall(r"[A-Za-z]{2,}", entities.unescape(re.sub(r"<[^>]+>", " ", text))))


def test_the_console_scoreboard_and_debrief_in_chinese_show_no_english_words(app, room):
    """Allowed: the brand, the language switch, units and file kinds, and the class's own names (game, teams, codes)."""
    gid, ins = room["id"], room["ins"]
    ins.post(f"/api/games/{gid}/adjust", json={"firm": 0, "amount": 1000, "reason": "课堂表现好"}, headers=room["auth"])
    ins.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=room["auth"])
    names = set()
    for n in [room["game"]["name"], *[t["name"] for t in room["game"]["teams"]], *room["game"]["join_codes"].values()]:
        names |= set(re.findall(r"[A-Za-z]{2,}", n))
    allowed = names | {"crmsim", "CRM", "English", "CSV", "zip", "Excel", "UTC"}
    for path in (f"/instructor/games/{gid}", f"/scoreboard/{gid}", f"/scoreboard/{gid}?projector=1", f"/debrief/{gid}",
                 f"/debrief/{gid}/team/0", "/instructor/"):
        html = ins.get(path + ("&" if "?" in path else "?") + "lang=zh_CN").get_data(as_text=True)
        assert visible_words(html) - allowed == set(), path


def test_rolling_back_the_practice_period_reopens_it(app, helpers):
    ins = signed_in_instructor(app, helpers)
    token = helpers.instructor_token(ins)
    auth = helpers.bearer(token)
    game = helpers.api_create_game(ins, token, seed=8, bots={str(i): "balanced" for i in range(6)}, practice=True)
    gid = game["id"]
    assert ins.post(f"/api/games/{gid}/resolve", json={"period": 0}, headers=auth).status_code == 200
    practice = stored(app, gid)["snaps"]
    assert ins.post(f"/api/games/{gid}/rollback", json={"period": 0}, headers=auth).get_json()["period"] == 0
    assert ins.get(f"/api/games/{gid}").get_json()["practice"] is True
    assert ins.post(f"/api/games/{gid}/resolve", json={"period": 0}, headers=auth).status_code == 200
    assert stored(app, gid)["snaps"] == practice


def test_the_new_game_form_sets_practice_public_and_automatic_resolve(app, helpers):
    ins = signed_in_instructor(app, helpers)
    r = ins.post("/instructor/games", data={"scenario": "classroom-v1", "seed": "2", "practice": "true", "public": "true",
                                           "auto_resolve": "true", "bot_5": "premium"})
    assert r.status_code == 302
    gid = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    g = app.test_client().get(f"/api/games/{gid}").get_json()
    assert (g["period"], g["practice"], g["public"], g["auto_resolve"]) == (0, True, True, True)
    assert g["teams"][5]["bot"] == "premium"
    r = ins.post("/instructor/games", data={"scenario": "classroom-v1", "seed": "2"})
    g = app.test_client().get(f"/api/games/{int(r.headers['Location'].rsplit('/', 1)[1])}").get_json()
    assert (g["period"], g["practice"], g["public"], g["auto_resolve"]) == (1, False, False, False)


def test_every_shipped_bot_has_a_name_in_words():
    from crmsim.agents.bots import BUILT_IN
    from crmsim.web.i18n import BOT_NAMES

    assert set(BUILT_IN) <= set(BOT_NAMES)


def flashes(html: str) -> list[str]:
    import html as entities

    return [entities.unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(r'<(?:p|div) class="flash error"[^>]*>(.*?)</(?:p|div)>', html, re.S)]


@pytest.mark.parametrize("action, form, zh, en", [
    ("extend", {"minutes": "100000"}, "分钟数：不能大于 1440（填写的是 100000）", "Minutes: must be at most 1440; got 100000"),
    ("adjust", {"firm": "0", "amount": "abc", "reason": "迟到"}, "金额：必须是数字（填写的是 abc）", "Amount: "),
    ("adjust", {"firm": "0", "amount": "-2500", "reason": "   "}, "原因：", "Reason: "),
    ("rollback", {}, "期数：尚未结算任何一期：无可回退", "Period: no period has been resolved yet: nothing to roll back"),
    ("announce", {"firm": "9", "text": "hi"}, "团队：没有这个席位：共有 6 个席位（填写的是 9）", "Team: no such seat: the game seats 6 teams (0 to 5); got 9"),
])
def test_a_refused_console_action_names_the_field_in_words_the_rule_and_the_value_in_the_pages_language(app, room, action, form, zh, en):
    gid, ins = room["id"], room["ins"]
    r = ins.post(f"/instructor/games/{gid}/{action}?lang=zh_CN", data=form)
    assert r.status_code in (400, 409)
    shown = flashes(r.get_data(as_text=True))
    assert len(shown) == 1 and shown[0].startswith(zh), shown
    words = re.sub(r"（填写的是 .*）$", "", shown[0])  # the value as typed may be anything
    assert re.findall(r"[A-Za-z_]{2,}", words) == [], shown  # no field ids, no English rules on a Chinese page
    r = ins.post(f"/instructor/games/{gid}/{action}?lang=en", data=form)
    assert flashes(r.get_data(as_text=True))[0].startswith(en)
    assert stored(app, gid)["snaps"] == []  # nothing changed


def test_a_new_game_refused_on_a_chinese_page_says_why_in_chinese(app, helpers):
    ins = signed_in_instructor(app, helpers)
    r = ins.post("/instructor/games?lang=zh_CN", data={"scenario": "classroom-v1", "seed": "1", "teams": "\n".join("ABCDEFG")})
    assert r.status_code == 400
    assert "无法创建游戏：团队名称：最多 6 个名称：本情景有 6 个席位（填写的是 7）" in flashes(r.get_data(as_text=True))
    r = ins.post("/instructor/games?lang=zh_CN", data={"scenario": "classroom-v1", "seed": "1", "period_minutes": "99999"})
    shown = flashes(r.get_data(as_text=True))
    assert shown and shown[0].startswith("无法创建游戏：每期分钟数：") and not re.search(r"[A-Za-z_]{2,}", shown[0]), shown


def test_a_join_with_an_unknown_code_says_so_in_chinese(app):
    r = app.test_client().post("/join?lang=zh_CN", data={"code": "ZZZZZZ"})
    assert r.status_code == 404
    assert "加入码：没有团队使用此加入码（填写的是 ZZZZZZ）" in r.get_data(as_text=True)


def test_naming_only_the_human_teams_on_the_new_game_form_creates_the_game(app, helpers):
    """Seen in a play-through: 4 team names for 4 human teams and 2 bot seats were refused ("the scenario seats 6 teams")."""
    ins = signed_in_instructor(app, helpers)
    r = ins.post("/instructor/games?lang=zh_CN", data={"scenario": "classroom-v2", "seed": "1", "teams": "红队\n蓝队\nGreen\nYellow",
                                                       "bot_4": "balanced", "bot_5": "price_cutter", "practice": "true"})
    assert r.status_code == 302
    game = ins.get("/api/games", headers=helpers.bearer(helpers.instructor_token(ins))).get_json()["games"][0]
    assert [t["name"] for t in game["teams"]][:4] == ["红队", "蓝队", "Green", "Yellow"] and game["period"] == 0


def test_a_refused_new_game_form_shows_every_problem_and_keeps_what_was_typed(app, helpers):
    """Bad input loses nothing: each problem is named (pydantic's words as the app words its rules; a 0 is still
    echoed as the value given) and the form comes back as typed, pasted scenario and seat choices included."""
    ins = signed_in_instructor(app, helpers)
    form = {"scenario": "", "scenario_toml": 'extends = "classroom-v1"\nname = "ours-v1"\n', "name": "Bad game", "seed": "abc",
            "period_minutes": "0", "teams": "Red\nBlue", "bot_2": "premium", "practice": "true"}
    r = ins.post("/instructor/games?lang=en", data=form)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    shown = flashes(html)
    assert "Could not create the game: Seed: must be a whole number; got abc" in shown, shown
    assert "Could not create the game: Minutes per period: must be at least 0.5; got 0" in shown, shown
    assert 'value="Bad game"' in html and 'id="seed" type="number" min="0" value="abc"' in html
    assert ">Red\nBlue</textarea>" in html and 'name = &#34;ours-v1&#34;' in html
    assert re.search(r'<option value="" data-firms="\d+" selected>', html) and '<option value="premium" selected>' in html
    assert 'name="practice" id="practice" value="true" checked' in html
    assert app.test_client().get("/api/games", headers=helpers.bearer(helpers.instructor_token(app.test_client()))).get_json()["games"] == []


def test_a_pasted_scenario_with_a_catalogue_name_chosen_says_which_menu_entry_to_pick(app, helpers):
    ins = signed_in_instructor(app, helpers)
    toml = 'extends = "classroom-v1"\nname = "ours-v1"\n'
    r = ins.post("/instructor/games?lang=en", data={"scenario": "classroom-v1", "scenario_toml": toml, "seed": "1"})
    shown = flashes(r.get_data(as_text=True))
    assert any("give a catalogue name or an uploaded scenario, not both" in s for s in shown), shown
    assert "To play the pasted scenario file, choose “the scenario file pasted below” in the Scenario menu." in shown
    assert "ours-v1" in r.get_data(as_text=True)  # the pasted text is still there


def test_a_refused_console_form_comes_back_as_typed(app, room):
    gid, ins = room["id"], room["ins"]
    r = ins.post(f"/instructor/games/{gid}/adjust?lang=en", data={"firm": "3", "amount": "lots", "reason": "late again"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'value="lots"' in html and 'value="late again"' in html
    assert re.search(r'<option value="3" selected>', html)
    r = ins.post(f"/instructor/games/{gid}/extend?lang=en", data={"minutes": "-5"})
    assert 'value="-5"' in r.get_data(as_text=True) and "Minutes: must be at least 0; got -5" in flashes(r.get_data(as_text=True))
    assert 'value="lots"' not in ins.get(f"/instructor/games/{gid}").get_data(as_text=True)  # a fresh console is empty
