"""Public pages (no login): home, the live scoreboard for a projector, charts, and the debrief."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from crmsim.sim.observation import public_fields, public_row
from crmsim.web.charts import METRICS, line_chart
from crmsim.web.db import get_db
from crmsim.web.i18n import current_lang
from crmsim.web.service import game_key, seconds_left, snapshots
from crmsim.web.views import game_or_404, list_games

bp = Blueprint("scoreboard", __name__)


@bp.route("/")
def home():
    """The home page lists only the games the instructor marked public (the instructor sees every one)."""
    from crmsim.web.views import is_instructor

    return render_template("home.html", games=list_games(listed_only=not is_instructor()))


def public_metrics(game) -> dict[str, tuple[str, str]]:
    """The charts anyone may see: metrics among the public fields (a firm's books only once the game is over)."""
    fields = public_fields(game.status == "finished")
    return {k: v for k, v in METRICS.items() if k in fields}


def _board(game_id: int):
    game = game_or_404(game_id)
    snaps = snapshots(get_db(), game)
    last = snaps[-1] if snaps else None
    over = game.status == "finished"
    rows = [public_row(r, over) for r in last.firm_rows] if last else []
    return dict(
        game=game,
        snaps=snaps,
        last=last,
        ranking=sorted(rows, key=lambda r: r["rank"]),
        fields=public_fields(over),
        metrics=public_metrics(game),
        seconds_left=seconds_left(game),
        bankrupt=[r for r in rows if r["bankrupt"]],
    )


@bp.route("/scoreboard/<int:game_id>")
def board(game_id: int):
    ctx = _board(game_id)
    if request.args.get("partial"):
        return render_template("scoreboard/_board.html", **ctx)
    return render_template("scoreboard/board.html", **ctx)


@bp.route("/scoreboard/<int:game_id>/chart/<metric>.svg")
def chart(game_id: int, metric: str):
    game = game_or_404(game_id)
    if metric not in public_metrics(game):
        abort(404)
    snaps = snapshots(get_db(), game)
    names = [t.name for t in game.teams]
    svg = line_chart(game_key(get_db(), game), game.version, metric, current_lang(), [s.firm_rows for s in snaps], names)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-cache"})


def turning_points(snaps) -> list[dict]:
    """Periods where the leader changed, a firm went bankrupt, or a big tender was won."""
    points, leader = [], None
    for s in snaps:
        top = min(s.firm_rows, key=lambda r: r["rank"])
        if top["firm"] != leader:
            points.append({"period": s.period, "kind": "leader", "firm": top["name"]})
            leader = top["firm"]
        for r in s.firm_rows:
            if r["bankrupt"] and r.get("bankrupt_period") == s.period:
                points.append({"period": s.period, "kind": "bankrupt", "firm": r["name"]})
    return points


def client_wins(game, snaps) -> list[dict]:
    names = {t.firm_index: t.name for t in game.teams}
    rows = []
    for s in snaps:
        for t in s.tender_rows:
            if t["winner"] is not None:
                win = next(b for b in s.bid_rows if b["tender"] == t["tender"] and b["won"])
                rows.append({**t, "winner_name": names[t["winner"]], "breakdown": win})
    return rows


def seed_shown(game) -> bool:
    """The engine is deterministic: while a game runs, its seed would let a student replay the random draws."""
    from crmsim.web.views import is_instructor

    return game.status == "finished" or is_instructor()


@bp.route("/debrief/<int:game_id>")
def debrief(game_id: int):
    ctx = _board(game_id)
    snaps = ctx["snaps"]
    return render_template("scoreboard/debrief.html", **ctx, points=turning_points(snaps), wins=client_wins(ctx["game"], snaps),
                           show_seed=seed_shown(ctx["game"]))


@bp.route("/debrief/<int:game_id>/team/<int:firm>")
def team_debrief(game_id: int, firm: int):
    from crmsim.web.views import current_team, is_instructor

    ctx = _board(game_id)
    game = ctx["game"]
    team = next((t for t in game.teams if t.firm_index == firm), None)
    if team is None:
        abort(404)
    me = current_team()
    if game.status != "finished" and not is_instructor() and not (me and me.id == team.id):
        abort(403)
    rows = [s.firm_rows[firm] for s in ctx["snaps"]]
    bids = [b for s in ctx["snaps"] for b in s.bid_rows if b["firm"] == firm]
    return render_template("scoreboard/team_debrief.html", **ctx, team=team, rows=rows, bids=bids, points=turning_points(ctx["snaps"]))
