"""The web UI speaks Simplified Chinese and English (Flask-Babel).

Covers the locale choice (?lang=, the session, Accept-Language), Chinese rendering
of the main pages, and the health of the catalogue in web/translations: every
msgid translated, no fuzzy entries, placeholders kept, the .mo in step with the
.po, and no string marked for translation in web/ missing from the catalogue.
"""

from __future__ import annotations

import gettext
import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from crmsim.web import create_app

WEB = Path(__file__).resolve().parents[2] / "web"
TRANSLATIONS = WEB / "translations"

HOME_EN = "The classroom CRM bidding game"
HOME_ZH = "课堂 CRM 投标游戏"

# Chinese game and team names, so that any Latin word left in a heading is UI text.
GAME_NAME = "市场营销二班"
TEAM_NAMES = ["甲队", "乙队", "丙队", "丁队", "戊队", "己队", "庚队", "辛队"]
# Latin text that is fine on a Chinese page: brand, acronyms, scenario id, the language switch.
ALLOWED_LATIN = {"crmsim", "CRM", "ABC", "UTC", "CSV", "Excel", "zip", "English", "classroom-v1"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?([diouxXeEfFgGcrs])")


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture()
def app(tmp_path):
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
            "SECRET_KEY": "x",
            "WTF_CSRF_ENABLED": False,
            "INSTRUCTOR_PASSWORD": "secret-pass",
        }
    )


@pytest.fixture()
def client(app):
    return app.test_client()


def _po_path() -> Path:
    paths = sorted(TRANSLATIONS.glob("zh*/LC_MESSAGES/messages.po"))
    assert paths, f"no Chinese catalogue under {TRANSLATIONS}"
    return paths[0]


@pytest.fixture(scope="module")
def catalog():
    with _po_path().open("rb") as f:
        return read_po(f)


def _sign_in(client) -> None:
    r = client.post("/login", data={"password": "secret-pass"})
    assert r.status_code == 302, r.get_data(as_text=True)


def _new_game(client) -> str:
    """Create a game; return the console's URL."""
    from crmsim.scenarios import load_scenario

    seats = load_scenario("classroom-v1").firms.count
    r = client.post(
        "/instructor/games",
        data={"scenario": "classroom-v1", "seed": "1", "name": GAME_NAME, "teams": "\n".join(TEAM_NAMES[:seats])},
    )
    assert r.status_code == 302 and "/instructor/games/" in r.headers["Location"], r.get_data(as_text=True)
    return r.headers["Location"]


def _headings(html: str) -> list[str]:
    """Text of the page's title, headings, legends, table headers, labels and buttons."""
    found = re.findall(r"<(title|h[1-3]|legend|th|button|label)\b[^>]*>(.*?)</\1>", html, flags=re.S)
    out = []
    for _tag, inner in found:
        inner = re.sub(r"<(code|option|select|textarea)\b.*?</\1>", " ", inner, flags=re.S)
        text = " ".join(unescape(re.sub(r"<[^>]+>", " ", inner)).split())
        if text:
            out.append(text)
    return out


def _english_words(texts: list[str]) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9'\-]*[A-Za-z0-9]", " ".join(texts))
    return sorted({w for w in words if w not in ALLOWED_LATIN})


def _assert_chinese(html: str, page: str) -> None:
    assert '<html lang="zh-CN">' in html, page
    heads = _headings(html)
    assert heads, f"{page}: no headings found"
    assert not _english_words(heads), f"{page}: untranslated text in headings: {_english_words(heads)} in {heads}"


# -- choosing the language ---------------------------------------------------------------


def test_home_is_english_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert HOME_EN in html
    assert HOME_ZH not in html
    assert '<html lang="en">' in html


def test_lang_parameter_switches_to_chinese(client):
    html = client.get("/?lang=zh_CN").get_data(as_text=True)
    assert HOME_ZH in html
    assert HOME_EN not in html
    assert '<html lang="zh-CN">' in html


def test_language_choice_sticks_in_the_session(client):
    client.get("/?lang=zh_CN")
    with client.session_transaction() as s:
        assert s.get("lang") == "zh_CN"
    html = client.get("/").get_data(as_text=True)
    assert HOME_ZH in html and '<html lang="zh-CN">' in html
    # ... and switching back sticks too, whatever the browser prefers
    client.get("/?lang=en")
    html = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert HOME_EN in html and '<html lang="en">' in html


def test_unknown_lang_parameter_is_ignored(client):
    html = client.get("/?lang=xx").get_data(as_text=True)
    assert HOME_EN in html
    with client.session_transaction() as s:
        assert "lang" not in s


ZH_HEADERS = ["zh-CN", "zh", "zh-Hans", "zh-Hans-CN", "zh-CN,zh;q=0.9,en;q=0.8", "fr, zh;q=0.5"]
EN_HEADERS = ["en-US", "en-GB,en;q=0.9", "en-US,en;q=0.9,zh-CN;q=0.8", "fr", "*", ""]


def test_accept_language_alone_chooses_the_language(app):
    for header in ZH_HEADERS:
        html = app.test_client().get("/", headers={"Accept-Language": header}).get_data(as_text=True)
        assert HOME_ZH in html and '<html lang="zh-CN">' in html, header
    for header in EN_HEADERS:
        html = app.test_client().get("/", headers={"Accept-Language": header}).get_data(as_text=True)
        assert HOME_EN in html and '<html lang="en">' in html, header


# -- pages in Chinese ---------------------------------------------------------------------


def test_home_page_in_chinese(client):
    _assert_chinese(client.get("/?lang=zh_CN").get_data(as_text=True), "home")


def test_login_page_in_chinese(client):
    r = client.get("/login?lang=zh_CN")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "教师登录" in html
    _assert_chinese(html, "login")


def test_wrong_password_message_in_chinese(client):
    client.get("/?lang=zh_CN")
    html = client.post("/login", data={"password": "wrong-pass"}).get_data(as_text=True)
    assert "密码：不正确" in html


def test_instructor_console_in_chinese(client):
    _sign_in(client)
    html = client.get("/instructor/?lang=zh_CN").get_data(as_text=True)
    assert "教师控制台" in html
    _assert_chinese(html, "instructor index")
    console = _new_game(client)
    html = client.get(console).get_data(as_text=True)
    assert GAME_NAME in html
    assert "游戏已创建" in html  # the flash message
    _assert_chinese(html, "instructor console")


def test_language_choice_survives_sign_in(client):
    """Signing in must not drop the language the visitor chose (logout and join keep it)."""
    client.get("/?lang=zh_CN")
    _sign_in(client)
    html = client.get("/instructor/").get_data(as_text=True)
    assert "教师控制台" in html


def test_team_page_in_chinese(app, client):
    _sign_in(client)
    console = _new_game(client)
    codes = re.findall(r'<code class="join-code">([^<]+)</code>', client.get(console).get_data(as_text=True))
    assert codes, "no join code on the console"

    team = app.test_client()
    html = team.get("/join?lang=zh_CN").get_data(as_text=True)
    _assert_chinese(html, "join")
    bad = team.post("/join", data={"code": "ZZZZZZ"}).get_data(as_text=True)
    assert "没有团队使用此加入码" in bad  # the service's rule, translated
    r = team.post("/join", data={"code": codes[0]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/team/")
    html = team.get("/team/").get_data(as_text=True)  # the language survived the join
    assert "大众市场" in html and "提交决策" in html
    assert "欢迎" in html  # the welcome flash
    _assert_chinese(html, "team dashboard")


def test_404_page_in_chinese(client):
    r = client.get("/no-such-page?lang=zh_CN")
    assert r.status_code == 404
    assert "页面不存在" in r.get_data(as_text=True)


# -- the catalogue -----------------------------------------------------------------------


def test_catalogue_is_complete(catalog):
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    untranslated = [m.id for m in messages if not m.string or not str(m.string).strip()]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not list(catalog.obsolete), f"obsolete entries: {list(catalog.obsolete)}"


def test_placeholders_match(catalog):
    for m in catalog:
        if not m.id:
            continue
        assert isinstance(m.id, str), f"plural entries are not expected: {m.id}"
        src = sorted(PLACEHOLDER.findall(m.id))
        dst = sorted(PLACEHOLDER.findall(m.string))
        assert src == dst, f"{m.id!r}: placeholders {src} became {dst} in {m.string!r}"
        values = {name: 1 for name, _conv in src}
        try:
            m.id % values
        except (TypeError, ValueError, KeyError):
            continue  # not a format string (e.g. a literal "80% of" never formatted)
        # Jinja's newstyle gettext always formats, so "%%" must stay "%%" and no lone "%" may appear
        m.string % values


def test_mo_matches_po(catalog):
    mo = _po_path().with_suffix(".mo")
    assert mo.exists(), "run: pybabel compile -d web/translations"
    with mo.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = [m.id for m in catalog if m.id and compiled.gettext(m.id) != m.string]
    assert not stale, f".mo is older than the .po (run pybabel compile -d web/translations): {stale[:5]}"


def test_every_marked_string_is_in_the_catalogue(catalog):
    """Strings wrapped in _() in web/ must be in the .po (run pybabel extract + update)."""
    with (WEB / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    marked = {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _context in extract_from_dir(
            str(WEB), method_map, options_map, keywords=keywords
        )
    }
    missing = sorted(marked - {m.id for m in catalog if m.id})
    assert not missing, f"not in the catalogue (re-extract and translate): {missing}"


def test_babel_finds_the_chinese_catalogue(app):
    """Babel normalises zh_CN to zh_Hans_CN; the catalogue must be found under that name."""
    from flask_babel import get_locale, gettext as _

    with app.test_request_context("/?lang=zh_CN"):
        assert str(get_locale()).startswith("zh")
        assert _("Instructor") == "教师"


def test_abnormally_low_message_names_the_scenarios_threshold(app):
    """The ABNORMALLY_LOW text states the game scenario's tenders.abnormally_low_ratio, in both languages."""
    from crmsim.web.i18n import void_reason_text

    for ratio, percent in ((0.8, "80"), (0.65, "65")):
        scenario = {"tenders": {"abnormally_low_ratio": ratio}}
        with app.test_request_context("/?lang=en"):
            assert void_reason_text("ABNORMALLY_LOW", scenario) == f"abnormally low: below {percent} percent of the other valid bids' mean"
        with app.test_request_context("/?lang=zh_CN"):
            assert void_reason_text("ABNORMALLY_LOW", scenario) == f"异常低价：低于其他有效报价平均值的百分之{percent}"
    with app.test_request_context("/?lang=en"):
        assert void_reason_text("NO_BOND", {"tenders": {"abnormally_low_ratio": 0.5}}) == "cash cannot cover the bid bond"


def test_a_refusal_names_the_field_in_words_and_never_shows_an_internal_state_as_the_value(app):
    from crmsim.web.i18n import refusal_text

    with app.test_request_context("/?lang=zh_CN"):
        assert refusal_text("promised_service", "must be a number in [0, 1]", 1.5) == "承诺服务：必须是 0 到 1 之间的数字（填写的是 1.5）"
        assert "open" not in refusal_text("status", "a replay is possible once the game is finished: the rest of the game is not public before", "open")
    with app.test_request_context("/?lang=en"):
        assert refusal_text("promised_service", "must be a number in [0, 1]", 1.5) == "Promised service: must be a number in [0, 1]; got 1.5"


ENGINE_RULES = [  # crmsim.sim.decisions' rules a hand-made or API decision can meet, as the engine words them
    "must be a mapping of client id to spend", "must be a mapping of tender id to {price, promised_service}",
    "must be a mapping of client id to a list of activities", "must be a list of activities",
    "must be {rivals: [client ids], survey: customers, forecast: true/false}", "allowed keys are rivals, survey and forecast",
    "must be a mapping of tier (A, B, C) to a share of the care budget", "must be a mapping of field names to values",
    "the tender is closed (LATE); open now: none", "must be > 0 and <= 200", "must be >= 0 and <= 1",
    "4 sales staff can cultivate at most 2 clients", "3 sales staff can bid at most 6 tenders per period",
    "need 130 sales hours; 3 sales staff have 120 (40 each)", "shares must add up to 1", "unknown tier; tiers: A, B, C",
    "visit counts at the target or evaluation stage; haier is at the potential stage",
    "not a published tender (a scheduled one opens in its period); open now: mengniu-01, lenovo-01",
]


def test_a_limit_the_engine_writes_in_scientific_notation_reads_in_full(app):
    from crmsim.web.i18n import rule_text

    with app.test_request_context("/?lang=en"):
        assert rule_text("must be > 0 and <= 1e+12") == "must be > 0 and <= 1,000,000,000,000"
    with app.test_request_context("/?lang=zh_CN"):
        assert "1,000,000,000,000" in rule_text("must be > 0 and <= 1e+12") and "e+" not in rule_text("must be > 0 and <= 1e+12")


def test_a_stage_rule_reads_in_words_in_english_without_the_clients_id(app):
    from crmsim.web.i18n import rule_text

    with app.test_request_context("/?lang=en"):
        text = rule_text("visit counts at the target or evaluation stage; haier is at the potential stage")
    assert text == "visit counts only at the target or evaluation stage; you are at the potential stage with this client"


@pytest.mark.parametrize("rule", ENGINE_RULES)
def test_every_rule_of_the_engine_reads_in_chinese(app, rule):
    from crmsim.web.i18n import rule_text

    with app.test_request_context("/?lang=zh_CN"):
        text = rule_text(rule)
    assert set(re.findall(r"[A-Za-z_]{2,}", text)) <= {"A", "B", "C"}, text
