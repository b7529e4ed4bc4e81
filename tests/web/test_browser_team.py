"""The team cockpit in a real browser (Debian's chromium via Playwright) against a real `crmsim serve`.

A stale form is refused after a resolve and nothing is applied twice; the page updates without a reload when
the period resolves; a bid above the cap is flagged before submit with the cap shown; a Chinese team page shows
no English words outside an allow-list; axe-core finds no serious or critical violation. Skipped without the
browser, except with CI=true where it fails (as tests/web/test_browser.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import Api, LiveServer  # noqa: E402
from test_browser import ARTIFACTS, browser  # noqa: E402, F401 (browser: the shared fixture, one chromium per module)

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TEAMS = ["甲队", "乙队", "丙队", "丁队", "戊队", "己队"]
BOTS = {str(i): "balanced" for i in range(1, 6)}
# Latin words a Chinese page may show: the brand, acronyms and units (names of people and firms are the class's own)
ALLOWED_LATIN = {"crmsim", "CRM", "ABC", "UTC", "English"}

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _patient_expect():
    """Waits long enough for a poll (every 3 s) and a preview on a CI machine that shares 2 cores."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # the browser fixture skips (or fails in CI) with the reason
        return
    expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("cockpit") / "instance") as srv:
        yield srv


def new_game(live, seed: int = 11) -> tuple[Api, dict]:
    ins = Api.instructor(live.url)
    game = ins.post("/api/games", {"scenario": "classroom-v2", "seed": seed, "name": "市场营销二班", "teams": TEAMS, "bots": BOTS})
    return ins, game


def open_team_page(browser, live, game: dict, lang: str = "en"):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN" if lang == "zh_CN" else "en-US")
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.goto(f"{live.url}/join")
    page.fill("#code", game["join_codes"]["0"])
    page.click("#join")
    page.wait_for_url(re.compile(r"/team/$"))
    if lang != "en":
        page.goto(f"{live.url}/team/?lang={lang}")
    return ctx, page, errors


def drafted_team_page(browser, live, seed: int, price: str):
    """A new game's team page with `price` typed and its draft saved: (instructor, game, context, page, errors)."""
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=seed)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        page.fill("#f-price", price)
        expect(page.locator("#draft-state")).to_contain_text("draft saved")
    except Exception:
        ctx.close()
        raise
    return ins, game, ctx, page, errors


def test_a_stale_form_locks_itself_and_is_refused_after_a_resolve_and_nothing_is_applied_twice(browser, live):
    from playwright.sync_api import expect

    ins, game = new_game(live)
    team_api, _ = Api.team(live.url, game["join_codes"]["0"])
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        page.fill("#f-hire_service", "2")
        page.fill("#f-price", "97")
        expect(page.locator("#draft-state")).to_contain_text("draft saved")
        staff_before = team_api.get("/api/team")["service_staff"]
        ins.post(f"/api/games/{game['id']}/resolve", {})
        # the page notices the resolve by itself: the form locks, says so, and keeps what was typed
        expect(page.locator("#period-closed")).to_contain_text("Period 1 is closed")
        expect(page.locator("#submit-decision")).to_be_disabled()
        assert page.input_value("#f-hire_service") == "2" and page.input_value("#f-price") == "97"
        # forced past the lock, the stale form is refused by the server and changes nothing
        page.evaluate("""() => { const f = document.getElementById('decision'); delete f.dataset.locked;
                                 document.getElementById('decision-fields').disabled = false; f.submit(); }""")
        page.wait_for_load_state()
        expect(page.locator(".flash.error").first).to_contain_text("period 1 is closed: reload")
        assert team_api.get("/api/team")["submitted"] is None
        staff_after_1 = team_api.get("/api/team")["service_staff"]
        assert staff_after_1 == staff_before  # no decision was submitted in period 1: the hire never happened
        ins.post(f"/api/games/{game['id']}/resolve", {})
        assert team_api.get("/api/team")["service_staff"] == staff_after_1  # nor in period 2
    finally:
        ctx.close()
    assert not errors, errors


def test_the_form_locks_itself_when_the_deadline_passes_and_opens_again_when_the_time_is_extended(browser, live):
    """The server refuses late submits: at the deadline the page says so and locks, keeping what was typed; an
    extension opens it again as typed."""
    from playwright.sync_api import expect

    ins, game, ctx, page, errors = drafted_team_page(browser, live, 21, "94")
    try:
        ins.post(f"/api/games/{game['id']}/deadline", {"minutes": 0})
        expect(page.locator("#period-closed")).to_contain_text("The deadline has passed")
        expect(page.locator("#submit-decision")).to_be_disabled()
        assert page.input_value("#f-price") == "94"
        ins.post(f"/api/games/{game['id']}/extend", {"minutes": 5})
        expect(page.locator("#submit-decision")).to_be_enabled()
        expect(page.locator("#period-closed")).to_be_hidden()
        assert page.input_value("#f-price") == "94"
    finally:
        ctx.close()
    assert not errors, errors


def test_the_form_locks_while_the_instructor_pauses_the_game_and_opens_again_on_resume(browser, live):
    """A paused game refuses submits: the page says it is paused (in words, not only a symbol) and locks the form,
    keeping what was typed; resuming opens it again as typed. A page opened while paused starts locked."""
    from playwright.sync_api import expect

    ins, game, ctx, page, errors = drafted_team_page(browser, live, 22, "93")
    try:
        ins.post(f"/api/games/{game['id']}/pause", {})
        expect(page.locator("#period-closed")).to_contain_text("The instructor has paused the game")
        expect(page.locator("#paused-flag")).to_have_text("paused by the instructor")
        expect(page.locator("#submit-decision")).to_be_disabled()
        page.reload()
        expect(page.locator("#submit-decision")).to_be_disabled()
        expect(page.locator("#period-closed")).to_contain_text("The instructor has paused the game")
        ins.post(f"/api/games/{game['id']}/resume", {})
        expect(page.locator("#submit-decision")).to_be_enabled()
        expect(page.locator("#period-closed")).to_be_hidden()
        expect(page.locator("#paused-flag")).to_have_count(0)
        assert page.input_value("#f-price") == "93"
    finally:
        ctx.close()
    assert not errors, errors


def test_a_care_split_that_does_not_add_up_is_marked_beside_the_care_split(browser, live):
    """A problem with a whole group of fields (the three tier shares) sits beside that group, not only in the
    preview's list, both while typing and after a refused submit."""
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=23)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        for t, share in (("A", "0.5"), ("B", "0.3"), ("C", "0.3")):
            page.fill(f"[name='care_split.{t}']", share)
        expect(page.locator("#care-split-group .field-error")).to_contain_text("shares must add up to 1")
        page.click("#submit-decision")
        page.wait_for_load_state()
        expect(page.locator("#care-split-group .field-error")).to_contain_text("shares must add up to 1")
        assert page.input_value("[name='care_split.C']") == "0.3"
    finally:
        ctx.close()
    assert not errors, errors


def test_after_a_rollback_the_lock_message_and_the_servers_refusal_agree(browser, live):
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=22)
    ins.post(f"/api/games/{game['id']}/resolve", {})
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        page.fill("#f-price", "95")
        expect(page.locator("#draft-state")).to_contain_text("draft saved")
        ins.post(f"/api/games/{game['id']}/rollback", {})
        expect(page.locator("#period-closed")).to_contain_text("Period 2 was rolled back by the instructor: period 1 is open again")
        page.evaluate("""() => { const f = document.getElementById('decision'); delete f.dataset.locked;
                                 document.getElementById('decision-fields').disabled = false; f.submit(); }""")
        page.wait_for_load_state()
        expect(page.locator(".flash.error").first).to_contain_text("period 2 was rolled back: period 1 is open again; reload")
        expect(page.locator("#decision input[name=period]")).to_have_value("1")
        assert page.input_value("#f-price") == "95"
    finally:
        ctx.close()
    assert not errors, errors


def test_a_locked_form_opens_the_new_period_keeping_only_the_standing_fields_typed(browser, live):
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=16)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        page.evaluate("window.__sameDocument = 'yes'")
        page.fill("#f-price", "93")
        page.fill("#f-hire_sales", "1")
        expect(page.locator("#draft-state")).to_contain_text("draft saved")
        ins.post(f"/api/games/{game['id']}/resolve", {})
        expect(page.locator("#period-closed")).to_contain_text("Period 1 is closed")
        page.click("#open-new-period")
        expect(page.locator("#decision input[name=period]")).to_have_value("2")
        expect(page.locator("#period-closed")).to_contain_text("carried over as a draft")
        assert page.input_value("#f-price") == "93" and page.input_value("#f-hire_sales") == ""
        expect(page.locator("#submit-decision")).to_be_enabled()
        assert page.evaluate("window.__sameDocument") == "yes"
    finally:
        ctx.close()
    assert not errors, errors


def test_the_team_page_updates_without_a_reload_when_the_period_resolves(browser, live):
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=12)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        expect(page.locator("#private-report")).to_have_count(0)
        page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads or navigates
        ins.post(f"/api/games/{game['id']}/resolve", {})
        expect(page.locator("#private-report")).to_be_visible()
        expect(page.locator("#form-col h2")).to_contain_text("Decision for period 2")
        expect(page.locator("#decision input[name=period]")).to_have_value("2")
        expect(page.locator("#period-now")).to_have_text("2")
        expect(page.locator("#churn-warning")).to_contain_text("customers at risk of leaving")
        assert page.evaluate("window.__sameDocument") == "yes", "the team page reloaded instead of updating live"
        expect(page.locator("#preview-total")).to_be_visible()  # the new period's form previews again
    finally:
        ctx.close()
    assert not errors, errors


def test_a_bid_above_the_cap_is_flagged_before_submit_with_the_cap_shown(browser, live):
    from playwright.sync_api import expect

    _, game = new_game(live, seed=13)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        tender = page.locator(".tender[data-tender^='mengniu']").first
        tid = tender.get_attribute("data-tender")
        page.fill(f"[id='f-bids-{tid}-price']", "130")
        page.fill(f"[id='f-bids-{tid}-promised_service']", "0.6")
        notes = page.locator(f"[data-bid-notes='{tid}']")
        expect(notes).to_contain_text("Would be void")
        expect(notes).to_contain_text("price ¥130.00 is above the price cap ¥115.00")
        assert "ABOVE_CAP" not in notes.inner_text()
        page.fill(f"[id='f-bids-{tid}-price']", "110")  # within the cap: the rules that depend on the others
        expect(notes).to_contain_text("Passes the tender office's checks")
        expect(notes).to_contain_text("valid bids")
        expect(notes).to_contain_text("a price below 80% of the other valid bids' mean is void")
        expect(page.locator("#preview-break-even")).to_contain_text("¥")
    finally:
        ctx.close()
    assert not errors, errors


def test_an_error_is_shown_once_beside_its_field_and_goes_when_the_field_is_fixed(browser, live):
    from playwright.sync_api import expect

    _, game = new_game(live, seed=15)
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#preview-total")).to_be_visible()
        page.fill("#f-price", "-5")
        page.evaluate("document.getElementById('decision').submit()")  # past the browser's own min check
        page.wait_for_load_state()
        expect(page.locator(".flash.error").first).to_contain_text("Your decision was not saved: 1 problem(s)")
        price_errors = page.locator("#form-col .field-error")
        expect(price_errors).to_have_count(1)
        expect(price_errors).to_have_text("Price: must be > 0 and <= 200; got -5")
        expect(page.locator("#f-price")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#problems-beside")).to_have_text("1 problem(s) marked beside their fields.")  # the preview ran
        expect(page.locator("#preview .problems li")).to_have_count(0)  # ... and repeats the error nowhere
        expect(price_errors).to_have_count(1)
        page.fill("#f-price", "99")
        expect(page.locator("#form-col .field-error")).to_have_count(0)
        expect(page.locator("#f-price")).not_to_have_attribute("aria-invalid", "true")
    finally:
        ctx.close()
    assert not errors, errors


def test_chinese_team_pages_show_no_english_words_and_pass_axe(browser, live):
    from playwright.sync_api import expect

    ins, game = new_game(live, seed=14)
    ins.post(f"/api/games/{game['id']}/adjust", {"firm": 0, "amount": -2500, "reason": "迟到"})
    ins.post(f"/api/games/{game['id']}/resolve", {})
    ctx, page, errors = open_team_page(browser, live, game, lang="zh_CN")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("#preview-total")).to_be_visible()
        tid = page.locator(".tender[data-tender^='wahaha']").first.get_attribute("data-tender")
        page.fill(f"[id='f-bids-{tid}-price']", "999")
        page.fill(f"[id='f-bids-{tid}-promised_service']", "0.9")
        expect(page.locator(f"[data-bid-notes='{tid}']")).to_contain_text("最高投标限价")
        for path in ("/team/", "/team/reports", "/team/rules"):
            if path != "/team/":
                page.goto(f"{live.url}{path}")
            words = set(re.findall(r"[A-Za-z][A-Za-z_\-]+", page.evaluate("document.body.innerText")))
            assert words - ALLOWED_LATIN == set(), (path, sorted(words - ALLOWED_LATIN))
        page.goto(f"{live.url}/team/")
        expect(page.locator("#preview-total")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cockpit-zh.png"), full_page=True)
        for path in ("/team/reports", "/team/rules", "/team/"):
            if path != "/team/":
                page.goto(f"{live.url}{path}")
            else:
                page.goto(f"{live.url}/team/")
                expect(page.locator("#preview-total")).to_be_visible()
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            assert bad == [], (path, bad)
    finally:
        ctx.close()
    assert not errors, errors


def test_the_team_page_fits_a_390_px_phone_in_both_languages(browser, live):
    """No sideways scrolling of the page: wide tables scroll inside themselves."""
    ins, game = new_game(live, seed=24)
    ins.post(f"/api/games/{game['id']}/resolve", {})
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/team/?lang=zh_CN", "/team/?lang=en", f"/debrief/{game['id']}/team/0?lang=zh_CN", "/team/reports?lang=zh_CN"):
            page.goto(live.url + path)
            page.wait_for_load_state()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    finally:
        ctx.close()
    assert not errors, errors


def test_a_practice_form_locks_saying_the_practice_period_is_over(browser, live):
    from playwright.sync_api import expect

    ins = Api.instructor(live.url)
    game = ins.post("/api/games", {"scenario": "classroom-v2", "seed": 25, "teams": TEAMS, "bots": BOTS, "practice": True})
    ctx, page, errors = open_team_page(browser, live, game)
    try:
        expect(page.locator("#period-now")).to_have_text("Practice period (not scored)")
        page.fill("#f-price", "96")
        expect(page.locator("#draft-state")).to_contain_text("draft saved")
        ins.post(f"/api/games/{game['id']}/resolve", {})
        expect(page.locator("#period-closed")).to_contain_text("The practice period is closed")
        page.click("#open-new-period")
        expect(page.locator("#decision input[name=period]")).to_have_value("1")
        expect(page.locator("#private-report-title")).to_have_text("Your private report, practice period (not scored)")
    finally:
        ctx.close()
    assert not errors, errors
