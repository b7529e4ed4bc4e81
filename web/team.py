"""A student team's pages: dashboard, market and private reports, open tenders, the decision form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmsim.sim.decisions import DecisionError
from crmsim.sim.observation import news
from crmsim.web.db import get_db
from crmsim.web.service import (
    ServiceError,
    latest_decisions,
    load_draft,
    rebuild,
    seconds_left,
    snapshots,
    submit_decision,
)
from crmsim.web.views import current_team, form_to_raw, page_token, team_required

bp = Blueprint("team", __name__, url_prefix="/team")


def team_view(game, team, errors=None, form_values=None):
    db = get_db()
    model = rebuild(db, game)
    firm = model.state.firms[team.firm_index]
    snaps = snapshots(db, game)
    last = snaps[-1] if snaps else None
    own_rows = [s.firm_rows[team.firm_index] for s in snaps]
    submitted = latest_decisions(db, game).get(team.firm_index)
    values = form_values
    if values is None:
        values = submitted.payload if submitted else (load_draft(db, game, team) or firm.standing.to_dict())
    k = {c: i for i, c in enumerate(model.scenario.client_ids)}
    return render_template(
        "team/dashboard.html",
        game=game,
        team=team,
        firm=firm,
        scenario=model.scenario,
        customers=int((model.state.population.supplier == team.firm_index).sum()),
        relationship={c: float(model.state.relationship[team.firm_index, i]) for c, i in k.items()},
        tenders=model.state.tenders if game.status != "finished" else (),
        last=last,
        own_rows=own_rows,
        own_bids=[b for b in (last.bid_rows if last else []) if b["firm"] == team.firm_index],
        submitted=submitted,
        values=flat_values(values),
        errors=errors or {},
        seconds_left=seconds_left(game),
        api_token=page_token(),
        news=news(model.state),
    )


@bp.route("/", methods=["GET", "POST"])
@team_required
def dashboard():
    team = current_team()
    game = team.game
    if request.method == "GET":
        return team_view(game, team)
    raw = form_to_raw(request.form)
    try:
        submit_decision(get_db(), game, team, raw, source="form")
    except DecisionError as exc:
        errors = {}
        for p in exc.problems:
            errors.setdefault(p.field, []).append(str(p))
        flash(_("Your decision was not saved: %(n)d problem(s). Nothing changed.", n=len(exc.problems)), "error")
        return team_view(game, team, errors=errors, form_values=_echo(request.form)), 400
    except ServiceError as exc:
        flash(f"{exc.problem.field}: {_(exc.problem.rule)}", "error")
        return team_view(game, team, form_values=_echo(request.form)), exc.status
    flash(_("Decision submitted for period %(p)d. You can revise it until the deadline.", p=game.period))
    return redirect(url_for("team.dashboard"))


def flat_values(values: dict) -> dict[str, str]:
    """Form field name -> value as text, from a stored decision, a saved draft or the typed form.

    A draft is whatever the team's browser saved, so any JSON shape is shown as text, never trusted."""
    if "_form" in values:
        typed = values["_form"]
        return {str(k): _text(v) for k, v in typed.items()} if isinstance(typed, dict) else {}
    out = {str(k): _text(v) for k, v in values.items() if k not in ("cultivation", "bids", "late")}
    cultivation, bids = values.get("cultivation"), values.get("bids")
    for c, amount in (cultivation.items() if isinstance(cultivation, dict) else ()):
        out[f"cultivation.{c}"] = _text(amount)
    for t, b in (bids.items() if isinstance(bids, dict) else ()):
        bid = b if isinstance(b, dict) else {}
        out[f"bids.{t}.price"] = _text(bid.get("price", ""))
        out[f"bids.{t}.promised_service"] = _text(bid.get("promised_service", ""))
    for k in ("hire_sales", "fire_sales", "hire_service", "fire_service", "borrow", "repay"):
        if out.get(k) in ("0", "0.0"):
            out[k] = ""
    return out


def _text(value) -> str:
    return "" if value is None else str(value)


def _echo(form) -> dict:
    """The typed values, to show the form again as the team left it."""
    return {"_form": {k: v for k, v in form.items() if k != "csrf_token"}}
