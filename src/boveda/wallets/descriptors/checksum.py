"""BIP-380's descriptor checksum: the character set it covers, and checking and appending it.

embit computes the checksum; the checks around it are written out here so that a refusal says
what is wrong, and never offers the right checksum for a mistyped descriptor.
"""

from __future__ import annotations

from embit.descriptor.checksum import checksum as embit_checksum

from boveda.errors import DescriptorError

# BIP-380's character set: anything else cannot be covered by the checksum.
INPUT_CHARSET = frozenset(
    "0123456789()[],'/*abcdefgh@:$%{}" "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
)
CHECKSUM_CHARSET = frozenset("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
CHECKSUM_LENGTH = 8


def check_charset(text: str) -> None:
    for position, character in enumerate(text):
        if character not in INPUT_CHARSET:
            raise DescriptorError(f"character {character!r} at position {position} is not allowed in a descriptor")


def verify_checksum(body: str, given: str) -> None:
    """DescriptorError unless `given` (the text after '#') is the checksum of `body`."""
    if "#" in given:
        raise DescriptorError("a descriptor has one '#', before its checksum; this one has more")
    if len(given) != CHECKSUM_LENGTH:
        raise DescriptorError(f"the checksum after '#' must be {CHECKSUM_LENGTH} characters, not {len(given)}")
    if not set(given) <= CHECKSUM_CHARSET:
        raise DescriptorError(f"checksum #{given} has characters outside the checksum alphabet")
    # The right checksum is not shown: a mismatch means some character is mistyped, and
    # offering a checksum for the mistyped text would invite the user to seal in the typo.
    if embit_checksum(body) != given:
        raise DescriptorError(f"checksum #{given} does not match the descriptor; a character of the text is mistyped")


def descriptor_checksum(body: str) -> str:
    """The 8-character BIP-380 checksum of a descriptor written without `#`."""
    check_charset(body)
    return embit_checksum(body)


def with_checksum(body: str) -> str:
    return body + "#" + embit_checksum(body)
