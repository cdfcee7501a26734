"""Switch-node conditions over a message field: ==, !=, <, <=, >, >=, contains, exists.

``field`` is a dotted path (``data.temperature``; list indexes as numbers: ``data.readings.0``). A missing field
fails every operator but ``!=`` (true) and ``exists`` (false). Ordering compares numbers with numbers and strings
with strings (anything else is false); ``contains`` is substring for strings, membership for lists and key
presence for objects.
"""

from __future__ import annotations

from typing import Any

MISSING = object()


def get_path(message: Any, path: str) -> Any:
    current = message
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def evaluate(operator: str, actual: Any, expected: Any) -> bool:
    if operator == "exists":
        return actual is not MISSING
    if actual is MISSING:
        return operator == "!="
    if operator == "==":
        return actual == expected
    if operator == "!=":
        return actual != expected
    if operator == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list):
            return expected in actual
        if isinstance(actual, dict):
            return isinstance(expected, str) and expected in actual
        return False
    comparable = (_number(actual) and _number(expected)) or (isinstance(actual, str) and isinstance(expected, str))
    if not comparable:
        return False
    return {"<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}[
        operator
    ]


def matches(node: dict[str, Any], message: Any) -> bool:
    """Whether a switch node's condition holds for ``message`` (its "true" branch is taken)."""
    return evaluate(node["operator"], get_path(message, node["field"]), node.get("value"))
