"""Each new alert POSTed as JSON to every `--alert-webhook URL`, retried with backoff, every attempt logged.

Deliveries run on one background thread so a slow receiver never holds up the next block;
the follower drains them (for a bounded time) when it stops.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from boveda.book import Book
from boveda.errors import BovedaError
from boveda.follower import alerts_store as store
from boveda.follower.alerts import AlertError, now_iso
from boveda.follower.alerts_store import Alert, Delivery

DEFAULT_DELAYS_S = (0.5, 1.0, 2.0, 4.0)  # between attempts: five attempts in all


def check_webhook_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host; AlertError (showing no path or password) otherwise."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertError(f"not a webhook URL: {shown_url(url)} (expected http://host[:port]/path or https://…)")
    return url.strip()


def shown_url(url: str) -> str:
    """`url` as it may be logged: scheme, host and port only (a webhook's path or query often holds its token)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unreadable URL>"
    if not parts.scheme:
        return "<unreadable URL>"
    if not (parts.path.strip("/") or parts.query):
        return f"{parts.scheme}://{host}{port}"
    # Two webhooks on one host stay apart by a digest of the whole URL, which reveals nothing of it.
    return f"{parts.scheme}://{host}{port}/… #{hashlib.sha256(url.strip().encode()).hexdigest()[:8]}"


@dataclass(frozen=True, slots=True)
class _Job:
    alert: Alert
    url: str


class WebhookSender:
    """Delivers alerts to `urls` in the background; `on_result(alert, url_shown, delivered, detail)` is told of each outcome."""

    def __init__(self, book: Book, urls: Sequence[str], *, delays_s: Sequence[float] = DEFAULT_DELAYS_S,
                 timeout_s: float = 5.0, on_result: Callable[[Alert, str, bool, str], None] | None = None) -> None:
        self.book = book
        self.urls = tuple(check_webhook_url(u) for u in urls)
        self.delays_s = tuple(delays_s)
        self.on_result = on_result
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), headers={"User-Agent": "boveda-follower"})
        self._thread = threading.Thread(target=self._run, name="boveda-webhooks", daemon=True)
        if self.urls:
            self._thread.start()

    def send(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            for url in self.urls:
                self._jobs.put(_Job(alert, url))

    def retry_undelivered(self) -> int:
        """Queues again the unacknowledged alerts an earlier run failed to deliver; how many."""
        count = 0
        with self.book.store.read() as conn:
            pending = [(alert, url) for url in self.urls for alert in store.undelivered(conn, shown_url(url))]
        for alert, url in pending:
            self._jobs.put(_Job(alert, url))
            count += 1
        return count

    def close(self, timeout_s: float = 10.0) -> None:
        """Delivers what is queued for up to `timeout_s`, then stops (an undelivered alert is retried next run)."""
        if self.urls:
            self._jobs.put(None)
            self._thread.join(timeout_s)
            self._stopping.set()
            self._thread.join(1.0)
        self._http.close()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._deliver(job)

    def _deliver(self, job: _Job) -> None:
        shown = shown_url(job.url)
        document = {"alert": job.alert.to_json(), "source": "boveda"}
        for attempt in range(1, len(self.delays_s) + 2):
            status, error = None, None
            try:
                response = self._http.post(job.url, json=document)
                status = response.status_code
                delivered = 200 <= status < 300
                if not delivered:
                    error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                delivered, error = False, type(exc).__name__
            self._log(Delivery(job.alert.alert_id, shown, attempt, now_iso(self.book), status, error, delivered))
            if delivered or attempt > len(self.delays_s) or self._stopping.is_set():
                if self.on_result:
                    self.on_result(job.alert, shown, delivered, error or f"HTTP {status}")
                return
            deadline = time.monotonic() + self.delays_s[attempt - 1]
            while time.monotonic() < deadline and not self._stopping.is_set():
                time.sleep(0.05)

    def _log(self, delivery: Delivery) -> None:
        try:
            with self.book.store.write() as (conn, _head):
                store.log_delivery(conn, delivery)
        except BovedaError:
            return  # the book busy or gone: the delivery itself matters more than its log line
