"""The instructor's console, the join sheet and the scoreboard in a real browser (Debian's chromium driven by
Playwright) against a real `crmsim serve`: rollback then re-resolve, an announcement reaching the team page,
QR codes that decode to the join links, the 390 px scoreboard, and axe-core on the console and the scoreboard."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import PASSWORD, Api, LiveServer  # noqa: E402
from test_browser import ARTIFACTS, browser  # noqa: E402, F401 (browser: the shared fixture, one chromium per module)

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BOTS = {str(i): "balanced" for i in range(2, 6)}  # seats 3-6; teams in seats 1 and 2

pytestmark = pytest.mark.slow  # a server start and a browser


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("console") / "instance") as srv:
        yield srv


@pytest.fixture
def signed_in(browser, live):
    """A game, and a browser page of the instructor signed in on its console."""
    ins_api = Api.instructor(live.url)
    game = ins_api.post("/api/games", {"scenario": "classroom-v1", "seed": 11, "bots": BOTS})
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto(f"{live.url}/login")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(re.compile(r"/instructor/$"))
    page.goto(f"{live.url}/instructor/games/{game['id']}")
    yield page, game, ins_api
    ctx.close()


def serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page (rule id and the first offending element)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['nodes'][0]['html'][:120]}" for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_a_rollback_then_a_re_resolve_in_the_console_gives_the_same_result(signed_in, live):
    from playwright.sync_api import expect

    page, game, ins_api = signed_in
    page.on("dialog", lambda d: d.accept())  # the rollback asks "Roll back period 1?"
    page.click("#resolve")
    expect(page.locator("#confirm-resolve")).to_contain_text("have not submitted")  # both teams are missing
    page.click("#confirm-resolve-button")
    expect(page.locator(".flash")).to_contain_text("Period 1 resolved")
    once = ins_api.get(f"/api/games/{game['id']}/scoreboard")["periods"]
    page.click("#rollback")
    expect(page.locator(".flash")).to_contain_text("Period 1 rolled back")
    assert ins_api.get(f"/api/games/{game['id']}/scoreboard")["periods"] == []
    page.click("#resolve")
    page.click("#confirm-resolve-button")
    expect(page.locator(".flash")).to_contain_text("Period 1 resolved")
    assert ins_api.get(f"/api/games/{game['id']}/scoreboard")["periods"] == once
    assert ins_api.get(f"/api/games/{game['id']}/rebuild-check")["ok"] is True


def test_an_announcement_reaches_the_team_page(signed_in, browser, live):
    from playwright.sync_api import expect

    page, game, _ = signed_in
    team_ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    team = team_ctx.new_page()
    team.goto(f"{live.url}/join?code={game['join_codes']['0']}")
    team.click("#join")
    team.wait_for_url(re.compile(r"/team/$"))
    page.fill("#announce-text", "Bids close in five minutes")
    page.click("#announce")
    expect(page.locator(".flash")).to_contain_text("Announcement sent")
    team.reload()
    expect(team.locator("#announcements")).to_contain_text("Bids close in five minutes")
    expect(page.locator("#teams tr[data-firm='0'] td.seen")).not_to_have_text("–")  # the monitor saw the team
    team_ctx.close()


def test_the_console_monitor_updates_by_itself_when_a_team_submits(signed_in, live):
    from playwright.sync_api import expect

    page, game, _ = signed_in
    page.evaluate("window.__sameDocument = 'yes'")
    cell = page.locator("#teams tr[data-firm='1'] td.submitted")
    expect(cell).to_contain_text("waiting")
    team, _ = Api.team(live.url, game["join_codes"]["1"])
    team.post(f"/api/games/{game['id']}/decision", {"price": 101})
    expect(cell).to_contain_text("✔", timeout=30_000)  # the next poll swaps in the monitor
    assert page.evaluate("window.__sameDocument") == "yes", "the console reloaded instead of updating live"


def test_the_join_sheet_qr_codes_decode_to_the_join_links(signed_in, live):
    import zxingcpp
    from PIL import Image

    page, game, _ = signed_in
    page.click("#join-sheet-link")
    page.wait_for_url(re.compile(r"/join-sheet$"))
    cards = page.locator(".join-card .qr")
    assert cards.count() == 2  # the two team seats; the bots need no card
    decoded = []
    for i in range(cards.count()):
        png = cards.nth(i).screenshot()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
        decoded.append([b.text for b in found])
    links = [f"{live.url}/join?code={game['join_codes'][str(i)]}" for i in range(2)]
    assert decoded == [[links[0]], [links[1]]]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "join-sheet.png"), full_page=True)


def test_the_scoreboard_fits_a_390_px_phone_in_chinese(signed_in, browser, live):
    page, game, ins_api = signed_in
    ins_api.post(f"/api/games/{game['id']}/resolve", {"period": 1})
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
    p = phone.new_page()
    p.goto(f"{live.url}/scoreboard/{game['id']}?lang=zh_CN")
    p.wait_for_selector("#ranking")
    p.wait_for_function("document.querySelectorAll('[data-drawn]').length > 0")
    widths = p.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == 390, widths
    heights = p.evaluate("[...document.querySelectorAll('#ranking th')].filter(t => t.offsetParent).map(t => t.getBoundingClientRect().height)")
    line = p.evaluate("parseFloat(getComputedStyle(document.querySelector('#ranking th')).lineHeight)")
    assert heights and max(heights) < 2 * line, (heights, line)  # every header on one line, never a character per line
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "scoreboard-390.png"), full_page=True)
    phone.close()


def test_axe_finds_no_serious_violation_on_the_console_and_the_scoreboard(signed_in, live):
    page, game, ins_api = signed_in
    ins_api.post(f"/api/games/{game['id']}/resolve", {"period": 1})
    page.reload()
    problems = [f"console: {v}" for v in serious(page)]
    page.goto(f"{live.url}/scoreboard/{game['id']}")
    page.wait_for_function("document.querySelectorAll('[data-drawn]').length > 0")
    problems += [f"scoreboard: {v}" for v in serious(page)]
    assert problems == []


def test_the_consoles_chinese_labels_stay_on_one_line_beside_their_controls(signed_in, live):
    """Seen in a play-through: "团队", "发给", "机器人", "席位" broke one character per line."""
    page, game, _ = signed_in
    page.goto(f"{live.url}/instructor/games/{game['id']}?lang=zh_CN")
    heights = page.evaluate("""() => [...document.querySelectorAll('.actions label, #announce-form label, #options-form label')]
        .filter((l) => !l.classList.contains('wide'))
        .map((l) => { const r = document.createRange(); r.selectNodeContents(l.firstChild); return [l.textContent.trim().slice(0, 12), r.getClientRects().length]; })""")
    broken = [t for t, lines in heights if lines > 1]
    assert heights and broken == [], broken
