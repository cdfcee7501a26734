"""Dead-letter routes of a flow: the steps that failed for good (integrations out of attempts, steps that kept
crashing the worker), and replaying them."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.engine import dead_letters
from fleetgate.engine.schemas import DeadLetter, DeadLetterReplay, DeadLetterReplayResult
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)

Status = Annotated[Literal["pending", "replayed"] | None, Query(description="Only this status (default: all)")]


@app.get("/api/v1/flows/<flow_id>/dead-letters")
def list_dead_letters(
    flow_id: str, status: Status = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeadLetter]:
    return dead_letters.list_dead_letters(app.principal, flow_id, status=status, limit=limit, cursor=cursor)


@app.post(
    "/api/v1/flows/<flow_id>/dead-letters/replay",
    responses={202: {"description": "Sent again: each replay is a new run of the flow"}},
)
def replay_dead_letters(flow_id: str, payload: DeadLetterReplay | None = None) -> Response[DeadLetterReplayResult]:
    result = dead_letters.replay_dead_letters(app.principal, flow_id, payload)
    return Response(202, content_types.APPLICATION_JSON, result)


lambda_handler = http_handler(app.resolve)
