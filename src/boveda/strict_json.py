"""JSON read strictly, for files from elsewhere (book exports, proof bundles): no duplicate keys
(Python's ``json`` keeps the last, so two ``"totals"`` would say what the reader wants), no
floats, NaN or infinities (amounts are integer satoshis), integers of bounded length, and
bounded nesting.
"""

from __future__ import annotations

import json
from typing import Any

from boveda.errors import BovedaError

MAX_INT_DIGITS = 20  # room for any 64-bit integer
MAX_DEPTH = 64


class StrictJSONError(BovedaError):
    """Text that is not JSON, or JSON outside these bounds; the message names what is wrong."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise StrictJSONError(f"the key {json.dumps(key, ensure_ascii=True)[:60]} appears twice in one object")
        document[key] = value
    return document


def _no_float(text: str) -> Any:
    raise StrictJSONError(f"numbers are integers here, not floating-point numbers such as {text[:40]}")


def _bounded_int(max_digits: int):
    def parse(text: str) -> int:
        if len(text.lstrip("-")) > max_digits:
            raise StrictJSONError(f"a number of {len(text.lstrip('-'))} digits is too long (at most {max_digits})")
        return int(text)

    return parse


def loads(text: str, *, max_depth: int | None = MAX_DEPTH, max_int_digits: int | None = MAX_INT_DIGITS) -> Any:
    """``json.loads`` with the bounds above. ``None`` leaves a bound to Python's own limits (4,300 digits, the
    interpreter's recursion limit), which are refused the same way: for large files read field by field.

    Raises :class:`StrictJSONError` for anything refused, with the parser's position when it has one.
    """
    try:
        document = json.loads(
            text, object_pairs_hook=_pairs, parse_float=_no_float, parse_constant=_no_float,
            **({"parse_int": _bounded_int(max_int_digits)} if max_int_digits is not None else {}),
        )
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise StrictJSONError("nested too deeply") from None
    except ValueError as exc:  # Python's own limit on the digits of an integer
        raise StrictJSONError(str(exc).split(";")[0][:80]) from None
    if max_depth is not None and _depth_exceeds(document, max_depth):
        raise StrictJSONError(f"nested more than {max_depth} levels deep")
    return document


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
