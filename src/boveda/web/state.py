"""What one worker of the site keeps between requests: the book opened read-only, one snapshot of the
whole book per version (synced tip + audit head), the rendered responses of that snapshot, and the
published proof bundles, checked when they change.

A new block or a new book event makes the snapshot stale. The first request to notice starts its
rebuild and waits a moment for it; a small book is rebuilt in that moment, a large one keeps
serving the previous block's figures (each page says its block) until the new snapshot is ready.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boveda.book import Book
from boveda.errors import BovedaError, WalletError
from boveda.service.published_proofs import PublishedProof, check_published
from boveda.service.site import SiteSnapshot, SiteVersion, build_snapshot, site_version
from boveda.web.params import NotReady
from boveda.web.readonly import open_readonly

log = logging.getLogger("boveda.web")

AlertSource = Callable[[Book], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """How `boveda serve` runs the site. `alerts` lists the operator's alerts as `boveda alerts --all
    --json` does (the CLI passes the follower's reader in; the site cannot import the follower)."""

    book: str
    public: bool = False
    proofs_dir: Path | None = None
    alerts: AlertSource | None = None
    version_ttl_s: float = 0.25  # how long a worker trusts the version it last read
    refresh_wait_s: float = 0.75  # how long a request waits for a rebuilt snapshot before serving the last one
    proofs_poll_s: float = 3.0
    history_snapshots: int = 4  # snapshots at other heights (?at=) kept per worker
    rendered_responses: int = 512


class LruCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class ProofShelf:
    """The bundles of a folder (``*.json``), each checked once when it appears or changes."""

    def __init__(self, book: Book, folder: Path, poll_s: float) -> None:
        self.book, self.folder, self.poll_s = book, folder, poll_s
        self._checked: dict[str, tuple[tuple[int, int], PublishedProof]] = {}
        self.proofs: tuple[PublishedProof, ...] = ()
        self.signature = "none"  # the same in every worker for the same files and results (ETags agree)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="boveda-proofs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def path(self, file_name: str) -> Path | None:
        """The published file of that name (only files the shelf lists: no path from the request is opened)."""
        return self.folder / file_name if any(p.file_name == file_name for p in self.proofs) else None

    def scan(self) -> None:
        files = {p.name: p for p in sorted(self.folder.glob("*.json")) if p.is_file()} if self.folder.is_dir() else {}
        checked = {}
        for name, path in files.items():
            stat = path.stat()
            key = (stat.st_size, stat.st_mtime_ns)
            known = self._checked.get(name)
            checked[name] = known if known and known[0] == key else (key, check_published(self.book, path))
        if checked.keys() != self._checked.keys() or any(checked[n] is not self._checked.get(n) for n in checked):
            self._checked = checked
            self.proofs = tuple(proof for _, proof in checked.values())
            digest = hashlib.sha256()
            for name, (key, proof) in sorted(checked.items()):
                digest.update(f"{name}|{key[0]}|{key[1]}|{proof.valid}|{proof.error};".encode())
            self.signature = digest.hexdigest()[:16]
        self.ready.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:  # a folder gone, a file half-written: try again at the next poll
                log.exception("checking the published proof bundles failed")
                self.ready.set()
            self._stop.wait(self.poll_s)


class Site:
    """One worker's state. `snapshot()` blocks (call it off the event loop); `fresh()` never does."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.book = open_readonly(config.book)
        self.shelf = ProofShelf(self.book, config.proofs_dir, config.proofs_poll_s) if config.proofs_dir else None
        self.renders = LruCache(config.rendered_responses)
        self._history = LruCache(config.history_snapshots)
        self._snapshot: SiteSnapshot | None = None
        self._checked_at = -1e9
        self._build_lock = threading.Lock()
        self._checking = threading.Lock()  # held by the one request reading the version
        self._history_lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        if self.shelf is not None:
            self.shelf.start()

    def stop(self) -> None:
        if self.shelf is not None:
            self.shelf.stop()
        self.book.close()

    @property
    def proofs(self) -> tuple[PublishedProof, ...]:
        return () if self.shelf is None else self.shelf.proofs

    @property
    def proofs_signature(self) -> str:
        return "none" if self.shelf is None else self.shelf.signature

    def fresh(self) -> SiteSnapshot | None:
        """The snapshot, if its version was read less than `version_ttl_s` ago or is being read now."""
        if self._checking.locked() or time.monotonic() - self._checked_at < self.config.version_ttl_s:
            return self._snapshot
        return None

    def snapshot(self) -> SiteSnapshot:
        """The snapshot of the book's current version, or of the last one while a rebuild runs.

        One request at a time reads the version; the others meanwhile serve the snapshot they have (under
        load, fifty requests would otherwise queue for the database every `version_ttl_s`)."""
        current = self.fresh()
        if current is not None:
            return current
        if not self._checking.acquire(blocking=self._snapshot is None):
            return self._snapshot  # type: ignore[return-value]
        try:
            return self._check()
        finally:
            self._checking.release()

    def _check(self) -> SiteSnapshot:
        if self._snapshot is not None and time.monotonic() - self._checked_at < self.config.version_ttl_s:
            return self._snapshot
        version = self._read_version()
        known = self._snapshot
        if known is not None and known.version == version:
            self._checked_at = time.monotonic()
            return known
        if known is None:
            with self._build_lock:
                if self._snapshot is None or self._snapshot.version != version:
                    self._install(self._build(None))
            self._checked_at = time.monotonic()
            return self._snapshot  # type: ignore[return-value]
        thread, started = self._start_rebuild()
        if started:  # the request that noticed waits a moment; the others serve the last snapshot meanwhile
            thread.join(self.config.refresh_wait_s)
        self._checked_at = time.monotonic()
        return self._snapshot  # type: ignore[return-value]

    def at(self, height: int | None) -> SiteSnapshot:
        """The snapshot at `height` (None: the tip), built once per version and height."""
        tip = self.snapshot()
        if height is None or height == tip.height:
            return tip
        key = (tip.version, height)
        found = self._history.get(key)
        if found is None:
            with self._history_lock:  # one historical build at a time: a flood of ?at= queues here
                found = self._history.get(key)
                if found is None:
                    found = self._build(height)
                    self._history.put(key, found)
        return found

    def _read_version(self) -> SiteVersion:
        try:
            return site_version(self.book)
        except BovedaError as exc:
            raise NotReady(f"the book cannot be read now: {exc}") from None

    def _build(self, height: int | None) -> SiteSnapshot:
        started = time.perf_counter()
        try:
            snapshot = build_snapshot(self.book, height, public=self.config.public)
        except WalletError as exc:
            raise NotReady(str(exc)) from None
        except BovedaError as exc:
            raise NotReady(f"the book cannot be read now: {exc}") from None
        log.info("snapshot at height %s built in %.2f s", snapshot.height, time.perf_counter() - started)
        return snapshot

    def _install(self, snapshot: SiteSnapshot) -> None:
        self._snapshot = snapshot
        self.last_error = None
        # A large book's snapshot is millions of long-lived objects: moved out of the collector's sight,
        # they no longer make each full collection a pause of a second under load (they are freed by
        # reference counting when the next snapshot replaces this one).
        gc.collect()
        gc.freeze()

    def _start_rebuild(self) -> tuple[threading.Thread, bool]:
        with self._build_lock:
            if self._rebuilding is not None and self._rebuilding.is_alive():
                return self._rebuilding, False
            self._rebuilding = threading.Thread(target=self._rebuild, name="boveda-snapshot", daemon=True)
            self._rebuilding.start()
            return self._rebuilding, True

    def _rebuild(self) -> None:
        # Builds until the snapshot is of the version current when it finished (blocks keep coming).
        for _ in range(10):
            try:
                version = site_version(self.book)
                if self._snapshot is not None and self._snapshot.version == version:
                    return
                self._install(build_snapshot(self.book, public=self.config.public))
            except Exception as exc:  # keep serving the last snapshot; say why on /api/v1/status
                self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.exception("rebuilding the site's snapshot failed")
                return
