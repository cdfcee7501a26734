"""Fixed-window counters in the rate-limits table. The only module of this context that knows DynamoDB.

One item per (scope, key, window): ``count`` is raised with one UpdateItem (ADD), which also sets the item's
TTL, so a counter costs one write and vanishes by itself after its window. A read without counting is one
GetItem of the current window's item.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from fleetgate.core.repository import BaseModel, get_item, meta
from fleetgate.core.settings import cached, table_name


class CounterItem(BaseModel):
    class Meta:
        abstract = True

    key = UnicodeAttribute(hash_key=True)  # "<scope>#<key>#<window start, epoch seconds>"
    count = NumberAttribute(default=0)
    expires_at = TTLAttribute()


@cached
def _counters() -> type[CounterItem]:
    return type("RateCounterModel", (CounterItem,), {"Meta": meta(table_name("RATE_LIMITS_TABLE"))})


def add(key: str, *, expires_at: int) -> int:
    """Count one more in ``key``'s window and return the new count (one UpdateItem)."""
    Counters = _counters()
    item = Counters(key)
    expiry = datetime.fromtimestamp(expires_at, UTC)
    item.update(actions=[Counters.count.add(1), Counters.expires_at.set(Counters.expires_at | expiry)])
    return int(item.count)


def read(key: str) -> int:
    """The count in ``key``'s window, without counting (one GetItem; 0 when there is none)."""
    item = get_item(_counters(), key)
    return int(item.count) if item is not None else 0


def delete(key: str) -> None:
    _counters()(key).delete()
