"""Domain errors. Services raise these; each API family's resolver renders them in its own shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad Request"

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class InvalidInput(DomainError):
    status, code, title = 422, "validation_error", "Validation Error"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not Found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class ConfigurationError(DomainError):
    """A setting the route needs is missing or unusable (an operator's problem, not the caller's)."""

    status, code, title = 500, "configuration_error", "Configuration Error"


class BadGateway(DomainError):
    """An upstream answered with an error, an unreadable body, or could not be reached."""

    status, code, title = 502, "bad_gateway", "Bad Gateway"


class GatewayTimeout(DomainError):
    """An upstream gave no complete answer before the deadline."""

    status, code, title = 504, "gateway_timeout", "Gateway Timeout"


class UpstreamUnauthorized(DomainError):
    """An upstream refused our credentials (401 or 403): answered with the upstream's own status."""

    code, title = "unauthorized", "Unauthorized"

    def __init__(self, message: str, *, status: int, extra: dict[str, Any] | None = None):
        super().__init__(message, extra=extra)
        self.status = status


class TooManyRequests(DomainError):
    """A rate limit or throttle refused the request; ``retry_after`` seconds until it may be tried again (the
    resolver sends it as a Retry-After header)."""

    status, code, title = 429, "too_many_requests", "Too Many Requests"

    def __init__(self, message: str, *, retry_after: int, extra: dict[str, Any] | None = None):
        super().__init__(message, extra=extra)
        self.retry_after = retry_after


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload_too_large", "Payload Too Large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported Media Type"


class ServiceUnavailable(DomainError):
    """A dependency of ours (DynamoDB throttling, say) could not serve the request now: try again shortly."""

    status, code, title = 503, "service_unavailable", "Service Unavailable"
