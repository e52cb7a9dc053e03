"""One BIP-329 record: a line of a labels file, checked field by field.

The record keeps the line's own text; export writes that text back, so a file read and written
again is the same bytes (its spacing, key order and escapes are the exporter's, not ours).
Besides `type`, `ref`, `label`, `origin` and `spendable`, BIP-329's "Additional Fields" (height,
time, fee, value, rate, keypath, heights, fmv) are checked for their types, and any other key is
kept as it is: the BIP calls the format "naturally extensible".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boveda.labels.jsonline import LineError, decode_object, encode_compact
from boveda.labels.origin import KeyOrigin, check_origin
from boveda.labels.refs import LabelType, check_ref
from boveda.text import unsafe_character

_KINDS = {kind.value: kind for kind in LabelType}


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A checked record. `line` is its JSON text as read (or, after a merge, as rewritten)."""

    kind: LabelType
    ref: str
    ref_key: str  # what lookups match: hex and bech32 lowercased
    label: str | None  # None: the record leaves the label as it was (BIP-329)
    origin: str | None
    spendable: bool | None  # outputs only
    line: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Records with the same key are one label: the same thing, seen from the same wallet (origin)."""
        return self.kind.value, self.ref_key, self.origin or ""


@dataclass(frozen=True, slots=True)
class IgnoredRecord:
    """A record of a type BIP-329 does not define: "importing wallets ... should ignore" it."""

    kind: str


def parse_record(line: str) -> LabelRecord | IgnoredRecord:
    """The record on one line (without its newline); LineError saying what is wrong with it."""
    unsafe = unsafe_character(line)
    if unsafe is not None:
        raise LineError(f"the line holds {unsafe} (a control, line-separator or bidi character) outside a string")
    return record_from(decode_object(line), line)


def record_from(obj: dict[str, Any], line: str) -> LabelRecord | IgnoredRecord:
    for key, value in obj.items():
        _check_strings(key, value)
    if "type" not in obj:
        raise LineError("the record has no \"type\" (one of tx, addr, pubkey, input, output, xpub)")
    kind_text = obj["type"]
    if not isinstance(kind_text, str):
        raise LineError(f"\"type\" must be a string such as \"tx\", not a {type(kind_text).__name__}")
    kind = _KINDS.get(kind_text)
    if kind is None:
        return IgnoredRecord(kind_text)
    if "ref" not in obj:
        raise LineError(f"the {kind} record has no \"ref\"")
    ref = obj["ref"]
    if not isinstance(ref, str):
        raise LineError(f"\"ref\" must be a string, not {_kind_of(ref)}")
    ref_key = check_ref(kind, ref)
    label = obj.get("label")
    if "label" in obj and not isinstance(label, str):
        raise LineError(f"\"label\" must be a string (leave the key out to keep a label as it is), not {_kind_of(label)}")
    origin = obj.get("origin")
    if "origin" in obj:
        if not isinstance(origin, str):
            raise LineError(f"\"origin\" must be a string such as \"wpkh([d34db33f/84'/0'/0'])\", not {_kind_of(origin)}")
        check_origin(origin)
    spendable = obj.get("spendable")
    if "spendable" in obj:
        if kind is not LabelType.OUTPUT:
            raise LineError(f"\"spendable\" belongs to output records only, not to a {kind} record")
        if not isinstance(spendable, bool):
            raise LineError(f"\"spendable\" must be true or false (without quotes), not {_kind_of(spendable)}")
    for key, check in _ADDITIONAL.items():
        if key in obj:
            check(key, obj[key], kind)
    return LabelRecord(kind, ref, ref_key, label, origin, spendable, line)


def merged(old: LabelRecord, new: LabelRecord) -> LabelRecord:
    """`new` over `old` (the same key): what `new` omits, `old` keeps (BIP-329: an omitted label or
    spendable leaves the value as it was). When `new` has every key `old` had, its own line stands."""
    old_obj, new_obj = decode_object(old.line), decode_object(new.line)
    if set(old_obj) <= set(new_obj):
        return new
    combined = {**old_obj, **new_obj}
    record = record_from(combined, encode_compact(combined))
    assert isinstance(record, LabelRecord)
    return record


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _check_strings(where: str, value: Any) -> None:
    """No string of the record (key or value) may hold a control, line-separator or bidi character:
    the book refuses them in every stored text, and a label is shown wherever its ref is."""
    stack = [(where, where), (where, value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            unsafe = unsafe_character(item)
            if unsafe is not None:
                raise LineError(f"{name!r} holds {unsafe} (a control, line-separator or bidi character)")
        elif isinstance(item, list):
            stack.extend((name, element) for element in item)
        elif isinstance(item, dict):
            stack.extend((name, k) for k in item)
            stack.extend((name, v) for v in item.values())


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _height(key: str, value: Any, kind: LabelType) -> None:
    if not _whole(value) or value < 0:
        raise LineError(f"\"{key}\" must be a block height (a whole number, 0 or more), not {_kind_of(value)}"
                        + (f" {value}" if _whole(value) else ""))


def _time(key: str, value: Any, kind: LabelType) -> None:
    try:
        datetime.fromisoformat(value if isinstance(value, str) else "")
    except ValueError:
        raise LineError(f"\"{key}\" must be an ISO-8601 timestamp such as \"2025-01-23T11:40:35Z\"") from None


def _sats(key: str, value: Any, kind: LabelType) -> None:
    signed = key == "value" and kind is LabelType.TX  # a transaction's value is negative when sats leave
    if not _whole(value) or (value < 0 and not signed):
        what = "a whole number of satoshis" + ("" if signed else ", 0 or more")
        raise LineError(f"\"{key}\" must be {what}, not {_kind_of(value)}" + (f" {value}" if _whole(value) else ""))


def _currency_map(key: str, value: Any, kind: LabelType) -> None:
    if not isinstance(value, dict) or not all(
            isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in value.values()):
        raise LineError(f"\"{key}\" must map currency codes to numbers, such as {{\"USD\": 105620.00}}")


def _keypath(key: str, value: Any, kind: LabelType) -> None:
    if not isinstance(value, str):
        raise LineError(f"\"{key}\" must be a string such as \"/1/123\", not {_kind_of(value)}")


def _heights(key: str, value: Any, kind: LabelType) -> None:
    if not isinstance(value, list) or not all(_whole(h) and h >= 0 for h in value):
        raise LineError(f"\"{key}\" must be a list of block heights, such as [800000, 800123]")


_ADDITIONAL = {"height": _height, "time": _time, "fee": _sats, "value": _sats, "rate": _currency_map,
               "keypath": _keypath, "heights": _heights, "fmv": _currency_map}

__all__ = ["IgnoredRecord", "KeyOrigin", "LabelRecord", "merged", "parse_record"]
