"""End to end in a real browser: instructor, a team and the projector scoreboard against a real `crmsim serve`.

Needs Debian's chromium at /usr/bin/chromium (driven by Playwright, which
never downloads a browser here). Without it the test is skipped, except with
CI=true where it fails. Screenshots go to test-artifacts/ at the repository root.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import PASSWORD, Api, LiveServer  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
BOTS = {1: "balanced", 2: "premium", 3: "price_cutter", 4: "relationship", 5: "adaptive"}  # seats 2-6

pytestmark = pytest.mark.slow  # a server start and a browser: about 15 s


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    _need(CHROMIUM.exists(), f"no browser: {CHROMIUM} is missing (apt-get install chromium; never `playwright install` here)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the Python playwright package is not installed (pip install -e .[test])")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("browser") / "instance") as srv:
        yield srv


def _api_game(live) -> dict:
    ins = Api.instructor(live.url)
    return ins.post("/api/games", {"scenario": "classroom-v1", "seed": 5, "bots": {str(k): v for k, v in BOTS.items()}})


def _watch(page, problems: list[str], who: str) -> None:
    """Collect JavaScript errors and failed or 5xx requests of a page."""
    page.on("pageerror", lambda e: problems.append(f"{who}: page error: {e}"))
    # a fetch the browser cancels because the page navigates away (a poll or a draft save in flight) is
    # ERR_ABORTED: that is the browser's doing, not a failure of the server
    page.on("requestfailed", lambda r: problems.append(f"{who}: request failed: {r.url} {r.failure}")
            if "ERR_ABORTED" not in str(r.failure) else None)
    page.on("response", lambda r: problems.append(f"{who}: HTTP {r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)


def test_instructor_team_and_live_scoreboard_in_chromium(browser, live):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # CI shares 2 cores with the other tests

    ARTIFACTS.mkdir(exist_ok=True)
    base = live.url
    problems: list[str] = []
    viewport = {"width": 1366, "height": 900}
    instructor_ctx = browser.new_context(viewport=viewport, locale="en-US")
    team_ctx = browser.new_context(viewport=viewport, locale="en-US")
    board_ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    for ctx in (instructor_ctx, team_ctx, board_ctx):  # generous: CI shares 2 cores with the other tests
        ctx.set_default_timeout(30_000)
    try:
        # -- the instructor signs in and creates a classroom game, bots in seats 2-6
        ins = instructor_ctx.new_page()
        _watch(ins, problems, "instructor")
        ins.goto(f"{base}/login")
        ins.fill("#password", PASSWORD)
        ins.click("#signin")
        ins.wait_for_url(re.compile(r"/instructor/$"))
        ins.select_option("#scenario", "classroom-v1")
        ins.fill("#seed", "7")
        for seat, bot in BOTS.items():
            ins.select_option(f"select[name=bot_{seat}]", bot)
        ins.click("#create-game")
        ins.wait_for_url(re.compile(r"/instructor/games/\d+$"))
        game_id = int(ins.url.rstrip("/").rsplit("/", 1)[1])
        codes = ins.locator("code.join-code")
        expect(codes).to_have_count(1)  # team 1 only; the other five seats are bots
        code = codes.first.inner_text().strip()
        assert re.fullmatch(r"[A-Z2-9]{6}", code), code
        expect(ins.locator("#teams")).to_contain_text("⚙ Adaptive")  # bots by name, not id

        # -- a team joins with the code, fills a decision with a bid, submits
        team = team_ctx.new_page()
        _watch(team, problems, "team")
        team.goto(f"{base}/join")
        team.fill("#code", code.lower())  # codes are case-insensitive
        team.click("#join")
        team.wait_for_url(re.compile(r"/team/$"))
        expect(team.locator("h1")).to_contain_text("Aurora")
        expect(team.locator("#preview-total")).to_be_visible(timeout=30_000)  # the live cost preview (API with the page's token)
        team.fill("#f-price", "96")
        team.fill("#f-service_level", "0.7")
        tender = team.locator(".tender").first
        tender_id = tender.get_attribute("data-tender")
        assert tender_id, "no open tender in period 1"
        team.fill(f"[id='f-bids-{tender_id}-price']", "85")
        team.fill(f"[id='f-bids-{tender_id}-promised_service']", "0.7")
        team.click("#submit-decision")
        team.wait_for_load_state()
        expect(team.locator("#submitted-flag")).to_contain_text("submitted")
        expect(team.locator(".flash").first).to_contain_text("Decision submitted for period 1")
        assert team.input_value("#f-price") == "96" and team.input_value("#f-service_level") == "0.7"

        ins.reload()
        expect(ins.locator("tr[data-firm='0'] td.submitted")).to_contain_text("✔")

        # -- the projector opens the scoreboard before any result; the page runs on Playwright's clock, stopped,
        #    so its timers (the poll, the countdown) fire only when the test moves that clock
        board = board_ctx.new_page()
        _watch(board, problems, "scoreboard")
        board.clock.install()
        board.goto(f"{base}/scoreboard/{game_id}")
        expect(board.locator("#board")).to_contain_text("No period resolved yet")
        expect(board.locator("#ranking")).to_have_count(0)
        board.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads or navigates
        poll_ms = 1000 * float(board.locator("#board").get_attribute("data-poll"))
        assert poll_ms == 3000  # the scoreboard polls every 3 s (POLL_SECONDS)
        _stop_page_clock(board)

        # -- the instructor resolves period 1
        ins.click("#resolve")
        ins.wait_for_load_state()
        expect(ins.locator(".flash").first).to_contain_text("Period 1 resolved")
        expect(board.locator("#board")).to_contain_text("No period resolved yet")  # nothing has polled since

        # -- one poll interval later on the page's clock, the scoreboard shows period 1, without a reload
        board.clock.run_for(int(poll_ms))
        expect(board.locator("#ranking")).to_be_visible(timeout=30_000)
        board.clock.resume()
        assert board.evaluate("window.__sameDocument") == "yes", "the scoreboard reloaded instead of updating live"
        rows = board.locator("#ranking tbody tr")
        expect(rows).to_have_count(6)
        expect(board.locator("#board .status-line")).to_contain_text("results of period 1")
        ranks = [int(x) for x in rows.locator("td.rank").all_inner_texts()]
        assert sorted(ranks) == [1, 2, 3, 4, 5, 6], ranks
        names = rows.locator("td.name").all_inner_texts()
        assert {n.split()[0] for n in names} == {"Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord"}
        expect(board.locator(".tender-result").first).to_be_visible()
        _wait_images(board)
        from crmsim.web.chartspec import FIRM_COLOURS  # the charts draw the firms in the palette their specs carry

        drawn = board.locator(".charts [data-chart] svg").first.inner_html().lower()
        assert all(c in drawn for c in FIRM_COLOURS[:6]), [c for c in FIRM_COLOURS[:6] if c not in drawn]
        board.screenshot(path=str(ARTIFACTS / "scoreboard.png"), full_page=True)

        # -- the team sees its private report
        team.reload()
        expect(team.locator("#private-report")).to_be_visible()
        rank = team.locator("#kpi-rank").inner_text().strip()
        assert rank in {str(r) for r in range(1, 7)}, rank
        assert int(rank) == ranks[[n.split()[0] for n in names].index("Aurora")]
        expect(team.locator("h2", has_text="Decision for period 2")).to_be_visible()
        expect(team.locator("#preview-total")).to_be_visible(timeout=30_000)
        team.screenshot(path=str(ARTIFACTS / "team-dashboard.png"), full_page=True)
        ins.screenshot(path=str(ARTIFACTS / "instructor-console.png"), full_page=True)

        # -- the same pages in Chinese (?lang= is remembered in the session)
        board.goto(f"{base}/scoreboard/{game_id}?lang=zh_CN")
        expect(board.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(board.locator("#ranking")).to_be_visible()
        _wait_images(board)
        board.screenshot(path=str(ARTIFACTS / "scoreboard-zh_CN.png"), full_page=True)
        team.goto(f"{base}/team/?lang=zh_CN")
        expect(team.locator("#private-report")).to_be_visible()
        expect(team.locator("#preview-total")).to_be_visible(timeout=30_000)
        team.screenshot(path=str(ARTIFACTS / "team-dashboard-zh_CN.png"), full_page=True)
    finally:
        for ctx in (instructor_ctx, team_ctx, board_ctx):
            ctx.close()
    assert not problems, "\n".join(problems)


def _stop_page_clock(page) -> None:
    """Pause the page's fake clock (installed before it loaded) half a second ahead of its present time.

    The clock runs on while the call travels, and Playwright refuses to pause at a time already past ("Cannot
    fast-forward to the past"); half a second is far short of the 3 s poll the test then drives by hand."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.5)


def _wait_images(page) -> None:
    """Every chart drawn by ECharts (web/static/charts.js marks each canvas data-drawn), each with an SVG."""
    page.wait_for_function("document.querySelectorAll('.charts [data-chart]').length === 6 && "
                           "[...document.querySelectorAll('.charts [data-chart]')].every(c => c.dataset.drawn && c.querySelector('svg'))",
                           timeout=30_000)


def test_scoreboard_countdown_runs_on_first_load(browser, live):
    """Regression: board.html once started the countdown only after the first live update ('Time left: –')."""
    from playwright.sync_api import expect

    game = _api_game(live)
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.clock.install()
        page.goto(f"{live.url}/scoreboard/{game['id']}")
        _stop_page_clock(page)
        countdown = page.locator("#board .countdown")
        text = countdown.inner_text().strip()
        assert re.fullmatch(r"\d+:\d\d", text), f"countdown shows {text!r}"
        minutes, seconds = map(int, text.split(":"))
        page.clock.run_for(1000)  # one second of the page's time, before any live update
        left = 60 * minutes + seconds - 1
        expect(countdown).to_have_text(f"{left // 60}:{left % 60:02d}")
    finally:
        ctx.close()


def test_chinese_chart_titles_are_not_tofu(live):
    """Chinese titles in Chinese with a CJK font on the server, else English: never LastResort boxes."""
    import urllib.request

    from crmsim.web.charts import CJK_FONTS
    from matplotlib import font_manager

    has_cjk = any(f.name in CJK_FONTS for f in font_manager.fontManager.ttflist)  # the server runs on this machine
    game = _api_game(live)
    for metric, zh, en in (("score", "综合得分", "Scorecard"), ("revenue", "营业收入", "Revenue")):
        with urllib.request.urlopen(f"{live.url}/scoreboard/{game['id']}/chart/{metric}.svg?lang=zh_CN") as r:
            svg = r.read().decode()
        assert "LastResort" not in svg, f"{metric}: CJK characters drawn with the LastResort (tofu) glyph"
        assert f"<!-- {zh if has_cjk else en} -->" in svg, metric
