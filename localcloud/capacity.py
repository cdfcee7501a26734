"""DynamoDB capacity units as AWS bills them, from item sizes (the bench's cost model and the tests' budgets use
this one model, so they cannot disagree).

Item size: attribute names plus values (strings in UTF-8 bytes, numbers about one byte per two digits plus one,
binary by length, sets, lists and maps by their members). Write units: per item written, ceil(size / 1 KB) on the
table and on every index that holds it (KEYS_ONLY: the keys; INCLUDE: the keys and those attributes; ALL: the
item); an update counts an index only when it sets an attribute the index holds. Read units: ceil(size / 4 KB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from localcloud.template import Stack


def _value_size(value: dict[str, Any]) -> int:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(x).encode()) for x in v)
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    return 1


def item_size(item: dict[str, Any]) -> int:
    """The size DynamoDB bills for ``item`` (attribute values in DynamoDB's JSON: {"S": ...})."""
    return sum(len(k.encode()) + _value_size(v) for k, v in item.items())


@dataclass
class Index:
    keys: set[str]
    projection: str  # KEYS_ONLY | INCLUDE | ALL
    include: set[str] = field(default_factory=set)


@dataclass
class Table:
    keys: set[str]
    indexes: list[Index]

    def write_units(self, item: dict[str, Any], *, touched: set[str] | None = None) -> int:
        """What writing ``item`` (the whole item after the write) costs; ``touched``: the attributes an update set."""
        units = math.ceil(max(1, item_size(item)) / 1024)
        for index in self.indexes:
            if not index.keys <= set(item):
                continue  # sparse: not in this index
            held = self.keys | index.keys | (index.include if index.projection == "INCLUDE" else set())
            if touched is not None and index.projection != "ALL" and not (touched & held):
                continue  # the update changed nothing this index holds
            projected = item if index.projection == "ALL" else {k: v for k, v in item.items() if k in held}
            units += math.ceil(max(1, item_size(projected)) / 1024)
        return units


def tables(stack: Stack) -> dict[str, Table]:
    """Physical table name → its keys and indexes, from the template."""
    out = {}
    for logical, res in stack.template.get("Resources", {}).items():
        if res.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = res.get("Properties", {})
        indexes = [
            Index(
                {k["AttributeName"] for k in g["KeySchema"]},
                g["Projection"]["ProjectionType"],
                set(g["Projection"].get("NonKeyAttributes") or []),
            )
            for g in props.get("GlobalSecondaryIndexes") or []
        ]
        out[stack.physical_name(logical)] = Table({k["AttributeName"] for k in props.get("KeySchema", [])}, indexes)
    return out
