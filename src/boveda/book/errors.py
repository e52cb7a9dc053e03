"""The book's one exception type."""

from boveda.errors import BovedaError


class BookError(BovedaError):
    """Bad input to the book, a refused operation, or a book that cannot be opened.

    The message is one line, shown to the user as is; the book is unchanged.
    """
