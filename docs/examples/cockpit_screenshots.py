"""Screenshots of the team cockpit in Chinese for the README (docs/img/cockpit-zh.png, cockpit-reports-zh.png).

A real `crmsim serve` (tests/web/server.py) and Debian's chromium through Playwright:
    .venv/bin/python docs/examples/cockpit_screenshots.py
"""
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "web"))
from server import Api, LiveServer
from test_browser import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import sync_playwright, expect
IMG = ROOT / "docs" / "img"
TEAMS = ["甲队", "乙队", "丙队", "丁队", "戊队", "己队"]
with LiveServer(Path(tempfile.mkdtemp()) / "inst") as live, sync_playwright() as p:
    ins = Api.instructor(live.url)
    g = ins.post("/api/games", {"scenario": "classroom-v2", "seed": 21, "name": "市场营销二班", "teams": TEAMS,
                                "bots": {str(i): b for i, b in enumerate(["", "balanced", "premium", "price_cutter", "relationship", "adaptive"]) if b}})
    team, _ = Api.team(live.url, g["join_codes"]["0"])
    team.post(f"/api/games/{g['id']}/decision", {"price": 96, "activities": {"mengniu": ["investigate"], "haier": ["investigate"], "motorola": ["investigate"]},
                                                 "research": {"survey": 200, "forecast": True}, "retention_budget": 3000})
    ins.post(f"/api/games/{g['id']}/resolve", {})
    ins.post(f"/api/games/{g['id']}/resolve", {})
    ins.post(f"/api/games/{g['id']}/resolve", {})
    b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    ctx = b.new_context(viewport={"width": 1366, "height": 1400}, locale="zh-CN", device_scale_factor=1)
    page = ctx.new_page()
    page.goto(f"{live.url}/join"); page.fill("#code", g["join_codes"]["0"]); page.click("#join"); page.wait_for_url(re.compile(r"/team/$"))
    page.goto(f"{live.url}/team/?lang=zh_CN")
    expect(page.locator("#preview-total")).to_be_visible(timeout=30000)
    ids = [t.get_attribute("data-tender") for t in page.locator(".tender").all()]
    tid = next(t for t in ids if not t.startswith(("motorola", "lenovo")))
    page.fill(f"[id='f-bids-{tid}-price']", "999")
    page.fill(f"[id='f-bids-{tid}-promised_service']", "0.7")
    expect(page.locator(f"[data-bid-notes='{tid}']")).to_contain_text("最高投标限价", timeout=30000)

    page.screenshot(path=str(IMG / "cockpit-zh.png"), full_page=True)
    page.goto(f"{live.url}/team/reports")
    page.wait_for_function("document.querySelectorAll('[data-drawn]').length == 7", timeout=30000)
    page.screenshot(path=str(IMG / "cockpit-reports-zh.png"), full_page=True)
    b.close()
