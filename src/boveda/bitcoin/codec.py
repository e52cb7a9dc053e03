"""CompactSize integers and a bounds-checked reader over bytes."""

import struct

from boveda.errors import CodecError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def encode_compact_size(n: int) -> bytes:
    if n < 0:
        raise ValueError("CompactSize cannot be negative")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


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
        return struct.unpack("<i", self.read(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.read(8))[0]

    def compact_size(self) -> int:
        """Reads a CompactSize, refusing non-canonical encodings as Bitcoin Core does."""
        first = self.u8()
        if first < 0xFD:
            return first
        if first == 0xFD:
            n, floor = _U16.unpack(self.read(2))[0], 0xFD
        elif first == 0xFE:
            n, floor = _U32.unpack(self.read(4))[0], 0x10000
        else:
            n, floor = _U64.unpack(self.read(8))[0], 0x100000000
        if n < floor:
            raise CodecError(f"non-canonical CompactSize {n} at offset {self.pos}")
        return n

    def var_bytes(self) -> bytes:
        return self.read(self.compact_size())

    def at_end(self) -> bool:
        return self.pos == self.end

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise CodecError(f"{self.end - self.pos} trailing bytes after {what}")
