"""A webhook sink on 127.0.0.1 for the demo's HTTP integration: it answers every POST with 200, logs a line per
request and keeps the last bodies it received, which ``GET /`` lists (newest last). Nothing leaves the machine."""

from __future__ import annotations

import collections
import json
import logging
from typing import Any

from localcloud.loopback import JsonHandler, LoopbackServer

log = logging.getLogger("localcloud.sink")

KEEP = 50  # bodies kept for GET /


class Sink(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        received: collections.deque[Any] = collections.deque(maxlen=KEEP)
        self.received = received

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                raw = self.body()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                received.append(body)
                data = body.get("data") if isinstance(body, dict) else None
                log.info("sink received %s", json.dumps(data)[:200] if data is not None else f"{len(raw)} bytes")
                self.answer(200, {"received": len(received)})

            do_PUT = do_PATCH = do_POST

            def do_GET(self) -> None:
                self.answer(200, {"items": list(received)})

        super().__init__(Handler, "demo-sink", host, port)
