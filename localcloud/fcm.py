"""A stand-in for Firebase Cloud Messaging on 127.0.0.1, so `make dev` can lock and unlock phones offline.

It answers FCM's HTTP v1 send (``POST /v1/projects/<project>/messages:send``) as FCM does when it accepts a
message, and logs what it received: the data ``type`` and ``action``, never the device token. Nothing is
delivered anywhere. ``serve`` starts it and passes its URL as the FcmEndpoint parameter (unless
``--param FcmEndpoint=...`` names another).
"""

from __future__ import annotations

import itertools
import json
import logging
import re

from localcloud.loopback import JsonHandler, LoopbackServer

log = logging.getLogger("localcloud.fcm")

_SEND = re.compile(r"^/v1/projects/([^/]+)/messages:send$")


class FakeFcm(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        counter = itertools.count(1)

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                raw = self.body()
                match = _SEND.match(self.path)
                try:
                    message = json.loads(raw)["message"]
                except (ValueError, KeyError, TypeError):
                    message = None
                if match is None or not isinstance(message, dict):
                    self.answer(
                        400, {"error": {"code": 400, "message": "not an FCM v1 send", "status": "INVALID_ARGUMENT"}}
                    )
                    return
                number = next(counter)
                data = message.get("data") or {}
                log.info("fake FCM message %d: %s %s", number, data.get("type", "-"), data.get("action", ""))
                self.answer(200, {"name": f"projects/{match.group(1)}/messages/{number}"})

        super().__init__(Handler, "fake-fcm", host, port)
