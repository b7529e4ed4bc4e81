"""A student team's pages: the cockpit (dashboard, decision form, live decision support), reports and history,
and the rules of the team's own game.

Every number shown comes from the engine (observations, results, statements, the preview); the views only
read it and put it into words.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crmsim.scenarios.schema import STAGES
from crmsim.sim.decisions import TIER_NAMES, DecisionError
from crmsim.sim.observation import news, observe
from crmsim.sim.statements import statements_history
from crmsim.web.chartspec import period_chart
from crmsim.web.db import get_db
from crmsim.web.i18n import current_lang, problem_text, refusal_text, rule_text
from crmsim.web.models import Adjustment
from crmsim.web.service import (
    ServiceError,
    latest_decisions,
    load_draft,
    practice_snapshot,
    rebuild,
    seconds_left,
    snapshots,
    submit_decision,
)
from crmsim.web.views import STANDING_FIELDS, ONE_OFF_FIELDS, current_team, form_to_raw, page_token, team_required

bp = Blueprint("team", __name__, url_prefix="/team")


def form_fields(scenario, tenders) -> set[str]:
    """The names of the decision form's fields (and of the fieldsets that show a whole group's errors)."""
    names = set(STANDING_FIELDS + ONE_OFF_FIELDS)
    if scenario.cultivation.mode == "lifecycle":
        names |= {"activities", *(f"activities.{c}" for c in scenario.client_ids)}
    else:
        names |= {"cultivation", *(f"cultivation.{c}" for c in scenario.client_ids)}
    names.add("bids")
    for t in tenders:
        names |= {f"bids.{t.id}", f"bids.{t.id}.price", f"bids.{t.id}.promised_service"}
    if scenario.research.offered:
        names |= {"research", "research.rivals", "research.survey", "research.forecast"}
    if scenario.crm.retention_offered:
        names.add("retention_budget")
    if scenario.crm.tier_care:
        names |= {"care_split", *(f"care_split.{t}" for t in TIER_NAMES)}
    return names


def on_form(field: str, fields: set[str]) -> str | None:
    """The form field (or fieldset) a problem belongs beside: ``activities.haier.visit`` sits by ``activities.haier``."""
    while field:
        if field in fields:
            return field
        field = field.rpartition(".")[0]
    return None


def team_view(game, team, errors=None, form_values=None, status: int = 200, carry: dict[str, str] | None = None):
    """The cockpit. `form_values`: the form as typed (else the submitted decision, the draft or the standing
    decision); `carry`: typed fields laid over that (a closed period's standing fields)."""
    db = get_db()
    model = rebuild(db, game)
    scenario = model.scenario
    firm = model.state.firms[team.firm_index]
    snaps = snapshots(db, game)
    # before the first scored period resolves, the last report is the practice period's (marked: not scored)
    last = snaps[-1] if snaps else practice_snapshot(db, game)
    own_rows = [s.firm_rows[team.firm_index] for s in snaps]
    submitted = latest_decisions(db, game).get(team.firm_index)
    values = form_values
    if values is None:
        values = submitted.payload if submitted else (load_draft(db, game, team) or firm.standing.to_dict())
    k = {c: i for i, c in enumerate(scenario.client_ids)}
    tenders = model.state.tenders if game.status != "finished" else ()
    fields = form_fields(scenario, tenders)
    placed: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for field, texts in (errors or {}).items():
        where = on_form(field, fields)
        if where is None:
            elsewhere.extend(texts)
        else:
            placed.setdefault(where, []).extend(texts)
    obs = observe(model.state, team.firm_index, model.results) if not model.state.finished else None
    adjustments = db.scalars(select(Adjustment).where(Adjustment.game_id == game.id, Adjustment.firm_index == team.firm_index)
                             .order_by(Adjustment.period, Adjustment.id)).all()
    lifecycle = scenario.cultivation.mode == "lifecycle"
    page = render_template(
        "team/dashboard.html",
        game=game,
        team=team,
        firm=firm,
        scenario=scenario,
        customers=int((model.state.population.supplier == team.firm_index).sum()),
        relationship={c: float(model.state.relationship[team.firm_index, i]) for c, i in k.items()},
        stages={c: STAGES[int(model.state.lifecycle.stage[team.firm_index, i])] for c, i in k.items()} if lifecycle else {},
        progress=obs.progress if obs else {},
        idle=obs.idle if obs else {},
        rivals_max=obs.rivals_relationship_max if obs else {},
        calendar=obs.calendar if obs else [],
        research=obs.research if obs else None,
        tenders=tenders,
        last=last,
        own_rows=own_rows,
        own_bids=[b for b in (last.bid_rows if last else []) if b["firm"] == team.firm_index],
        submitted=submitted,
        values={**flat_values(values), **(carry or {})},
        errors=placed,
        other_errors=elsewhere,
        adjustments=adjustments,
        seconds_left=seconds_left(game),
        api_token=page_token(),
        news=news(model.state),
        hours_available=firm.sales_staff * scenario.cultivation.hours_per_sales_staff,
        labels=preview_labels(),
        team_names={t.firm_index: t.name for t in game.teams},
    )
    return page, status


@bp.route("/", methods=["GET", "POST"])
@team_required
def dashboard():
    team = current_team()
    game = team.game
    if request.method == "GET":
        return team_view(game, team)
    raw = form_to_raw(request.form)
    period = (request.form.get("period") or "").strip()
    if period and not (period.isascii() and period.isdigit()):
        flash(refusal_text("period", "must be a whole number", period, game.scenario_json), "error")
        return team_view(game, team, form_values=_echo(request.form), status=400)
    try:
        submit_decision(get_db(), game, team, raw, source="form", period=int(period) if period else None)
    except DecisionError as exc:
        errors: dict[str, list[str]] = {}
        for p in exc.problems:
            text = problem_text(p.field, p.rule, p.value, game.scenario_json)
            if text not in errors.get(p.field, []):
                errors.setdefault(p.field, []).append(text)
        flash(_("Your decision was not saved: %(n)d problem(s). Nothing changed.", n=len(exc.problems)), "error")
        return team_view(game, team, errors=errors, form_values=_echo(request.form), status=400)
    except ServiceError as exc:
        p = exc.problem
        if p.field == "period" and isinstance(p.value, int) and p.value != game.period:
            # "period 1 is closed: reload" after a resolve, "period 2 was rolled back: ..." after a rollback
            flash(rule_text(p.rule), "error")
            # the open period's form, keeping only the standing fields typed (as the live page carries them over):
            # the closed period's hires, loans and bids are never offered again
            return team_view(game, team, carry=_standing_only(_echo(request.form)), status=exc.status)
        flash(refusal_text(p.field, p.rule, p.value, game.scenario_json), "error")
        return team_view(game, team, form_values=_echo(request.form), status=exc.status)
    if game.period == 0:
        flash(_("Decision submitted for the practice period (not scored). You can revise it until the deadline."))
    else:
        flash(_("Decision submitted for period %(p)d. You can revise it until the deadline.", p=game.period))
    return redirect(url_for("team.dashboard"))


@bp.get("/reports")
@team_required
def reports():
    """The team's own history: a table and charts of its KPIs, and each period's statements."""
    team = current_team()
    game = team.game
    model = rebuild(get_db(), game)
    rows = [r.firm_rows[team.firm_index] for r in model.results]
    practice = practice_snapshot(get_db(), game)
    # the practice game numbers its one period 1 in its own rows: period 0 here, as the game calls it
    practice_row = {**practice.firm_rows[team.firm_index], "period": 0} if practice is not None else None
    history = statements_history(model.results, team.firm_index, model.scenario)
    chosen = request.args.get("period", type=int)
    shown = next((s for s in history if s.period == chosen), history[-1] if history else None)
    adjustments = get_db().scalars(select(Adjustment).where(Adjustment.game_id == game.id, Adjustment.firm_index == team.firm_index)
                                   .order_by(Adjustment.period, Adjustment.id)).all()
    return render_template("team/reports.html", game=game, team=team, scenario=model.scenario, rows=rows, history=history,
                           shown=shown, charts=kpi_charts(rows), adjustments=adjustments, practice_row=practice_row)


@bp.get("/rules")
@team_required
def rules():
    """The rules of this game, with this scenario's numbers, and a glossary."""
    team = current_team()
    game = team.game
    sc = rebuild(get_db(), game).scenario
    return render_template("team/rules.html", game=game, team=team, scenario=sc)


def kpi_charts(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The team's own KPIs across periods as chart specs (web.chartspec), read from its firm rows."""
    lang = current_lang()
    periods = [int(r["period"]) for r in rows]

    def col(key: str) -> list:
        return [r.get(key) for r in rows]

    return [
        ("chart-money", period_chart(_("Revenue and profit"), periods, {
            _("Revenue"): col("revenue"), _("Operating profit"): col("operating_profit"), _("Net profit"): col("net_profit")},
            "yuan", lang=lang)),
        ("chart-rates", period_chart(_("Acquisition, retention and churn"), periods, {
            _("Acquisition rate"): col("acquisition_rate"), _("Retention rate"): col("retention_rate"),
            _("Churn rate"): col("churn_rate")}, "percent", lang=lang)),
        ("chart-satisfaction", period_chart(_("Satisfaction (0-10)"), periods, {_("Average satisfaction"): col("avg_satisfaction")},
                                            "score", lang=lang)),
        ("chart-complaints", period_chart(_("Complaints resolved"), periods, {_("Resolution rate"): col("resolution_rate")},
                                          "percent", lang=lang)),
        ("chart-wallet", period_chart(_("Share of wallet"), periods, {_("Share of wallet"): col("share_of_wallet")}, "percent", lang=lang)),
        ("chart-equity", period_chart(_("Customer equity"), periods, {_("Customer equity"): col("customer_equity")}, "yuan", lang=lang)),
        ("chart-abc", period_chart(_("ABC mix (customers per tier)"), periods, {
            _("Tier A"): col("tier_a"), _("Tier B"): col("tier_b"), _("Tier C"): col("tier_c")}, "count", lang=lang, kind="stack")),
    ]


def preview_labels() -> dict[str, str]:
    """The words the live decision support (web/static/app.js) writes, in the page's language."""
    return {
        "costs": _("Costs of this decision"), "salaries": _("Salaries"), "staffing": _("Hiring and severance"),
        "service_cost": _("Service cost"), "care_ads": _("Care and advertising"), "cultivation": _("Cultivation"),
        "research": _("Market research"), "retention": _("Retention spending"), "interest": _("Interest"),
        "total": _("Total before sales"), "bonds": _("Bid bonds pledged"), "cash_after": _("Cash after costs, before sales"),
        "capacity": _("Service capacity used"), "unit_cost": _("Unit cost"), "projection": _("Projection for this period"),
        "revenue": _("Revenue"), "net_profit": _("Net profit"), "cash_end": _("Cash at the end of the period"),
        "break_even": _("Break-even price"), "emergency_loan": _("Emergency loan"), "warnings": _("Warnings"),
        "assumptions": _("What the projection assumes"), "problems": _("Not accepted yet"),
        "bid_ok": _("Passes the tender office's checks as things stand"), "bid_void": _("Would be void"),
        "delivery_cost": _("Your cost per unit at the promised service"), "margin": _("Margin per unit"),
        "profit_if_won": _("Profit if won"), "bond": _("Bid bond"), "hours": _("Sales hours"),
        "saved": _("draft saved"), "closed": _("Period %(p)s is closed: this form is locked and what you typed is kept. Reload for period %(n)s."),
        "reload": _("Open the new period"),
        "closed_practice": _("The practice period is closed: this form is locked and what you typed is kept. Reload for period 1, the first scored period."),
        "rolled_back": _("Period %(p)s was rolled back by the instructor: period %(n)s is open again. This form is locked and what you typed is kept."),
        "deadline": _("The deadline has passed: submissions are closed. This form is locked and what you typed is kept; if the instructor extends the time, it opens again."),
        "paused": _("The instructor has paused the game: submissions wait until it resumes. This form is locked and what you typed is kept; it opens again when the game resumes."),
        "carried": _("Your price, service level and budgets typed for the closed period are carried over as a draft: check them and submit. Hires, loans, bids, activities and research start afresh."), "none": _("No warnings."), "ok": _("This decision would be accepted."),
        "utilisation": _("Utilisation of service staff"), "beside": _("%(n)s problem(s) marked beside their fields."),
    }


def flat_values(values: dict) -> dict[str, str]:
    """Form field name -> value as text, from a stored decision, a saved draft or the typed form.

    A draft is whatever the team's browser saved, so any JSON shape is shown as text, never trusted.
    Checkboxes are ``name:value`` keys (``activities.haier:visit``, ``research.rivals:haier``, ``research.forecast:1``).
    """
    if "_form" in values:
        typed = values["_form"]
        return {str(k): _text(v) for k, v in typed.items()} if isinstance(typed, dict) else {}
    skip = ("cultivation", "bids", "late", "activities", "research", "care_split")
    out = {str(k): _text(v) for k, v in values.items() if k not in skip}
    cultivation, bids = values.get("cultivation"), values.get("bids")
    for c, amount in (cultivation.items() if isinstance(cultivation, dict) else ()):
        out[f"cultivation.{c}"] = _text(amount)
    for t, b in (bids.items() if isinstance(bids, dict) else ()):
        bid = b if isinstance(b, dict) else {}
        out[f"bids.{t}.price"] = _text(bid.get("price", ""))
        out[f"bids.{t}.promised_service"] = _text(bid.get("promised_service", ""))
    activities = values.get("activities")
    for c, acts in (activities.items() if isinstance(activities, dict) else ()):
        for a in (acts if isinstance(acts, list) else [acts]):
            out[f"activities.{c}:{a}"] = "1"
    research = values.get("research") if isinstance(values.get("research"), dict) else {}
    for c in (research.get("rivals") or [] if isinstance(research.get("rivals"), list) else []):
        out[f"research.rivals:{c}"] = "1"
    if research.get("survey"):
        out["research.survey"] = _text(research["survey"])
    if research.get("forecast"):
        out["research.forecast:1"] = "1"
    split = values.get("care_split")
    for t, share in (split.items() if isinstance(split, dict) else ()):
        out[f"care_split.{t}"] = _text(share)
    for k in ("hire_sales", "fire_sales", "hire_service", "fire_service", "borrow", "repay", "retention_budget"):
        if out.get(k) in ("0", "0.0"):
            out[k] = ""
    return out


STANDING_FORM_FIELDS = ("price", "service_level", "care_budget", "advertising_budget", "retention_budget", "care_split.", "cultivation.")


def _standing_only(echo: dict) -> dict[str, str]:
    """The standing fields of a typed form (the decision's standing part, crmsim.sim.decisions.Decision.standing)."""
    return {k: v for k, v in echo["_form"].items() if k.startswith(STANDING_FORM_FIELDS) and v}


def _text(value) -> str:
    """A value as the form shows it: a whole amount without ".0" (10000, not 10000.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return "" if value is None else str(value)


def _echo(form) -> dict:
    """The typed values, to show the form again as the team left it (checkboxes as ``name:value``)."""
    typed: dict[str, str] = {}
    for k in form.keys():
        if k in ("csrf_token", "period"):
            continue
        if k.startswith("activities.") or k in ("research.rivals", "research.forecast"):
            for v in form.getlist(k):
                typed[f"{k}:{v}"] = "1"
        else:
            typed[k] = form.get(k)
    return {"_form": typed}
