"""Ingest route (device-manager Data Ingestion): POST /api/v1/ingest/chirpstack, behind the HTTP API and the
function's URL. Authenticated by the X-API-Key header (an ingest key), not a bearer token."""

import base64
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.observability import http_handler
from fleetgate.ingest import service
from fleetgate.ingest.schemas import IngestResult

# The body is read raw and checked by ingest itself (size, JSON depth), after the X-API-Key check.
app = make_public_resolver(ErrorStyle.DETAIL, inspect_body=False)

EventParam = Annotated[
    str | None, Query(max_length=16, description="up (default), join, ack, txack, log, status or location")
]
ApiKey = Annotated[str | None, Header(alias="x-api-key", max_length=256, description="An ingest key")]


def _raw_body() -> bytes:
    event = app.current_event
    if event.body is None:
        return b""
    return base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode()


@app.post(
    "/api/v1/ingest/chirpstack",
    responses={
        202: {"description": "Accepted (also duplicates and unknown devices: see status and reason)"},
        401: {"description": "Missing or invalid X-API-Key"},
        413: {"description": "The body is larger than 128 KiB"},
        415: {"description": "Not JSON (protobuf: choose JSON in ChirpStack)"},
        503: {"description": "DynamoDB could not serve its reads now (throttled); ChirpStack does not retry"},
    },
)
def ingest_chirpstack(event: EventParam = None, x_api_key: ApiKey = None) -> Response[IngestResult]:
    result = service.ingest(
        api_key=x_api_key, event=event, body=_raw_body(), content_type=app.current_event.headers.get("content-type")
    )
    return Response(202, content_types.APPLICATION_JSON, result)


lambda_handler = http_handler(app.resolve)
