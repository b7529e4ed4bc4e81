"""The instructor console: create games, pace periods, watch submissions, fill seats with bots, adjust, resolve,
roll back, announce, print the join sheet, export."""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmsim.agents.bots import BOTS
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.web import export
from crmsim.web.actions import GAME_ACTIONS
from crmsim.web.db import get_db
from crmsim.web.guard import InputRefused
from crmsim.web.i18n import bot_name, current_lang, refusal_text, rule_words
from crmsim.web.schemas import MAX_FIRMS, NewGameBody, read_form, validated
from crmsim.web.service import (
    ServiceError,
    announcements_for,
    chosen_scenario,
    create_game,
    missing_teams,
    practice_snapshot,
    resolve_if_due,
    seconds_left,
    snapshots,
    submission_status,
)
from crmsim.web.views import game_or_404, instructor_required, list_games

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
BOT_SEAT = re.compile(r"^bot_([0-9]+)$")
NEW_GAME_FLAGS = ("practice", "public", "auto_resolve")  # the new-game form's checkboxes
LOOPBACK_HOSTS = {"localhost", "[::1]"}  # and 127.x.x.x: join links to these reach only the instructor's own computer


def index_page(status: int = 200, form: Mapping[str, str] | None = None):
    """The console's home; `form`: a refused new-game form's values, shown again as typed (nothing is lost)."""
    scenarios = [load_scenario(n) for n in list_scenarios()]
    max_seats = max((s.firms.count for s in scenarios), default=MAX_FIRMS)  # a pasted scenario file: as many menus
    form = form or {}
    chosen = form.get("scenario", scenarios[0].name if scenarios else "")
    seats = next((s.firms.count for s in scenarios if s.name == chosen), max_seats)
    return render_template("instructor/index.html", games=list_games(), scenarios=scenarios, bots=BOTS,
                           max_seats=max_seats, seats=seats, form=form, chosen=chosen), status


@bp.route("/")
@instructor_required
def index():
    return index_page()


def new_game_form() -> NewGameBody:
    """The new-game form as the API's body: team names one per line, bots from the seat selects (bot_0, bot_1...)."""
    f = request.form
    body = {k: f[k] for k in ("scenario_toml", "seed", "name", "period_minutes") if f.get(k, "").strip()}
    if "scenario" in f:  # blank: the pasted scenario file (or nothing chosen)
        body["scenario"] = f["scenario"]
    names = [n.strip() for n in f.get("teams", "").splitlines() if n.strip()]
    if names:
        body["teams"] = names
    body["bots"] = {m.group(1): v for k, v in f.items() if (m := BOT_SEAT.match(k)) and v}
    for flag in NEW_GAME_FLAGS:
        body[flag] = bool(f.get(flag))
    return validated(NewGameBody, body)


def seat_error(exc: ServiceError) -> str:
    """A refused bot seat in words: "Seat 8: no such seat..." (the form numbers seats from 1)."""
    field = exc.problem.field
    if field.startswith("bots.") and field[5:].isdigit():
        return _("Seat %(n)d: %(rule)s", n=int(field[5:]) + 1, rule=rule_words(exc.problem.rule) if current_lang() == "zh" else exc.problem.rule)
    return refusal_text(field, exc.problem.rule, exc.problem.value)


@bp.route("/games", methods=["POST"])
@instructor_required
def new_game():
    try:
        b = new_game_form()
        game = create_game(get_db(), chosen_scenario(b.scenario, b.scenario_toml), seed=b.seed, name=b.name, team_names=b.teams,
                           bots={int(k): v for k, v in b.bots.items()}, period_minutes=b.period_minutes,
                           practice=b.practice, public=b.public, auto_resolve=b.auto_resolve)
    except InputRefused as exc:
        for problem in (exc, *exc.more):
            flash(_("Could not create the game: %(err)s", err=refusal_text(problem.field, problem.rule, problem.value)), "error")
        return index_page(400, request.form)
    except ServiceError as exc:
        flash(_("Could not create the game: %(err)s", err=seat_error(exc)), "error")
        if exc.problem.field == "scenario" and request.form.get("scenario_toml", "").strip():
            flash(_("To play the pasted scenario file, choose “the scenario file pasted below” in the Scenario menu."), "error")
        return index_page(exc.status, request.form)
    flash(_("Game created. Give each team its join code."))
    return redirect(url_for("instructor.console", game_id=game.id))


def console_context(game) -> dict:
    db = get_db()
    return dict(
        game=game,
        status=submission_status(db, game),
        missing=missing_teams(db, game),
        seconds_left=seconds_left(game),
        snaps=snapshots(db, game),
        practice=practice_snapshot(db, game),
        announcements=announcements_for(db, game),
        bots=BOTS,
        bot_name=bot_name,
    )


def console_page(game, status: int = 200, confirm: bool = False, refused: str | None = None):
    """The game's console; `refused`: the action whose form was refused, shown again with what was typed."""
    typed = request.form if refused else {}
    return render_template("instructor/console.html", **console_context(game), confirm=confirm, refused=refused,
                           typed=typed), status


@bp.route("/games/<int:game_id>")
@instructor_required
def console(game_id: int):
    game = game_or_404(game_id)
    resolve_if_due(get_db(), game)
    if request.args.get("partial"):
        return render_template("instructor/_monitor.html", **console_context(game))
    return console_page(game)


@bp.route("/games/<int:game_id>/<action>", methods=["POST"])
@instructor_required
def act(game_id: int, action: str):
    """A console button: the form read by the action's model (web/actions.py), one service call.

    Resolving while teams have not submitted asks first: the console shows who is missing and a second button
    that confirms (``confirm_missing``)."""
    db = get_db()
    game = game_or_404(game_id)
    if action not in GAME_ACTIONS:
        flash(_("Unknown action: %(a)s", a=action), "error")
        return console_page(game, 404)
    try:
        body = read_form(GAME_ACTIONS[action].body)
        if action == "resolve" and not body.confirm_missing and missing_teams(db, game):
            return console_page(game, 409, confirm=True)
        done = GAME_ACTIONS[action].run(db, game, body)
    except InputRefused as exc:
        for problem in (exc, *exc.more):
            flash(refusal_text(problem.field, problem.rule, problem.value, game.scenario_json), "error")
        return console_page(game, 400, refused=action)
    except ServiceError as exc:
        flash(refusal_text(exc.problem.field, exc.problem.rule, exc.problem.value, game.scenario_json), "error")
        db.rollback()
        return console_page(game, exc.status, refused=action)
    if "seconds" in done and done["period"] == 0:
        flash(_("Practice period resolved in %(s).2f s (not scored); period 1 starts from the scenario.", s=done["seconds"]))
    elif "seconds" in done:
        flash(_("Period %(p)d resolved in %(s).2f s.", p=done["period"], s=done["seconds"]))
    elif action == "rollback":
        flash(_("Period %(p)d rolled back: it is open again. The decision log keeps everything.", p=done["period"]))
    elif action == "announce":
        flash(_("Announcement sent."))
    else:
        flash(_("Done."))
    return redirect(url_for("instructor.console", game_id=game.id))


@bp.route("/games/<int:game_id>/join-sheet")
@instructor_required
def join_sheet(game_id: int):
    """A printable sheet: per team seat, its name, join code, join link and a QR code of the link (segno)."""
    import segno

    game = game_or_404(game_id)
    cards = []
    for t in game.teams:
        if t.bot:
            continue
        link = url_for("auth.join", code=t.join_code, _external=True)
        qr = segno.make(link, error="m")
        svg = qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", omitsize=False)
        cards.append({"team": t, "link": link, "svg": svg})
    host = host_name(request.host)
    return render_template("instructor/join_sheet.html", game=game, cards=cards, loopback=is_loopback(host), host=host)


def host_name(host: str) -> str:
    """A request's host without its port: ``192.168.1.20:5000`` -> ``192.168.1.20``, ``[::1]:5000`` -> ``[::1]``."""
    return host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]


def is_loopback(host: str) -> bool:
    """Whether links to `host` reach only the computer they were made on (students' phones cannot open them)."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@bp.route("/games/<int:game_id>/export.zip")
@instructor_required
def export_zip(game_id: int):
    game = game_or_404(game_id)
    data = export.csv_zip(get_db(), game, current_lang())
    return Response(data, mimetype="application/zip", headers={"Content-Disposition": f"attachment; filename=crmsim-game-{game.id}.zip"})


@bp.route("/games/<int:game_id>/export.xlsx")
@instructor_required
def export_xlsx(game_id: int):
    game = game_or_404(game_id)
    data = export.excel(get_db(), game, current_lang())
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=crmsim-game-{game.id}.xlsx"},
    )
