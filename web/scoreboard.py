"""Public pages (no login): home, the live scoreboard for a projector, charts, and the debrief."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from sqlalchemy import select

from crmsim.sim.observation import public_fields, public_row
from crmsim.web.charts import METRICS, line_chart
from crmsim.web.chartspec import ChartSpec, period_chart
from crmsim.web.db import get_db
from crmsim.web.i18n import current_lang, problem_text, refusal_text
from crmsim.web.models import Adjustment
from crmsim.web.service import game_key, practice_snapshot, resolve_if_due, seconds_left, snapshots
from crmsim.web.views import game_or_404, list_games

#: each charted metric's unit, so that the axes show ¥ and %
METRIC_UNITS = {"revenue": "yuan", "operating_profit": "yuan", "customers": "count", "cash": "yuan",
                "market_share_customers": "percent", "avg_satisfaction": "score", "score": "score"}

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


def metric_charts(game, snaps, big: bool = False) -> list[tuple[str, ChartSpec]]:
    """The public metrics as chart specs (web/chartspec.py), one line per firm, drawn in the browser with ECharts."""
    lang = current_lang()
    periods = [s.period for s in snaps]
    out = []
    for m, (en, zh) in public_metrics(game).items():
        values = {t.name: [s.firm_rows[t.firm_index].get(m) for s in snaps] for t in game.teams}
        out.append((f"chart-{m}", period_chart(zh if lang == "zh" else en, periods, values, METRIC_UNITS[m], lang=lang, big=big)))
    return out


def booked_adjustments(game, snaps, firm: int | None = None) -> list[dict]:
    """The instructor's bonuses and penalties booked in resolved periods, with their reasons (the debriefs)."""
    last = snaps[-1].period if snaps else 0
    q = select(Adjustment).where(Adjustment.game_id == game.id, Adjustment.period >= 1, Adjustment.period <= last)
    if firm is not None:
        q = q.where(Adjustment.firm_index == firm)
    names = {t.firm_index: t.name for t in game.teams}
    return [{"period": a.period, "firm": a.firm_index, "team": names.get(a.firm_index, ""), "amount": a.amount, "reason": a.reason}
            for a in get_db().scalars(q.order_by(Adjustment.period, Adjustment.id)).all()]


def may_see_team(game, firm: int) -> bool:
    """A team's debrief (its books) is for the team itself and the instructor while the game runs, for anyone after."""
    from crmsim.web.views import current_team, is_instructor

    me = current_team()
    return game.status == "finished" or is_instructor() or (me is not None and me.game_id == game.id and me.firm_index == firm)


def _board(game_id: int):
    game = game_or_404(game_id)
    resolve_if_due(get_db(), game)
    snaps = snapshots(get_db(), game)
    last = snaps[-1] if snaps else None
    over = game.status == "finished"
    rows = [public_row(r, over) for r in last.firm_rows] if last else []
    practice = practice_snapshot(get_db(), game)
    return dict(
        game=game,
        snaps=snaps,
        last=last,
        ranking=sorted(rows, key=lambda r: r["rank"]),
        fields=public_fields(over),
        metrics=public_metrics(game),
        seconds_left=seconds_left(game),
        bankrupt=[r for r in rows if r["bankrupt"]],
        projector=bool(request.args.get("projector")),
        charts=metric_charts(game, snaps, big=bool(request.args.get("projector"))),
        practice=practice,
        practice_ranking=sorted((public_row(r, over) for r in practice.firm_rows), key=lambda r: r["rank"]) if practice else [],
        may_see_team=lambda firm: may_see_team(game, firm),
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
                           show_seed=seed_shown(ctx["game"]), adjustments=booked_adjustments(ctx["game"], snaps))


@bp.route("/debrief/<int:game_id>/team/<int:firm>")
def team_debrief(game_id: int, firm: int):
    ctx = _board(game_id)
    game = ctx["game"]
    team = next((t for t in game.teams if t.firm_index == firm), None)
    if team is None:
        abort(404)
    if not may_see_team(game, firm):
        abort(403)
    rows = [s.firm_rows[firm] for s in ctx["snaps"]]
    bids = [b for s in ctx["snaps"] for b in s.bid_rows if b["firm"] == firm]
    what_if, replay, errors = counterfactuals(game, firm, request.args)
    return render_template("scoreboard/team_debrief.html", **ctx, team=team, rows=rows, bids=bids, points=turning_points(ctx["snaps"]),
                           adjustments=booked_adjustments(game, ctx["snaps"], firm), what_if=what_if, replay=replay,
                           cf_errors=errors, tenders=[t for s in ctx["snaps"] for t in s.tender_rows],
                           own_charts=team_charts(game, ctx["snaps"], firm), replay_fields=REPLAY_FIELDS)


#: the decision fields a replay may change from the debrief's form (any field through the API)
REPLAY_FIELDS = ("price", "service_level", "care_budget", "advertising_budget", "hire_sales", "hire_service")


def counterfactuals(game, firm: int, args) -> tuple[dict | None, dict | None, list[str]]:
    """The debrief's "what if" answers asked in the query string: a re-scored tender (wi_*), a replay (rp_*)."""
    from crmsim.sim.decisions import DecisionError
    from crmsim.web.service import ServiceError, replay_change, what_if_bid

    what_if = replay = None
    errors: list[str] = []
    db = get_db()
    try:
        if args.get("wi_tender"):  # "period|tender", as the form's menu gives it
            period, _sep, tender = args["wi_tender"].partition("|")
            what_if = what_if_bid(db, game, firm, _whole({"wi_tender": period}, "wi_tender"), tender, _number(args, "wi_price"),
                                  _number(args, "wi_service"))
        if args.get("rp_field"):
            field = args["rp_field"]
            if field not in REPLAY_FIELDS:
                raise ServiceError("rp_field", f"must be one of {', '.join(REPLAY_FIELDS)}", field, 400)
            value = _number(args, "rp_value")
            replay = replay_change(db, game, firm, _whole(args, "rp_period"), {field: int(value) if field.startswith("hire") else value})
    except ServiceError as exc:
        errors.append(refusal_text(exc.problem.field, exc.problem.rule, exc.problem.value, game.scenario_json))
    except DecisionError as exc:
        errors.extend(problem_text(p.field, p.rule, p.value, game.scenario_json) for p in exc.problems)
    return what_if, replay, errors


def _number(args, name: str) -> float:
    from crmsim.web.service import ServiceError

    try:
        value = float(args.get(name, ""))
    except ValueError:
        raise ServiceError(name, "must be a number", args.get(name), 400) from None
    return value


def _whole(args, name: str) -> int:
    value = _number(args, name)
    if value != int(value):
        from crmsim.web.service import ServiceError

        raise ServiceError(name, "must be a whole number", args.get(name), 400)
    return int(value)


def team_charts(game, snaps, firm: int) -> list[tuple[str, ChartSpec]]:
    """A team's own KPIs across periods (its debrief): money in ¥, rates in %."""
    lang = current_lang()
    periods = [s.period for s in snaps]
    rows = [s.firm_rows[firm] for s in snaps]
    zh = lang == "zh"

    def series(*keys):
        return {METRIC_NAMES[k][1 if zh else 0]: [r.get(k) for r in rows] for k in keys}

    return [
        ("own-money", period_chart("收入与利润" if zh else "Revenue and profit", periods, series("revenue", "operating_profit", "cash"), "yuan", lang=lang)),
        ("own-rates", period_chart("顾客指标" if zh else "Customer rates", periods, series("acquisition_rate", "retention_rate", "churn_rate"), "percent", lang=lang)),
    ]


METRIC_NAMES = {"revenue": ("Revenue", "营业收入"), "operating_profit": ("Operating profit", "营业利润"), "cash": ("Cash", "现金"),
                "acquisition_rate": ("Acquisition", "获客率"), "retention_rate": ("Retention", "保留率"), "churn_rate": ("Churn", "流失率")}
