"""The search token index in DynamoDB (table SEARCH_TABLE).

One item per (owner, token, resource, field): hash key ``owner_id``, range key ``"<token>|<type>|<id>|<field>"``,
where the tokens of a field are its normalised suffixes (see :mod:`fleetgate.search.service`). A query is one
Query on the caller's partition with ``begins_with(sk, <normalised query>)``: a prefix of a suffix is a
substring, so prefix and substring matches come from the same key condition. Never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from fleetgate.core.repository import BaseModel, meta
from fleetgate.core.settings import cached, table_name


class TokenItem(BaseModel):
    class Meta:
        abstract = True

    owner_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    rtype = UnicodeAttribute()
    rid = UnicodeAttribute()
    field = UnicodeAttribute()
    pos = NumberAttribute()
    text = UnicodeAttribute()  # the whole normalised field value (queries longer than a token are checked on it)
    name = UnicodeAttribute()  # display name of the resource
    dev_eui = UnicodeAttribute(null=True)


@cached
def _tokens() -> type[TokenItem]:
    return type("SearchTokenModel", (TokenItem,), {"Meta": meta(table_name("SEARCH_TABLE"))})


def write(owner_id: str, puts: Iterable[dict], deletes: Iterable[str]) -> None:
    """Put token items and delete token keys, in BatchWriteItem calls of 25."""
    Tokens = _tokens()
    puts, deletes = list(puts), list(deletes)
    if not puts and not deletes:
        return
    with Tokens.batch_write() as batch:
        for sk in deletes:
            batch.delete(Tokens(owner_id, sk))
        for item in puts:
            batch.save(Tokens(owner_id, **item))


def query(owner_id: str, prefix: str, max_items: int) -> list[TokenItem]:
    Tokens = _tokens()
    return list(Tokens.query(owner_id, Tokens.sk.startswith(prefix), limit=max_items, page_size=max_items))
