"""The networks Bóveda knows, with the constants that tell them apart."""

from __future__ import annotations

import enum

from boveda.errors import CodecError


class Network(enum.Enum):
    MAIN = "main"
    TESTNET4 = "testnet4"
    SIGNET = "signet"
    REGTEST = "regtest"

    @property
    def magic(self) -> bytes:
        """The four bytes that start every record in this network's blk/rev files."""
        return _MAGIC[self]

    @property
    def hrp(self) -> str:
        """The bech32 human-readable part of this network's addresses."""
        return {Network.MAIN: "bc", Network.REGTEST: "bcrt"}.get(self, "tb")

    @property
    def datadir_subfolder(self) -> str:
        """Where Bitcoin Core keeps this network's data under its data directory."""
        return {Network.MAIN: "", Network.TESTNET4: "testnet4", Network.SIGNET: "signet", Network.REGTEST: "regtest"}[
            self
        ]

    @classmethod
    def parse(cls, name: str) -> Network:
        aliases = {"mainnet": "main", "bitcoin": "main", "test4": "testnet4"}
        try:
            return cls(aliases.get(name.lower(), name.lower()))
        except ValueError:
            choices = ", ".join(n.value for n in cls)
            raise CodecError(f"unknown network {name!r}; choose one of {choices}") from None


_MAGIC = {
    Network.MAIN: bytes.fromhex("f9beb4d9"),
    Network.TESTNET4: bytes.fromhex("1c163f28"),
    Network.SIGNET: bytes.fromhex("0a03cf40"),
    Network.REGTEST: bytes.fromhex("fabfb5da"),
}
