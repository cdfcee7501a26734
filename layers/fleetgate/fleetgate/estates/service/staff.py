"""The staff portal's rule: every /api/admin route needs a device-manager token with the admin role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from fleetgate.core.auth import Principal
from fleetgate.estates.errors import staff_only

P = ParamSpec("P")
R = TypeVar("R")


def requires_staff(fn: Callable[Concatenate[Principal, P], R]) -> Callable[Concatenate[Principal, P], R]:
    """A non-admin caller gets 403 before anything is read."""

    @functools.wraps(fn)
    def checked(who: Principal, *args: P.args, **kwargs: P.kwargs) -> R:
        if not who.is_admin:
            raise staff_only()
        return fn(who, *args, **kwargs)

    return checked
