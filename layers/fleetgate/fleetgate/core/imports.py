"""Importing a heavy third-party library without the optional parts of it we never use.

Some libraries import every optional backend that happens to be installed: PyJWT loads cryptography's RSA, EC and
EdDSA code (our tokens are HS256: hmac of the standard library), httpcore loads the ``h2`` HTTP/2 machinery and
``anyio`` (our clients speak HTTP/1.1, synchronously). The layer installs them (firebase-admin needs them), so each
would cost every cold start that imports the library. :func:`hiding` makes such optional modules look absent to the
imports in its block, the way the library sees them when they are not installed, and only if nothing has imported
them yet.
"""

from __future__ import annotations

import _imp
import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def hiding(*names: str) -> Iterator[None]:
    """Inside the block, ``import name`` (and its submodules) raises ModuleNotFoundError for each of ``names`` not
    imported yet. The interpreter's import lock is held meanwhile, so no other thread imports anything until the
    block ends (and none can see the modules hidden)."""
    _imp.acquire_lock()
    try:
        hidden = [name for name in names if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # Python's own "absent" marker
        try:
            yield
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    finally:
        _imp.release_lock()
