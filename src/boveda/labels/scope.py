"""Which labels belong to a holding: those whose ref is one of its addresses, transactions (and their
inputs and outputs), extended keys or keys, or whose origin names the key origins of one of its wallets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from boveda.labels.origin import KeyOrigin, check_origin, key_origins_in
from boveda.labels.refs import LabelType

# Keys as a descriptor writes them: base58 extended keys, and hex public keys (x-only, compressed, uncompressed).
_EXTENDED_KEY_RE = re.compile(r"\b[xtyzuvYZUV]pub[1-9A-HJ-NP-Za-km-z]{100,112}")
_HEX_KEY_RE = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{130}|0[23][0-9a-fA-F]{64}|[0-9a-fA-F]{64})(?![0-9a-fA-F])")


@dataclass(frozen=True, slots=True)
class LabelScope:
    """What a holding's labels may refer to (lookup keys: lowercase hex and bech32)."""

    addresses: frozenset[str]
    txids: frozenset[str]
    xpubs: frozenset[str]
    pubkeys: frozenset[str]
    wallet_origins: tuple[frozenset[KeyOrigin], ...]  # per wallet: the key origins its descriptor writes

    @classmethod
    def of(cls, *, addresses: Iterable[str], txids: Iterable[str], descriptors: Iterable[str]) -> LabelScope:
        descriptors = tuple(descriptors)
        return cls(
            addresses=frozenset(a.lower() if a.islower() or a.isupper() else a for a in addresses),
            txids=frozenset(t.lower() for t in txids),
            xpubs=frozenset(k for d in descriptors for k in _EXTENDED_KEY_RE.findall(d)),
            pubkeys=frozenset(k.lower() for d in descriptors for k in _HEX_KEY_RE.findall(d)),
            wallet_origins=tuple(o for d in descriptors if (o := key_origins_in(d))),
        )

    def holds(self, kind: LabelType, ref_key: str, origin: str | None) -> bool:
        if origin and frozenset(check_origin(origin)) in self.wallet_origins:
            return True
        if kind is LabelType.ADDR:
            return ref_key in self.addresses
        if kind is LabelType.TX:
            return ref_key in self.txids
        if kind in (LabelType.INPUT, LabelType.OUTPUT):
            return ref_key.split(":", 1)[0] in self.txids
        if kind is LabelType.XPUB:
            return ref_key in self.xpubs
        return ref_key in self.pubkeys
