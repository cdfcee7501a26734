"""The estates family's errors: the mobile contract's ``{"error": <title>, "message"}`` bodies, with its texts.

Each helper returns a core domain error whose ``title`` is the contract's ``error`` (``Unit not found``,
``Access denied``, ...); the resolver renders it (ErrorStyle.MOBILE). Invalid input is 400 in this family.
"""

from __future__ import annotations

from fleetgate.core.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests, Unauthorized


def _titled(error: DomainError, title: str) -> DomainError:
    error.title = title
    return error


def bad_request(title: str, message: str, field: str | None = None) -> DomainError:
    return _titled(DomainError(message, field=field), title)  # DomainError's status is 400


def missing_fields(*names: str) -> DomainError:
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return bad_request("Missing required fields", f"{listed} {'is' if len(names) == 1 else 'are'} required")


def not_found(what: str, ident: int | str) -> DomainError:
    """``Unit not found`` / ``Unit with ID 10 not found``."""
    return _titled(NotFound(f"{what} with ID {ident} not found"), f"{what} not found")


def access_denied(message: str = "You do not have access to this unit") -> DomainError:
    return _titled(Forbidden(message), "Access denied")


def staff_only() -> DomainError:
    return _titled(Forbidden("This route needs the admin role"), "Access denied")


def invalid_token() -> DomainError:
    return _titled(Unauthorized("Please login again"), "Invalid or expired token")


def invalid_credentials(message: str = "Invalid phone number or password") -> DomainError:
    return _titled(Unauthorized(message), "Invalid credentials")


def account_inactive() -> DomainError:
    return _titled(Forbidden("This account is inactive: please contact the estate office"), "Account inactive")


def conflict(title: str, message: str) -> DomainError:
    return _titled(Conflict(message), title)


def login_locked(retry_after: int) -> DomainError:
    return _titled(
        TooManyRequests(
            f"Too many failed logins for this phone number: try again in {retry_after} seconds",
            retry_after=retry_after,
        ),
        "Too many login attempts",
    )


class NoMeterLinked(NotFound):
    """A device's reading arrived, but no meter is linked to that device (its DevEUI)."""

    title = "No meter linked"


class NotANumber(DomainError):
    """A reading's value is missing or not a finite number of at least 0."""

    title = "Invalid reading"
