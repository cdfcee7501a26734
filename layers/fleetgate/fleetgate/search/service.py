"""Search: the caller's devices (name, dev_eui), functions, flows and integrations (name), case-insensitive,
prefix and substring matches, best first.

Index, fed by the DynamoDB Streams of those resources' tables (the SearchIndexerFunction calls
:func:`index_change` for each INSERT, MODIFY and REMOVE, with the item's old and new image), so an entity write
and its search entry can never half-happen: a failed indexing is retried from the stream. Every searchable field
is normalised (Unicode-folded, lower case, runs of anything but letters and digits become one space) and stored
as its suffixes, one token item per suffix
starting at a letter or digit within the first :data:`MAX_START` characters, each cut to :data:`TOKEN_CHARS`
characters. A query is normalised the same way; its first :data:`TOKEN_CHARS` characters select token items by
key prefix and a longer query is checked against the whole field value. Ranking: exact field match, then
prefix of the field, then prefix of a word, then any substring; names before EUIs; shorter names first.

Scope: the caller's own resources, admins included (the contract says "the caller's"; an admin reaches other
users' resources through the list routes). One search reads at most :data:`READ_CAP` token items, so a one- or
two-letter query over a large account ranks a sample of its matches; longer queries are exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from fleetgate.core.auth import Principal
from fleetgate.core.errors import InvalidInput
from fleetgate.search import repository
from fleetgate.search.schemas import SearchHit, SearchResults

# What is searchable of each resource (the ``kind`` of its item), by field.
SEARCHABLE: dict[str, tuple[str, ...]] = {
    "device": ("name", "dev_eui"),
    "function": ("name",),
    "flow": ("name",),
    "integration": ("name",),
}
TOKEN_CHARS = 24
MAX_START = 64
MAX_QUERY_CHARS = 128
READ_CAP = 1000  # token items read per search (one or two Query pages)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_RANKS = ("exact", "prefix", "word", "substring")


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return _NOT_ALNUM.sub(" ", folded).strip()


def _token_items(rtype: str, rid: str, fields: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    """The token items (keyed by range key) of a resource whose searchable fields are ``fields``."""
    name = fields.get("name") or ""
    out: dict[str, dict[str, Any]] = {}
    for field, value in fields.items():
        text = normalize(value or "")
        for pos in range(min(len(text), MAX_START)):
            if text[pos] == " ":
                continue
            token = text[pos : pos + TOKEN_CHARS].rstrip()
            sk = f"{token}|{rtype}|{rid}|{field}"
            if sk in out:  # the same cut token from a later position: the first (best-ranked) one stays
                continue
            out[sk] = {
                "sk": sk,
                "rtype": rtype,
                "rid": rid,
                "field": field,
                "pos": pos,
                "text": text,
                "name": name,
                "dev_eui": fields.get("dev_eui"),
            }
    return out


def _searchable(image: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    if not image or image.get("kind") not in SEARCHABLE:
        return None
    return {name: image.get(name) for name in SEARCHABLE[image["kind"]]}


def index_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """Bring the index in line with one change of a searchable resource: ``old`` / ``new`` are the item before and
    after (None when it did not / no longer exists), as its table's stream gives them. Idempotent, so a stream
    record delivered again changes nothing. No DynamoDB call when nothing searchable changed (presence updates of
    a device, a flow's graph); returns whether the index was written."""
    before, after = _searchable(old), _searchable(new)
    if before == after:
        return False
    item = new or old
    assert item is not None
    rtype, rid, owner_id = item["kind"], item["id"], item["owner_id"]
    old_tokens = _token_items(rtype, rid, before or {})
    new_tokens = _token_items(rtype, rid, after or {})
    repository.write(owner_id, puts=new_tokens.values(), deletes=[sk for sk in old_tokens if sk not in new_tokens])
    return True


def search(who: Principal, query: str, *, limit: int) -> SearchResults:
    q = normalize(query)
    if not q:
        raise InvalidInput("query must contain at least one letter or digit", field="query:query")
    q = q[:MAX_QUERY_CHARS]
    best: dict[tuple[str, str], tuple[tuple[Any, ...], SearchHit]] = {}
    for item in repository.query(who.user_id, q[:TOKEN_CHARS].rstrip(), READ_CAP):
        pos = int(item.pos)
        if len(q) > TOKEN_CHARS and not item.text[pos:].startswith(q):
            continue
        if pos == 0:
            rank = 0 if item.text == q else 1
        else:
            rank = 2 if item.text[pos - 1] == " " else 3
        key = (rank, 0 if item.field == "name" else 1, len(item.name), item.name.lower(), item.rtype, item.rid)
        hit = SearchHit(
            type=item.rtype,
            id=item.rid,
            name=item.name,
            dev_eui=item.dev_eui,
            matched_field=item.field,
            match=_RANKS[rank],
        )
        current = best.get((item.rtype, item.rid))
        if current is None or key < current[0]:
            best[(item.rtype, item.rid)] = (key, hit)
    ranked = [hit for _, hit in sorted(best.values(), key=lambda kv: kv[0])]
    return SearchResults(query=query, items=ranked[:limit])
