"""Coin selection of a simulation's wallets: oldest coins first, fee from the estimated size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from boveda.bitcoin.tx import TxOut
from boveda.chain.regtest.books import Utxo
from boveda.errors import BuilderError
from boveda.keys.software_wallet import WalletKind


class CoinSelection:
    """The coin-choosing half of `Simulation` (which holds the wallets, their spendable coins and the fee rate)."""

    def _fee_for(self, input_vbytes: Iterable[int], outputs: Iterable[TxOut]) -> int:
        # version, locktime, counts, segwit marker: 10.5 vB, rounded up with the rest
        vbytes = 11 + sum(input_vbytes) + sum(9 + len(o.script_pubkey) for o in outputs)
        return vbytes * self.feerate_sat_vb

    def _select(self, name: str, amount_sat: int, outputs: Sequence[TxOut]) -> tuple[list[Utxo], int]:
        """Oldest coins first until they cover `amount_sat` and the fee (with a change output)."""
        wallet = self._wallets[name]
        change_out = TxOut(0, bytes(34 if wallet.kind != WalletKind.WPKH else 22))
        next_height = self.height + 1
        chosen: list[Utxo] = []
        total = fee = 0
        for coin in self._spendable[name].values():
            if not coin.spendable_at(next_height):
                continue
            chosen.append(coin)
            total += coin.value_sat
            fee = self._fee_for((wallet.input_vbytes,) * len(chosen), (*outputs, change_out))
            if total >= amount_sat + fee:
                return chosen, fee
        raise BuilderError(
            f"wallet {name!r} cannot pay {amount_sat} sat plus fee: "
            f"it has {total} sat spendable at height {next_height}"
        )
