"""A labels file: UTF-8 JSON Lines, one BIP-329 record per line, every line checked before any is kept."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from boveda.labels.errors import LabelsError
from boveda.labels.jsonline import LineError
from boveda.labels.records import IgnoredRecord, LabelRecord, parse_record

PROBLEMS_SHOWN = 3  # a refusal names the first few bad lines and counts the rest


@dataclass(frozen=True, slots=True)
class IgnoredLine:
    line_number: int
    kind: str


@dataclass(frozen=True, slots=True)
class LabelsFile:
    """The records of a file in their order, the lines skipped as BIP-329 asks, and the file's digest."""

    records: tuple[LabelRecord, ...]
    ignored: tuple[IgnoredLine, ...]
    sha256_hex: str
    line_count: int


def read_labels(data: bytes, *, name: str = "the labels file") -> LabelsFile:
    """Every line of `data` checked; LabelsError naming each bad line by its number (1-based) if any is bad.

    Lines are separated by ``\\n`` (a ``\\r`` before it is dropped); the file's last newline is optional.
    """
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    records, ignored, problems = [], [], []
    for number, raw in enumerate(pieces, start=1):
        try:
            text = _line_text(raw[:-1] if raw.endswith(b"\r") else raw, number)
            found = parse_record(text)
        except LineError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if isinstance(found, IgnoredRecord):
            ignored.append(IgnoredLine(number, found.kind))
        else:
            records.append(found)
    if problems:
        shown = "; ".join(problems[:PROBLEMS_SHOWN])
        more = f"; and {len(problems) - PROBLEMS_SHOWN} more bad lines" if len(problems) > PROBLEMS_SHOWN else ""
        count = "1 bad line" if len(problems) == 1 else f"{len(problems)} bad lines"
        raise LabelsError(f"{name} refused ({count}), no label imported: {shown}{more}")
    return LabelsFile(tuple(records), tuple(ignored), hashlib.sha256(data).hexdigest(), len(pieces))


def _line_text(raw: bytes, number: int) -> str:
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raise LineError("the file starts with a byte-order mark: BIP-329 files are plain UTF-8; save it without one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"not UTF-8 (byte {exc.start + 1} of the line)") from None
    if not text.strip():
        raise LineError("the line is empty: BIP-329 holds one JSON object on every line")
    return text
