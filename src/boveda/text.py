"""Text that is safe to show: one rule for what the book and the bundles accept, one escape for
what reaches a terminal, a CSV file or a log.

A name with ESC can hide or recolour what a terminal prints after it, a newline or U+2028 can
forge a line ("VERIFIED …"), a bidi override (U+202E) can make text read backwards. Stored and
parsed values are refused when they hold such a character (:func:`unsafe_character`); whatever
is printed goes through :func:`escape` as well, so a value that was stored before the rule, or
comes from elsewhere, still prints as one inert line.
"""

from __future__ import annotations

import re

# Bidirectional formatting characters (Unicode Bidirectional Algorithm, UAX #9 table 1): the
# embeddings and overrides U+202A..U+202E, the isolates U+2066..U+2069, and the marks.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# With them: Unicode's categories Cc (C0, DEL and C1 controls: ESC, NUL, CR, LF, TAB, NEL, CSI …),
# Zl and Zp (U+2028, U+2029) and Cs (lone surrogates, which no UTF-8 output can encode).
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + _BIDI + "\ud800-\udfff]")

SHOWN_CHARS = 40  # how much of a refused value a message quotes


def unsafe_character(text: str) -> str | None:
    """The first character of `text` that may not be shown as is, named (``U+001B``); None if there is none."""
    match = _UNSAFE_RE.search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


def escape(text: object) -> str:
    """`text` with every control, line-separator and bidi character written as a ``\\x1b`` / ``\\u202e`` escape.

    Applied to everything the CLI prints that may hold a name from a book, a bundle or a file.
    """
    text = text if isinstance(text, str) else str(text)
    if not _UNSAFE_RE.search(text):
        return text
    return _UNSAFE_RE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# What `json.dumps(..., ensure_ascii=False)` leaves raw inside strings: DEL, the C1 controls, the line
# separators, the bidi characters, lone surrogates (it escapes C0 itself, and its own layout is
# spaces and newlines outside strings).
_RAW_IN_JSON_RE = re.compile("[\x7f-\x9f\u2028\u2029" + _BIDI + "\ud800-\udfff]")


def escape_json_text(document_text: str) -> str:
    """The text of a JSON document written by `json.dumps(..., ensure_ascii=False)`, with the characters it
    leaves raw in strings (C1 controls, line-separator and bidi characters) written as ``\\uXXXX``: the same
    JSON value, inert on a terminal."""
    if not _RAW_IN_JSON_RE.search(document_text):
        return document_text
    return _RAW_IN_JSON_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", document_text)


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value quoted in a message: its repr, escaped, and cut to `limit` characters (a 5,000-digit number
    is named, not echoed)."""
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    return escape(repr(cut)) + ("…" if len(text) > limit else "")


def one_line(message: str) -> str:
    """A message for stderr: escaped, so that it is one line whatever it quotes."""
    return escape(message)
