"""Sign-in grants: each sign-in (a browser session or an API token) is a database row that expires and can be revoked.

The browser's session cookie and an API bearer token both carry a random
token; the database keeps its hash and who it signs in. Signing out revokes the
row, so a copy of the cookie or the token stops working everywhere, in every
server process. A team page's API token is a child of the page's session and
dies with it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from crmsim.web.models import Grant, utcnow

DEFAULT_TOKEN_HOURS = 12  # a class, with room to spare; then sign in or join again
KEEP_EXPIRED = timedelta(days=1)  # an expired grant is kept this long (its 401 says "expired"), then deleted
INSTRUCTOR, TEAM = "instructor", "team"


@dataclass(frozen=True)
class Holder:
    """Who a valid token signs in."""

    kind: str
    team_id: int | None
    grant_id: str


class TokenRefused(ValueError):
    """A token that signs no one in: unknown, expired or revoked (the message says which)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue(db: Session, kind: str, hours: float, team_id: int | None = None, parent: str | None = None) -> str:
    """A new token for `kind` (and team), valid for `hours`, or under `parent`: then it lasts as long as that
    token, and the parent's sign-out revokes it too. Grants expired for a day are cleared away."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    parent_grant = db.get(Grant, token_hash(parent)) if parent else None
    expires = parent_grant.expires_at if parent_grant is not None else now + timedelta(hours=hours)
    db.execute(delete(Grant).where(Grant.expires_at < now - KEEP_EXPIRED).execution_options(synchronize_session=False))
    db.add(Grant(id=token_hash(token), kind=kind, team_id=team_id, parent_id=parent_grant.id if parent_grant else None,
                 created_at=now, expires_at=expires))
    db.commit()
    return token


def holder(db: Session, token: str) -> Holder:
    """Who `token` signs in.

    Raises:
        TokenRefused: the token is unknown, expired or revoked (itself or the session it was issued under).
    """
    now = utcnow()
    grant = _valid(db.get(Grant, token_hash(token)), now)
    found = Holder(grant.kind, grant.team_id, grant.id)
    while grant.parent_id is not None:
        grant = _valid(db.get(Grant, grant.parent_id), now)
    return found


def _valid(grant: Grant | None, now) -> Grant:
    if grant is None:
        raise TokenRefused("token not recognised; sign in again")
    if grant.revoked_at is not None:
        raise TokenRefused("token revoked (signed out); sign in again")
    if grant.expires_at <= now:
        raise TokenRefused("token expired; sign in again")
    return grant


def revoke(db: Session, token: str) -> None:
    """Sign out: the token and every token issued under it stop working."""
    key = token_hash(token)
    db.execute(update(Grant).where(or_(Grant.id == key, Grant.parent_id == key), Grant.revoked_at.is_(None))
               .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    db.commit()
