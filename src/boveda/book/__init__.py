"""The book of record: reserves, custody cases and lots with their legal lifecycle, a
double-entry journal in satoshis, a wallet registry and a hash-chained audit log — on
SQLite or PostgreSQL. Start with :class:`boveda.book.api.Book`.
"""

from boveda.book.api import Book, InitResult
from boveda.book.audit import AuditProblem, AuditReport
from boveda.book.domain import (
    Account,
    AccountKind,
    AuditHead,
    Balance,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotState,
    LotTransition,
    Partner,
    Posting,
    Reserve,
    Wallet,
)
from boveda.book.errors import BookError
from boveda.book.export import ImportResult

__all__ = [
    "Account",
    "AccountKind",
    "AuditHead",
    "AuditProblem",
    "AuditReport",
    "Balance",
    "Book",
    "BookError",
    "Case",
    "Entry",
    "EntryKind",
    "ImportResult",
    "InitResult",
    "Lot",
    "LotState",
    "LotTransition",
    "Partner",
    "Posting",
    "Reserve",
    "Wallet",
]
