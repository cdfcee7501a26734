"""Microshare sign-in: the family's own login (Microshare credentials in, a Fleetgate token out) and the state of
this instance's service-account token."""

from __future__ import annotations

from fleetgate.core.auth import Principal, issue_token
from fleetgate.core.errors import Forbidden, Unauthorized
from fleetgate.microshare import client as upstream
from fleetgate.microshare.schemas import AuthStatus, LoginRequest, LoginToken, UpstreamSession
from fleetgate.microshare.settings import get_microshare_settings

AUDIENCE = "microshare"  # tokens issued by the Microshare API's POST /api/v1/auth/login
READ, WRITE = "microshare:read", "microshare:write"  # what the routes need (functions/microshare/app.py)


def login(request: LoginRequest) -> LoginToken:
    """Microshare credentials in, a Fleetgate token the Microshare routes accept out (never the upstream's).

    Only the deployment's own Microshare account (MICROSHARE_USERNAME) may log in here, and its token holds
    microshare:read and microshare:write: every call goes upstream with that account anyway. Anyone else
    needs a Fleetgate account an admin granted the microshare permissions to."""
    try:
        upstream.instance().fetch_token(request.username, request.password.get_secret_value())
    except upstream.CredentialsRejected:
        raise Unauthorized("Incorrect username or password") from None
    if request.username.strip().casefold() != get_microshare_settings().username.strip().casefold():
        raise Forbidden(
            "This Microshare account does not operate this deployment: "
            "log in with a Fleetgate account that has the microshare permissions"
        )
    token, _ = issue_token(f"microshare:{request.username}", "user", audience=AUDIENCE, permissions=(READ, WRITE))
    return LoginToken(access_token=token)


def session() -> UpstreamSession:
    client = upstream.instance()
    cached, expires_in = client.token_state()
    return UpstreamSession(configured=client.configured, token_cached=cached, token_expires_in=expires_in)


def auth_status(who: Principal) -> AuthStatus:
    return AuthStatus(
        user_id=who.user_id,
        role=who.role,
        upstream=session(),
        token_source="microshare" if who.audience == AUDIENCE else "fleetgate",
    )
