"""One `boveda sync` of a book at a time, across processes: the lock a sync (and the follower) holds."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa

from boveda.book.store import Store
from boveda.errors import WalletError

_locks_held: dict[str, int] = {}


@contextmanager
def sync_lock(store: Store) -> Iterator[None]:
    """One sync of a book at a time: a second process is refused at the start, before it writes.

    SQLite: an advisory file lock beside the book; PostgreSQL: a session advisory lock. Re-entrant
    within a process (the service layer holds it around remembering the datadir and the sync).
    """
    key = store.location
    if _locks_held.get(key):
        _locks_held[key] += 1
        try:
            yield
        finally:
            _locks_held[key] -= 1
        return
    busy = WalletError("another sync of this book is running (boveda sync or sync --follow): wait for it to finish")
    with ExitStack() as stack:
        if store.is_sqlite:
            fd = os.open(f"{store.url.database}.sync-lock", os.O_RDWR | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
        else:
            conn = stack.enter_context(store.engine.connect())
            lock_key = {"key": _advisory_key(key)}
            if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), lock_key).scalar():
                raise busy
            stack.callback(lambda: conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), lock_key))
        _locks_held[key] = 1
        try:
            yield
        finally:
            _locks_held.pop(key, None)


def _advisory_key(location: str) -> int:
    """A PostgreSQL advisory lock key for one book (several books may share a database, one schema each)."""
    return int.from_bytes(hashlib.sha256(f"boveda sync {location}".encode()).digest()[:8], "big") >> 1
