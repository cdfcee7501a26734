"""Ingest key routes: the X-API-Key keys ChirpStack and Helium integrations send (each integration its own)."""

from aws_lambda_powertools.event_handler import Response, content_types

from fleetgate.core.api import Cursor, ErrorStyle, Limit, make_resolver
from fleetgate.core.observability import http_handler
from fleetgate.core.pagination import Page
from fleetgate.ingest import keys
from fleetgate.ingest.schemas import IngestKey, IngestKeyCreate, IngestKeyCreated
from fleetgate.users.authentication import authenticate

app = make_resolver(ErrorStyle.DETAIL, authenticate=authenticate)


@app.get("/api/v1/ingest/keys")
def list_keys(limit: Limit = 50, cursor: Cursor = None) -> Page[IngestKey]:
    return keys.list_keys(app.principal, limit=limit, cursor=cursor)


@app.post("/api/v1/ingest/keys", responses={201: {"description": "Key created: its value is shown this once"}})
def create_key(payload: IngestKeyCreate) -> Response[IngestKeyCreated]:
    return Response(201, content_types.APPLICATION_JSON, keys.create_key(app.principal, payload))


@app.delete("/api/v1/ingest/keys/<key_id>", responses={204: {"description": "Key revoked"}})
def revoke_key(key_id: str) -> Response[None]:
    keys.revoke_key(app.principal, key_id)
    return Response(204)


lambda_handler = http_handler(app.resolve)
