"""Watch-only wallets: output descriptors and the scripts they derive."""

from boveda.wallets.descriptors import (
    Branch,
    DerivedScript,
    DescriptorError,
    KeyExpression,
    KeyOrigin,
    ScriptForm,
    WalletDescriptor,
    address_of,
    derive_with_embit,
    descriptor_checksum,
    parse_descriptor,
)

__all__ = [
    "Branch",
    "DerivedScript",
    "DescriptorError",
    "KeyExpression",
    "KeyOrigin",
    "ScriptForm",
    "WalletDescriptor",
    "address_of",
    "derive_with_embit",
    "descriptor_checksum",
    "parse_descriptor",
]
