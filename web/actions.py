"""The instructor's actions on a running game: each one's request model and its one service call.

The console's buttons (web/instructor.py, form fields) and the JSON API
(web/api.py, ``POST /api/games/<id>/<action>``) share this table, so a form
and a JSON body are read by the same model and do the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from crmsim.web.models import Game
from crmsim.web.schemas import AdjustBody, AnnounceBody, BotsBody, DeadlineBody, ExtendBody, NoBody, OptionsBody, ResolveBody, RollbackBody
from crmsim.web.service import (
    add_adjustment,
    announce,
    extend_deadline,
    fill_with_bots,
    only_absent_seats,
    pause,
    resolve,
    resume,
    rollback,
    set_deadline,
    set_options,
)


@dataclass(frozen=True)
class GameAction:
    """One action: its name (the URL's last part), its body's model, a summary, and the call (which returns what
    the API adds to its answer)."""

    name: str
    body: type[BaseModel]
    summary: str
    run: Callable[[Session, Game, Any], dict[str, Any]]


def _resolve(db: Session, game: Game, body: ResolveBody) -> dict[str, Any]:
    # without a period: the one open when the request came, so two racing requests resolve it once (one gets 409)
    r = resolve(db, game, expected_period=game.period if body.period is None else body.period)
    return {"period": r.period, "seconds": r.seconds, "finished": r.finished}


def _pause(db: Session, game: Game, body: NoBody) -> dict[str, Any]:
    pause(db, game)
    return {}


def _resume(db: Session, game: Game, body: NoBody) -> dict[str, Any]:
    resume(db, game)
    return {}


def _deadline(db: Session, game: Game, body: DeadlineBody) -> dict[str, Any]:
    set_deadline(db, game, body.minutes)
    return {}


def _extend(db: Session, game: Game, body: ExtendBody) -> dict[str, Any]:
    extend_deadline(db, game, body.minutes)
    return {}


def _bots(db: Session, game: Game, body: BotsBody) -> dict[str, Any]:
    return {"filled": fill_with_bots(db, game, body.bot, only_absent=only_absent_seats(body.scope))}


def _adjust(db: Session, game: Game, body: AdjustBody) -> dict[str, Any]:
    add_adjustment(db, game, body.firm, body.amount, body.reason)
    return {}


def _rollback(db: Session, game: Game, body: RollbackBody) -> dict[str, Any]:
    # without a period: the last resolved when the request came (the one before the open period), rolled back once
    return {"period": rollback(db, game, expected_period=game.period - 1 if body.period is None else body.period)}


def _announce(db: Session, game: Game, body: AnnounceBody) -> dict[str, Any]:
    note = announce(db, game, body.text, body.firm)
    return {"announcement": note.id}


def _options(db: Session, game: Game, body: OptionsBody) -> dict[str, Any]:
    set_options(db, game, public=body.public, auto_resolve=body.auto_resolve)
    return {"public": game.public, "auto_resolve": game.auto_resolve}


GAME_ACTIONS = {a.name: a for a in (
    GameAction("resolve", ResolveBody, "Close the open period and resolve it (with period: only if that period is still open).",
               _resolve),
    GameAction("pause", NoBody, "Freeze the clock.", _pause),
    GameAction("resume", NoBody, "Restart the clock.", _resume),
    GameAction("deadline", DeadlineBody, "Set the deadline that many minutes from now.", _deadline),
    GameAction("extend", ExtendBody, "Extend the deadline.", _extend),
    GameAction("bots", BotsBody, "Give seats no team joined (or every team seat) to a bot.", _bots),
    GameAction("adjust", AdjustBody, "A logged bonus (+) or penalty (-), booked when the period resolves.", _adjust),
    GameAction("rollback", RollbackBody, "Roll back (回退) the last resolved period: its results are withdrawn, the period opens "
               "again, the decision log keeps everything (audited).", _rollback),
    GameAction("announce", AnnounceBody, "An announcement to every team, or to one (firm), shown on the team page.", _announce),
    GameAction("options", OptionsBody, "List the game publicly on the home page; resolve each period at its deadline.", _options),
)}
