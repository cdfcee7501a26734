"""Search route (device-manager Search): the caller's devices, functions, flows and integrations."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.search import service
from fleetgate.search.schemas import SearchResults
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/search")
def search(
    query: Annotated[str, Query(min_length=1, max_length=256, description="Text to look for")], limit: Limit = 50
) -> SearchResults:
    return service.search(app.principal, query, limit=limit)


lambda_handler = http_handler(app.resolve)
