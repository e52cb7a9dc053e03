"""The follower's log: one line per event, as JSON (`--log-json`) or as plain text, on a writer it is given.

Every line has a time and an event name; a block line has height, hash, coins in and out and
milliseconds. Lines come from the loop and the webhook thread, so writing is serialised.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class FollowLog:
    def __init__(self, write: Callable[[str], None], *, as_json: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self._write = write
        self.as_json = as_json
        self._clock = clock
        self._lock = threading.Lock()

    def emit(self, event: str, message: str, **fields: Any) -> None:
        """One line: `message` for people, `fields` for machines (both in the JSON form)."""
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.as_json:
            line = json.dumps({"time": stamp, "unix_time": round(now, 6), "event": event, **fields,
                               "message": message}, ensure_ascii=False, default=str)
        else:
            line = f"{stamp} {message}"
        with self._lock:
            self._write(line)
