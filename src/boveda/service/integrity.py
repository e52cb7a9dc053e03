"""Is the book intact? The audit log and its tables (`book.verify`), the chain facts' seal, and — against
the chain itself — `facts verify` / `facts repair`, which rescan it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from boveda.book import Book
from boveda.book.audit import AuditProblem, AuditReport
from boveda.service.chain import ChainOptions, book_route, open_source
from boveda.wallets.facts_check import FactsCheck, compare, repair, rescanned
from boveda.wallets.facts_seal import seal_problems
from boveda.wallets.sync import sync_lock


def verify_book(book: Book, *, expected_head: str | None = None) -> AuditReport:
    """`audit verify`: the audit chain, every table against it, and the chain facts against their seal."""
    report = book.verify(expected_head=expected_head)
    with book.store.read() as conn:
        sealed = tuple(AuditProblem(None, message) for message in seal_problems(conn))
    return dataclasses.replace(report, problems=report.problems + sealed)


def verify_facts(book: Book, options: ChainOptions, *, beyond_gap: bool = False,
                 on_block: Callable[[int, int], None] | None = None) -> FactsCheck:
    """`facts verify`: the stored chain facts against a rescan of the chain up to the book's synced height."""
    route = book_route(book, options)
    with sync_lock(book.store), open_source(route) as source, \
            rescanned(book.store, source, route.network, beyond_gap=beyond_gap, on_block=on_block) as (scratch, top):
        return compare(book.store, scratch, top, route.network)


def repair_facts(book: Book, options: ChainOptions, *, beyond_gap: bool = False,
                 on_block: Callable[[int, int], None] | None = None) -> FactsCheck:
    """`facts repair`: the stored chain facts replaced by a rescan's (one transaction); what differed before."""
    route = book_route(book, options)
    with sync_lock(book.store), open_source(route) as source, \
            rescanned(book.store, source, route.network, beyond_gap=beyond_gap, on_block=on_block) as (scratch, top):
        check = compare(book.store, scratch, top, route.network)
        repair(book.store, scratch)
        return check
