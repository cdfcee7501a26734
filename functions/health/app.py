"""GET /health: the platform-wide liveness check (no token, no database, no upstream)."""

from fleetgate.core.api import ErrorStyle, make_public_resolver
from fleetgate.core.observability import http_handler
from fleetgate.platform import service
from fleetgate.platform.schemas import PlatformHealth

app = make_public_resolver(ErrorStyle.DETAIL)


@app.get("/health")
def health() -> PlatformHealth:
    return service.health()


lambda_handler = http_handler(app.resolve)
