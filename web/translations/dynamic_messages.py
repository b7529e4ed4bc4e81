"""Msgids that the web app translates at run time from a variable, listed here so that
``pybabel extract`` (see web/babel.cfg) puts them in the catalogue.

Never imported. The templates call ``_(game.status)``, and auth.py shows
``_(exc.problem.rule)`` for a ServiceError raised in web/service.py; pybabel cannot
see strings passed through a variable. Keep these in step with web/models.py
(Game.status), the literal rule strings in web/service.py and the storage
faults' messages in web/db.py (FAULT_RULES). Rules built with
f-strings (e.g. "the scenario seats {n} teams") cannot be matched and stay English.
"""


def _l(s: str) -> str:  # extraction marker only (pybabel -k _l)
    return s


GAME_STATUSES = (_l("open"), _l("paused"), _l("finished"))

SERVICE_RULES = (
    _l("no team has this join code"),
    _l("this seat is played by a bot"),
    _l("must be in [0, 2147483647]"),
    _l("must be >= 0.5 and <= 1440"),
    _l("must be >= 0 and <= 1440"),
    _l("only an open period can be paused"),
    _l("only a paused game can resume"),
    _l("the game is finished"),
    _l("belongs to another game"),
    _l("the game is paused; submit when the instructor resumes"),
    _l("the deadline for this period has passed"),
    _l("must be a finite number with |amount| <= 1e9"),
    _l("must say why (it is shown in the debrief)"),
    _l("no such team in this game"),
    _l("was resolved by another request"),
    _l("must be absent (seats no team joined) or all (every team seat)"),
    _l("give a catalogue name or an uploaded scenario, not both"),
    _l("must not be blank"),
    _l("was already resolved"),
    _l("no period has been resolved yet: nothing to roll back"),
    _l("a replay is possible once the game is finished: the rest of the game is not public before"),
    _l("must name at least one decision field to change"),
    _l("no resolved period awarded this tender (bids are public only after the award)"),
    _l("the instructor names the seat to ask about"),
    _l("a team asks about its own firm only"),
    _l("must be a number"),
    _l("must be a whole number"),
)

STORAGE_FAULTS = (
    _l("the database's disk is full: nothing was saved; free some space and try again"),
    _l("the database is read-only: nothing was saved; make it writable again (no restart needed)"),
    _l("the database cannot be reached or is busy: nothing was saved; try again in a moment"),
)
