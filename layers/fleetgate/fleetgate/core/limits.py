"""Input limits every route shares: body size, JSON nesting depth, printable names; and the clip that keeps
JSON stored before these limits from breaking a response.

The depth check runs on the raw text, before anything parses it: Python's JSON parser and pydantic's
serializer both recurse, so a body nested a thousand levels deep fails inside them (a 500) before any
validator could look at it. Strings are stripped first (a bracket inside a string is not nesting), then
only the brackets are counted; a body with few brackets is answered without counting at all.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import accumulate
from typing import Any

MAX_JSON_DEPTH = 32  # DynamoDB's own limit for nested attributes
MAX_BODY_BYTES = 1024 * 1024  # every API route (API Gateway takes 10 MB, Lambda 6 MB; nothing of ours needs more)

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = str.maketrans({"[": "+", "{": "+", "]": "-", "}": "-"})


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON ``text`` nests arrays and objects deeper than ``limit`` (invalid JSON may answer
    either way: it fails to parse afterwards)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if len(brackets) <= limit:
        return False
    steps = brackets.translate(_STEP)
    return max(accumulate(1 if s == "+" else -1 for s in steps)) > limit


# ------------------------------------------------------------------ names
# Bidirectional formatting characters (the "Trojan Source" set) and the line and paragraph separators.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def printable_name(value: str) -> str:
    """The one validator of every name field: no control characters (NUL, newlines, tabs, DEL, C1) and no
    bidirectional overrides or isolates, which make a name display as something else."""
    for ch in value:
        if ch in _BIDI or unicodedata.category(ch) == "Cc":
            raise ValueError(f"must not contain control or bidirectional-override characters (U+{ord(ch):04X})")
    return value


# ------------------------------------------------------------------ stored JSON
CLIPPED = f"(nested deeper than {MAX_JSON_DEPTH} levels: not shown)"


def clip_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> Any:
    """``value`` with every array or object deeper than ``limit`` replaced by :data:`CLIPPED` (JSON stored
    before the depth limit existed must still be readable; nothing stored since needs it)."""
    if not isinstance(value, (dict, list)):
        return value
    if limit <= 0:
        return CLIPPED
    if not _deeper_than(value, limit):
        return value
    if isinstance(value, dict):
        return {k: clip_depth(v, limit - 1) for k, v in value.items()}
    return [clip_depth(v, limit - 1) for v in value]


def _deeper_than(value: Any, limit: int) -> bool:
    """Iterative (never recurses), stops at the first container beyond ``limit``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
