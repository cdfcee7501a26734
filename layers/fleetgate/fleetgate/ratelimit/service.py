"""Rate limits: how many times a key may be counted in a window, the same across every Lambda instance.

A limit is a scope (``login:user``, ``device:ip``, ...), a maximum and a window in seconds. Windows are fixed
and aligned to the epoch, so all instances agree on them without coordination; a caller refused at the
limit is told when the current window ends (``retry_after``, for a Retry-After header).

- :func:`hit` counts one and raises :class:`TooManyRequests` past the maximum (one UpdateItem): for a budget
  of requests, every request counts;
- :func:`check` raises the same without counting (one GetItem), and :func:`hit` afterwards counts only what
  should count: for throttling failed logins, check first, verify, then count a failure; it returns the count
  it read, so a caller can skip clearing a window nothing was counted in;
- :func:`clear` forgets a key's current window (a successful login).

Keys are hashed before they are stored, so a phone number, an address or an account name never sits in
the table in clear.
"""

import hashlib
import time
from typing import NamedTuple

from fleetgate.core.errors import TooManyRequests
from fleetgate.ratelimit import repository


class Limit(NamedTuple):
    """A scope, the most counts a key may have in a window, the window. NamedTuples here, not frozen dataclasses:
    cheaper to define at import (the login routes and the device routes load this module)."""

    scope: str
    maximum: int
    window_seconds: int


class _Window(NamedTuple):
    key: str
    ends_at: int

    def retry_after(self, now: float) -> int:
        return max(1, int(self.ends_at - now + 0.999))


def _window(limit: Limit, key: str, now: float) -> _Window:
    start = int(now) - int(now) % limit.window_seconds
    digest = hashlib.sha256(f"{limit.scope}\0{key}".encode()).hexdigest()[:32]
    return _Window(f"{limit.scope}#{digest}#{start}", start + limit.window_seconds)


def hit(limit: Limit, key: str, *, message: str = "Too many requests") -> int:
    """Count one request of ``key``; past ``limit.maximum`` in this window, :class:`TooManyRequests`.

    Returns the count so far in the window (including this one)."""
    now = time.time()
    window = _window(limit, key, now)
    count = repository.add(window.key, expires_at=window.ends_at + 60)
    if count > limit.maximum:
        raise TooManyRequests(message, retry_after=window.retry_after(now))
    return count


def check(limit: Limit, key: str, *, message: str = "Too many requests") -> int:
    """:class:`TooManyRequests` when ``key`` has already reached ``limit.maximum`` in this window; counts nothing.

    Returns the count so far in the window (0: nothing counted)."""
    now = time.time()
    window = _window(limit, key, now)
    count = repository.read(window.key)
    if count >= limit.maximum:
        raise TooManyRequests(message, retry_after=window.retry_after(now))
    return count


def clear(limit: Limit, key: str) -> None:
    repository.delete(_window(limit, key, time.time()).key)
