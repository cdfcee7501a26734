"""Per-instance caches with a time to live: what a warm Lambda instance remembers between invocations (ingest
keys, a dev_eui's device, a device's flow triggers). Registered with :func:`fleetgate.core.settings.resettable`,
so a settings reset (tests, a new environment) empties them."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from fleetgate.core.settings import resettable

V = TypeVar("V")
MISSING: Any = object()


def clock() -> float:
    return time.monotonic()


class TtlCache(Generic[V]):
    """At most ``size`` entries, each for ``seconds`` after it was put (the least recently put go first)."""

    def __init__(self, seconds: float, size: int = 4096):
        self.seconds, self.size = seconds, size
        self._items: OrderedDict[Any, tuple[float, V]] = resettable(OrderedDict())

    def get(self, key: Any) -> V:
        """The value, or :data:`MISSING` when absent or expired."""
        hit = self._items.get(key)
        if hit is None or clock() - hit[0] >= self.seconds:
            return MISSING
        return hit[1]

    def put(self, key: Any, value: V) -> V:
        self._items[key] = (clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def drop(self, key: Any) -> None:
        self._items.pop(key, None)
