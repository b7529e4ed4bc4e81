"""Failed sign-in guesses, counted per client address and per secret (the instructor's password, join codes).

A failed guess counts the same on the page and on the API (``/login`` and
``/api/login`` share one count, ``/join`` and ``/api/join`` another, and a
wrong first-run setup token counts as a password guess). Only failures count:
a classroom of teams joining from one NAT address is never throttled. When
the address has used up RATELIMIT_AUTH (default 10 per minute), every further
guess is refused with 429 until the window ends, a right one too. The counts
live in RATELIMIT_STORAGE_URI (memory, or Redis shared by several processes);
each app has its own counter, so two apps in one process never share counts.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

PASSWORD, JOIN_CODE = "password", "join-code"
DEFAULT_LIMIT = "10 per minute"
GUESSES = "guesses"  # the key of the app's Guesses in app.extensions


class Guesses:
    """One app's counter of failed guesses."""

    def __init__(self, app: Flask):
        self.limit = parse(app.config["RATELIMIT_AUTH"])
        self.enabled = bool(app.config.get("RATELIMIT_ENABLED", True))
        self.prefix = app.config.get("RATELIMIT_KEY_PREFIX") or ""
        self.window = FixedWindowRateLimiter(storage_from_string(app.config["RATELIMIT_STORAGE_URI"]))

    def _key(self, secret: str) -> tuple[str, ...]:
        return tuple(part for part in (self.prefix, request.remote_addr or "unknown", secret) if part)

    def allow(self, secret: str) -> None:
        """Before checking a guess at `secret`: raise 429 if this address has no guess left."""
        key = self._key(secret)
        if self.enabled and not self.window.test(self.limit, *key):
            reset = self.window.get_window_stats(self.limit, *key).reset_time
            raise TooManyRequests(f"{self.limit.amount} failed {secret} guesses per {self.limit.GRANULARITY.name}; "
                                  "wait and try again", retry_after=max(1, math.ceil(reset - time.time())))

    def failed(self, secret: str) -> None:
        """Count a wrong guess at `secret` from this address."""
        if self.enabled:
            self.window.hit(self.limit, *self._key(secret))


def init_app(app: Flask) -> None:
    app.extensions[GUESSES] = Guesses(app)


def guesses() -> Guesses:
    return current_app.extensions[GUESSES]
