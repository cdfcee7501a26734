# No postponed annotations: pydantic evaluates them once at class creation (cheaper import); forward refs are quoted.

from typing import Literal

from fleetgate.core.schemas import Schema

SearchType = Literal["device", "function", "flow", "integration"]


class SearchHit(Schema):
    type: SearchType
    id: str
    name: str
    dev_eui: str | None = None
    matched_field: str
    match: Literal["exact", "prefix", "word", "substring"]


class SearchResults(Schema):
    query: str
    items: list[SearchHit]
