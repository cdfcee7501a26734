"""A poller on a background thread: what the event source mappings of the local cloud (SQS queues, DynamoDB
streams) share. :meth:`Poller.poll_once` does one round and says how much it received; the thread repeats it until
stopped, waiting ``idle_seconds`` after a round that received nothing (0 for a long poll, which waits itself)."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("localcloud")


class Poller:
    name = "poller"  # the thread's name
    idle_seconds = 0.0
    wait_seconds: float = 1.0  # the longest one round may block (stop waits that long, and a little more)

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        raise NotImplementedError

    def start(self) -> Poller:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                received = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s: a polling round failed; retrying in 1 s", self.name)
                self._stop.wait(1)
                continue
            if not received and self.idle_seconds:
                self._stop.wait(self.idle_seconds)

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
