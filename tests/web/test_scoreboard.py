"""The scoreboard: the ranking's heading, charts as ECharts specs with units, the projector view, plain words."""

from __future__ import annotations

import json
import re

import pytest


@pytest.fixture
def played(app, helpers):
    """A classroom game (team in seat 1, bots elsewhere) after period 1, where the team's bid was void above the cap."""
    c = app.test_client()
    token = helpers.instructor_token(c)
    game = helpers.api_create_game(c, token, seed=4, bots={str(i): "balanced" for i in range(1, 6)})
    team = app.test_client()
    h = helpers.bearer(helpers.api_join(team, game["join_codes"]["0"])["token"])
    tenders = team.get("/api/team", headers=h).get_json()["tenders"]
    t = tenders[0]
    r = team.post(f"/api/games/{game['id']}/decision", headers=h,
                  json={"bids": {t["id"]: {"price": t["price_cap"] + 5, "promised_service": 0.9}}})
    assert r.status_code == 200, r.get_json()
    assert c.post(f"/api/games/{game['id']}/resolve", json={"period": 1}, headers=helpers.bearer(token)).status_code == 200
    return {"c": c, "id": game["id"], "token": token, "tender": t}


def specs(html: str) -> dict[str, dict]:
    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(r'<script type="application/json" id="(chart-[a-z_]+)-data">(.*?)</script>', html, re.S)}


def test_mid_game_the_ranking_is_after_period_n_not_final(played):
    html = played["c"].get(f"/scoreboard/{played['id']}").get_data(as_text=True)
    assert "Ranking after period 1" in html and "Final ranking" not in html and "Final standings" not in html
    debrief = played["c"].get(f"/debrief/{played['id']}").get_data(as_text=True)
    assert "Ranking after period 1" in debrief and "Final ranking" not in debrief


def test_a_void_bid_shows_its_reason_in_words_not_its_code(played):
    html = played["c"].get(f"/scoreboard/{played['id']}").get_data(as_text=True)
    assert "price above the cap" in html
    assert "ABOVE_CAP" not in html and "<code>" not in html


def test_the_charts_are_specs_with_units_and_a_text_alternative(played):
    html = played["c"].get(f"/scoreboard/{played['id']}").get_data(as_text=True)
    charts = specs(html)
    assert {k: v["unit"] for k, v in charts.items()} == {
        "chart-revenue": "yuan", "chart-operating_profit": "yuan", "chart-customers": "count",
        "chart-market_share_customers": "percent", "chart-avg_satisfaction": "score", "chart-score": "score"}  # no cash mid-game
    assert charts["chart-revenue"]["categories"] == ["1"] and len(charts["chart-revenue"]["series"]) == 6
    assert charts["chart-revenue"]["big"] is False
    assert html.count('<details class="chart-table">') == 6 and "¥" in html.split('id="chart-revenue-title"')[1].split("</figure>")[0]
    assert "vendor/echarts/echarts.min.js" in html


def test_each_charts_data_table_disclosure_names_its_chart(played):
    """A screen reader tabbing through the six "Data table" disclosures hears which chart each belongs to."""
    for lang in ("en", "zh_CN"):
        html = played["c"].get(f"/scoreboard/{played['id']}?lang={lang}").get_data(as_text=True)
        names = [" ".join(re.sub(r"<[^>]+>", " ", m).split()) for m in re.findall(r"<summary>(.*?)</summary>", html, re.S)]
        assert len(names) == 6 and len(set(names)) == 6, names


def test_the_projector_view_draws_big_charts_in_large_type(played):
    html = played["c"].get(f"/scoreboard/{played['id']}?projector=1").get_data(as_text=True)
    assert '<body class="projector">' in html
    assert all(s["big"] for s in specs(html).values())
    partial = played["c"].get(f"/scoreboard/{played['id']}?projector=1&partial=1").get_data(as_text=True)
    assert all(s["big"] for s in specs(partial).values()) and "<body" not in partial


def test_a_public_game_is_listed_by_its_scenario_title_in_the_chosen_language(played, helpers):
    from crmsim.scenarios import load_scenario

    title = load_scenario("classroom-v1").title
    c = played["c"]
    assert c.post(f"/api/games/{played['id']}/options", json={"public": True}, headers=helpers.bearer(played["token"])).status_code == 200
    zh = c.get("/?lang=zh_CN").get_data(as_text=True)
    assert title.zh in zh and "classroom-v1" not in zh
    assert title.en in c.get("/?lang=en").get_data(as_text=True)


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def lum(hex_colour: str) -> float:
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_voided_bid_rows_have_at_least_4_5_to_1_contrast():
    from pathlib import Path

    import crmsim.web

    css = (Path(crmsim.web.__file__).parent / "static" / "style.css").read_text()
    void = re.search(r"tr\.void td \{ color:(#[0-9a-f]{6}); \}", css).group(1)
    reason = re.search(r"tr\.void td\.void-reason \{ color:var\(--accent\); \}", css)
    accent = re.search(r"--accent:(#[0-9a-f]{6})", css).group(1)
    assert reason is not None
    assert contrast(void, "#ffffff") >= 4.5 and contrast(accent, "#ffffff") >= 4.5
    assert round(contrast(void, "#ffffff"), 1) == 7.6  # #4b5563 (was #9ca3af, 2.5:1)


def lab(hex_colour: str, cvd: str = "") -> tuple[float, float, float]:
    """CIELAB (D65) of a #rrggbb colour, as seen with normal vision or, given `cvd`, as simulated for deuteranopia or
    protanopia (Machado, Oliveira and Fernandes 2009, severity 1, applied in linear RGB)."""
    machado = {
        "deutan": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
        "protan": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    }
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    if cvd:
        lin = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin)))) for row in machado[cvd]]
    r, g, b = lin
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b, \
          (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    fx, fy, fz = (t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def test_the_firm_colours_are_far_apart_and_readable_on_the_chart_background():
    """Each firm colour has >= 3:1 contrast with the charts' background (WCAG 1.4.11), and any two differ by CIE76
    ΔE >= 20 for normal vision and >= 15 under simulated deuteranopia and protanopia: #c2410c beside #b45309 (ΔE 14;
    0.7 for a deuteranope) cannot come back."""
    import itertools
    import math
    from pathlib import Path

    import crmsim.web
    from crmsim.web.chartspec import CHART_BACKGROUND, FIRM_COLOURS

    css = (Path(crmsim.web.__file__).parent / "static" / "style.css").read_text()
    assert re.search(r"--bg:(#[0-9a-f]{6})", css).group(1) == CHART_BACKGROUND
    assert len(set(FIRM_COLOURS)) >= 8
    assert min(contrast(c, CHART_BACKGROUND) for c in FIRM_COLOURS) >= 3.0
    for vision, floor in (("", 20), ("deutan", 15), ("protan", 15)):
        apart = min(math.dist(lab(a, vision), lab(b, vision)) for a, b in itertools.combinations(FIRM_COLOURS, 2))
        assert apart >= floor, vision or "normal"


def test_the_charts_take_the_firm_colours_from_their_spec(played):
    """One home for the palette: every spec carries chartspec.FIRM_COLOURS; charts.js keeps no colours of its own."""
    from pathlib import Path

    import crmsim.web
    from crmsim.web.chartspec import FIRM_COLOURS

    html = played["c"].get(f"/scoreboard/{played['id']}").get_data(as_text=True)
    assert specs(html) and all(s["palette"] == list(FIRM_COLOURS) for s in specs(html).values())
    js = (Path(crmsim.web.__file__).parent / "static" / "charts.js").read_text()
    assert "spec.palette" in js and not re.search(r"#[0-9a-fA-F]{6}", js)
