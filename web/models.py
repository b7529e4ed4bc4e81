"""The classroom database: games, teams, the append-only decision log, adjustments and period snapshots.

A game can always be rebuilt from (scenario, seed, decisions passed to the
engine, adjustments); the snapshots are the published results of each period
and must equal the rebuild.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Key-value settings: the instructor's password hash set at first run, and until then the one-time setup token."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Game(Base):
    __tablename__ = "games"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    scenario_name: Mapped[str] = mapped_column(String(80))
    scenario_json: Mapped[dict] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | paused | finished
    period: Mapped[int] = mapped_column(Integer, default=1)  # the period open for decisions (0: the practice period)
    period_minutes: Mapped[float] = mapped_column(Float, default=15.0)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    paused_seconds_left: Mapped[float | None] = mapped_column(Float, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every published change (scoreboard polling)
    public: Mapped[bool] = mapped_column(Boolean, default=False)  # listed on the home page (and GET /api/games) for anyone
    practice: Mapped[bool] = mapped_column(Boolean, default=False)  # the game opens with an unscored practice period 0
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=False)  # the server resolves the period at its deadline
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    teams: Mapped[list[Team]] = relationship(back_populates="game", order_by="Team.firm_index")


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("game_id", "firm_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    firm_index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(80))
    join_code: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    bot: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a bot fills this seat
    joined_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the team's last signed-in request
    game: Mapped[Game] = relationship(back_populates="teams")


class DecisionRecord(Base):
    """Append-only: every submission and every decision passed to the engine."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    firm_index: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer, index=True)
    payload: Mapped[dict] = mapped_column(JSON)  # the validated Decision.to_dict()
    source: Mapped[str] = mapped_column(String(16))  # form | api | engine (the standing or bot decision a resolution used)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # an engine record of a resolution the instructor rolled back (回退): kept in the log, no longer in force
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Draft(Base):
    """A team's unsubmitted form, saved as it types (not part of the log)."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("game_id", "firm_index", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"))
    firm_index: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Adjustment(Base):
    """An instructor's logged bonus (+) or penalty (-), booked when the period resolves."""

    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    firm_index: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Snapshot(Base):
    """The published results of one resolved period, and the decisions that produced them."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("game_id", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    period: Mapped[int] = mapped_column(Integer)
    engine_decisions: Mapped[dict] = mapped_column(JSON)  # firm -> decision passed to the engine
    adjustments: Mapped[dict] = mapped_column(JSON)
    firm_rows: Mapped[list] = mapped_column(JSON)
    bid_rows: Mapped[list] = mapped_column(JSON)
    tender_rows: Mapped[list] = mapped_column(JSON)
    relationship_rows: Mapped[list] = mapped_column(JSON)
    events: Mapped[list] = mapped_column(JSON)
    market: Mapped[dict] = mapped_column(JSON)
    resolve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """Instructor actions (open, pause, extend, resolve, bots, adjustments), for the debrief."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    period: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Announcement(Base):
    """An instructor's message to every team (firm_index None) or to one team, shown on the team page."""

    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    firm_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    period: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Grant(Base):
    """One sign-in: a browser session or an API token, valid until it expires or is revoked (sign-out).

    Only a hash of the token is stored. A team page's API token is a child grant
    of the page's session, revoked with it.
    """

    __tablename__ = "grants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token, hex
    kind: Mapped[str] = mapped_column(String(16))  # instructor | team
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("grants.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
