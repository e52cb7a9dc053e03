"""The protocol's small encodings: CompactSize integers, base58check strings, and a bounds-checked reader over bytes."""

import struct
from collections.abc import Callable
from typing import TypeVar

from embit import base58

from boveda.errors import CodecError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")
_MAX_U64 = (1 << 64) - 1
_T = TypeVar("_T")
# After a 0xfd, 0xfe or 0xff prefix: the width of the number, and the least value that needs it.
_WIDE_FORMS = {0xFD: (2, 0xFD), 0xFE: (4, 0x10000), 0xFF: (8, 0x100000000)}


def encode_compact_size(n: int) -> bytes:
    if not 0 <= n <= _MAX_U64:
        raise CodecError(f"a CompactSize holds 0..2^64-1, not {n}")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def read_compact_size(data: bytes, pos: int = 0, end: int | None = None) -> tuple[int, int]:
    """The CompactSize at `pos` and the position after it, reading no further than `end`.

    CodecError when it runs past `end` or is not canonical (a wider form than its value needs),
    which Bitcoin Core refuses too.
    """
    if end is None:
        end = len(data)
    if pos >= end:
        raise CodecError(f"truncated CompactSize at offset {pos}")
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    width, floor = _WIDE_FORMS[first]
    stop = pos + 1 + width
    if stop > end:
        raise CodecError(f"truncated CompactSize at offset {pos}")
    n = int.from_bytes(data[pos + 1 : stop], "little")
    if n < floor:
        raise CodecError(f"non-canonical CompactSize {n} at offset {pos}")
    return n, stop


def decode_base58check(text: str) -> bytes:
    """The payload of base58check `text` (addresses, WIF keys, extended keys); CodecError when it is not one.

    The checksum is embit's; callers say in their own words what the text should have been.
    """
    try:
        return base58.decode_check(text)
    except Exception:  # embit raises ValueError or IndexError, depending on the fault
        raise CodecError("not a base58check string (bad character or checksum)") from None


class Reader:
    """Reads a byte string front to back; every read past the end raises CodecError."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def read(self, n: int) -> bytes:
        start = self.pos
        stop = start + n
        if n < 0 or stop > self.end:
            raise CodecError(f"truncated data: wanted {n} bytes at offset {start}, {self.end - start} left")
        self.pos = stop
        return self.data[start:stop]

    def u8(self) -> int:
        return self.read(1)[0]

    def u32(self) -> int:
        return _U32.unpack(self.read(4))[0]

    def i32(self) -> int:
        return _I32.unpack(self.read(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.read(8))[0]

    def compact_size(self) -> int:
        n, self.pos = read_compact_size(self.data, self.pos, self.end)
        return n

    def var_bytes(self) -> bytes:
        return self.read(self.compact_size())

    def at_end(self) -> bool:
        return self.pos == self.end

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise CodecError(f"{self.end - self.pos} trailing bytes after {what}")


def read_exactly(data: bytes, read_from: Callable[[Reader], _T], what: str) -> _T:
    """`read_from` over all of `data`: CodecError naming `what` when bytes are left over."""
    reader = Reader(data)
    value = read_from(reader)
    reader.expect_end(what)
    return value
