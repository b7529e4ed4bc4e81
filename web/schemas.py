"""The JSON API's request bodies as pydantic models: they validate each request and document it (web/openapi.py).

The models check the envelope, the shape, types and sizes of what a request
carries, with limits taken from the service (web/service.py), which stays the
home of each rule. A decision's fields are the engine's business: its body is
any JSON object, passed whole to the engine's validation, which names every
problem. The instructor's forms are validated by the same models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationError

from crmsim.scenarios.schema import FirmSetup
from crmsim.sim.accounts import MAX_ADJUSTMENT
from crmsim.web.guard import InputRefused, parse_json, preview
from crmsim.web.models import Team
from crmsim.web.service import (
    ANNOUNCEMENT_MAX,
    BOT_SCOPES,
    DEADLINE_MINUTES,
    GAME_NAME_MAX,
    PERIOD_MINUTES,
    REASON_MAX,
    SCENARIO_NAME_MAX,
    SCENARIO_TEXT_MAX,
    SEED_MAX,
    TEAM_NAME_MAX,
)

SECRET_MAX = 1024  # a password or a join code as typed
BOT_NAME_MAX = Team.__table__.c.bot.type.length
MAX_FIRMS = next(m.le for m in FirmSetup.model_fields["count"].metadata if getattr(m, "le", None) is not None)  # seats a scenario may have
MAX_PERIOD = 10_000  # the envelope's bound on a period number; the service compares it with the game's


def _not_true_or_false(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


Whole = Annotated[int, BeforeValidator(_not_true_or_false)]
Number = Annotated[float, BeforeValidator(_not_true_or_false)]
SeatNumber = Annotated[str, Field(pattern=r"^[0-9]{1,2}$", description="a seat (firm index) as text: 0, 1, ...")]


class Body(BaseModel):
    """A request body: a JSON object with only the fields below, numbers finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LoginBody(Body):
    password: str = Field(max_length=SECRET_MAX, description="the instructor's password")


class JoinBody(Body):
    code: str = Field(max_length=SECRET_MAX, description="a team's join code (case and spaces ignored)")


class NewGameBody(Body):
    scenario: str | None = Field(None, max_length=SCENARIO_NAME_MAX,
                                 description="a catalogue scenario (GET /api/scenarios); default classroom-v1")
    scenario_toml: str | None = Field(None, max_length=SCENARIO_TEXT_MAX,
                                      description="instead of a catalogue name: a scenario file's text, which names itself "
                                                  "and may extend a catalogue scenario")
    seed: Whole = Field(1, ge=0, le=SEED_MAX)
    name: str | None = Field(None, min_length=1, max_length=GAME_NAME_MAX)
    teams: list[Annotated[str, Field(min_length=1, max_length=TEAM_NAME_MAX)]] | None = Field(
        None, max_length=MAX_FIRMS, description="team names, one per seat")
    bots: dict[SeatNumber, Annotated[str, Field(max_length=BOT_NAME_MAX)]] = Field(
        default_factory=dict, max_length=MAX_FIRMS, description="seat -> bot name (GET /api/scenarios lists the bots)")
    period_minutes: Number = Field(15.0, ge=PERIOD_MINUTES[0], le=PERIOD_MINUTES[1])
    practice: bool = Field(False, description="open with an unscored practice period 0")
    public: bool = Field(False, description="list the game on the home page for anyone (default: unlisted)")
    auto_resolve: bool = Field(False, description="the server resolves each period at its deadline")


class ResolveBody(Body):
    period: Whole | None = Field(None, ge=0, le=MAX_PERIOD,
                                 description="the period to resolve; a repeated request for a resolved one answers 409")
    confirm_missing: bool = Field(False, description="the console's confirmation to resolve while teams have not submitted "
                                                     "(the console asks for it; the API resolves without it)")


class RollbackBody(Body):
    period: Whole | None = Field(None, ge=0, le=MAX_PERIOD,
                                 description="the period to roll back: the last resolved one (a repeated request answers 409)")


class AnnounceBody(Body):
    text: str = Field(min_length=1, max_length=ANNOUNCEMENT_MAX, description="the message, shown on the team page")
    firm: Whole | None = Field(None, ge=0, le=MAX_FIRMS - 1, description="one team's seat; left out: every team")


class OptionsBody(Body):
    public: bool | None = Field(None, description="list the game on the home page for anyone")
    auto_resolve: bool | None = Field(None, description="resolve each period automatically at its deadline")


class NoBody(Body):
    pass


class DeadlineBody(Body):
    minutes: Number = Field(0.0, ge=DEADLINE_MINUTES[0], le=DEADLINE_MINUTES[1], description="minutes from now")


class ExtendBody(Body):
    minutes: Number = Field(5.0, ge=DEADLINE_MINUTES[0], le=DEADLINE_MINUTES[1], description="minutes added to the time left")


class BotsBody(Body):
    bot: str = Field("balanced", max_length=BOT_NAME_MAX)
    scope: Literal[BOT_SCOPES] = Field("absent", description="absent: seats no team joined; all: every team seat")


class AdjustBody(Body):
    firm: Whole = Field(ge=0, le=MAX_FIRMS - 1, description="the team's seat (firm index)")
    amount: Number = Field(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT, description="¥: a bonus (+) or a penalty (-)")
    reason: str = Field(max_length=REASON_MAX, description="shown in the debrief")


class RescoreBody(Body):
    period: Whole | None = Field(None, ge=1, le=MAX_PERIOD, description="the period that awarded the tender (default: the last "
                                                                         "resolved period that did)")
    price: Number = Field(ge=0, description="the bid price to try, ¥ per unit")
    promised_service: Number = Field(ge=0, le=1, description="the promised service to try")
    firm: Whole | None = Field(None, ge=0, le=MAX_FIRMS - 1, description="the instructor's choice of seat; a team asks for its own")


class ReplayBody(Body):
    period: Whole = Field(ge=1, le=MAX_PERIOD, description="the period whose decision changes")
    change: dict[str, Any] = Field(description="the decision fields to change, e.g. {\"price\": 95}; bids tender by tender")
    firm: Whole | None = Field(None, ge=0, le=MAX_FIRMS - 1, description="the instructor's choice of seat; a team changes its own")


class DecisionBody(RootModel[dict[str, Any]]):
    """A decision for the open period: any of the engine's decision fields (docs/api.md); fields left out keep the
    standing decision. The engine validates the fields and names every problem."""


class DraftBody(RootModel[dict[str, Any]]):
    """An unsubmitted decision form, kept as typed (any JSON object, within the draft size limit)."""


def validated(model: type[BaseModel], data: Any) -> Any:
    """`data` validated by `model`.

    Raises:
        InputRefused: naming the top-level field (or the body) and pydantic's reason.
    """
    if not isinstance(data, Mapping):
        raise InputRefused("body", "must be a JSON object", preview(data))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first, *more = (refused(model, err) for err in exc.errors(include_url=False))
        first.more = more  # a form shows them all; the API answers with the first
        raise first from None


def refused(model: type[BaseModel], err: Any) -> InputRefused:
    """One of pydantic's errors for `model` as an InputRefused: the top-level field (or the body), pydantic's
    reason (with the place inside the field) and the value given."""
    loc = [str(part) for part in err["loc"]]
    field = loc[0] if loc else "body"
    where = ".".join(loc[1:])
    rule = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        rule = f"unknown field; allowed: {', '.join(model.model_fields) or 'none'}"
    value = err.get("input") if isinstance(err.get("input"), (int, float, str, bool, type(None))) else None
    return InputRefused(field, f"{where}: {rule}" if where else rule, preview(value) if isinstance(value, str) else value)


def read_body(model: type[BaseModel]) -> Any:
    """The request's JSON body validated by `model` (an empty body is an empty object)."""
    raw = request.get_data(cache=True)
    return validated(model, parse_json(raw) if raw.strip() else {})


def read_form(model: type[BaseModel]) -> Any:
    """A form validated by `model` (blank fields count as left out; the CSRF token is not a field)."""
    return validated(model, {k: v for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""})


def accepts(model: type[BaseModel]) -> Callable:
    """Decorate an API view: its JSON body, validated by `model`, is passed as ``body``; the model documents it."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            return view(*args, body=read_body(model), **kwargs)

        wrapped.request_model = model
        return wrapped

    return decorate
