"""One JSON object per line, read strictly and written compactly.

Numbers with a fraction or an exponent are read as :class:`~decimal.Decimal`, never ``float``, so a
rate of ``105620.00`` is written back as ``105620.00``. A key given twice, ``NaN`` and ``Infinity``
are refused: a value that two JSON readers would read differently is no value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class LineError(ValueError):
    """What is wrong with one line, in words (the caller adds the line number)."""


def _no_constants(name: str) -> Any:
    raise LineError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise LineError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_float=Decimal, parse_constant=_no_constants)


def decode_object(text: str) -> dict[str, Any]:
    """The JSON object `text` holds, keys in their written order; LineError saying what is wrong."""
    try:
        value, end = _DECODER.raw_decode(text, _skip_blanks(text, 0))
    except json.JSONDecodeError as exc:
        raise LineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise LineError("not JSON this reader can hold: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        if isinstance(exc, LineError):
            raise
        raise LineError(f"not JSON this reader can hold: {exc}") from None
    if _skip_blanks(text, end) != len(text):
        raise LineError(f"more than one JSON value on the line (extra text at column {end + 1})")
    if not isinstance(value, dict):
        raise LineError(f"a line must hold a JSON object {{…}}, not a {_json_kind(value)}")
    return value


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r":
        pos += 1
    return pos


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal)):
        return "number"
    return {str: "string", list: "list", type(None): "null"}.get(type(value), type(value).__name__)


def encode_compact(value: Any) -> str:
    """`value` as compact JSON (``{"type":"tx","ref":…}``, the form Sparrow writes), UTF-8 text unescaped,
    decimals exactly as read."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode_compact(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode_compact(k)}:{encode_compact(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no JSON form for {type(value).__name__}")
