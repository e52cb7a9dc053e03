"""Who records a change: every audited event names its operator (and, optionally, its approver).

A PostgreSQL book is shared by an office, so a change without a named operator is refused there;
a SQLite book is one person's file, and its operator defaults to the account running Bóveda.
"""

from __future__ import annotations

import getpass

from boveda.book.checks import check_text
from boveda.book.errors import BookError

OPERATOR_ENV = "BOVEDA_OPERATOR"


def os_user() -> str | None:
    """The login name of the account running Bóveda, or ``None`` when the system does not say."""
    try:
        return check_text(getpass.getuser(), what="operator", required=False)
    except (OSError, KeyError, ImportError, BookError):
        return None


def resolve_operator(given: str | None, *, is_sqlite: bool) -> str:
    """The operator of a change: ``given`` (``--by``/``BOVEDA_OPERATOR``); on SQLite the OS user without it."""
    name = check_text(given, what="operator (--by)", required=False)
    if name is not None:
        return name
    if is_sqlite:
        user = os_user()
        if user is not None:
            return user
        raise BookError("the system does not say who you are: name the operator with --by NAME "
                        f"(or set {OPERATOR_ENV})")
    raise BookError("a PostgreSQL book records who makes every change: name yourself with --by NAME "
                    f"(or set {OPERATOR_ENV}); nothing was recorded")
