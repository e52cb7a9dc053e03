"""A parsed watch-only descriptor (`WalletDescriptor`) and the scripts it derives."""

from __future__ import annotations

import dataclasses

from embit.descriptor import Descriptor as EmbitDescriptor

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.errors import CodecError, DescriptorError
from boveda.wallets.bip32 import HARDENED_INDEX
from boveda.wallets.descriptors.checksum import with_checksum
from boveda.wallets.descriptors.keys import KeyExpression
from boveda.wallets.descriptors.scripts import ScriptForm, build_scripts, render


@dataclasses.dataclass(frozen=True, slots=True)
class DerivedScript:
    branch: Branch
    index: int
    script_pubkey: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class WalletDescriptor:
    """A parsed, validated watch-only descriptor: what a wallet is, and how to list its scripts."""

    text: str  # canonical form, with its checksum
    network: Network
    form: ScriptForm
    keys: tuple[KeyExpression, ...]
    threshold: int | None  # signatures a multisig needs; None for other forms
    is_sorted: bool  # sortedmulti rather than multi
    literal_script_pubkey: bytes | None  # the one script of addr() and raw(); None for other forms

    @property
    def is_ranged(self) -> bool:
        return any(key.is_ranged for key in self.keys)

    @property
    def branches(self) -> tuple[Branch, ...]:
        if any(key.multipath for key in self.keys):
            return (Branch.RECEIVE, Branch.CHANGE)
        return (Branch.RECEIVE,)

    def branch_text(self, branch: Branch) -> str:
        """The single-path descriptor of one branch, with its checksum (for tools without BIP-389)."""
        self._check_branch(branch)
        if self.literal_script_pubkey is not None:  # addr() and raw() have no keys, hence no branches
            return self.text
        return with_checksum(render(self.form, self.keys, self.threshold, self.is_sorted, "", branch))

    def derive(self, branch: Branch, start: int, stop: int) -> tuple[DerivedScript, ...]:
        """The scripts at indexes start..stop-1 of a branch.

        A non-ranged descriptor has a single script, at index 0: the range is intersected
        with {0}, so a gap-limit scan can treat every wallet alike.
        """
        branch = Branch(branch)
        self._check_branch(branch)
        if not 0 <= start <= stop <= HARDENED_INDEX:
            raise DescriptorError(f"derivation range {start}..{stop} is not within 0..2^31")
        if not self.is_ranged:
            start, stop = min(start, 1), min(stop, 1)
        if self.literal_script_pubkey is not None:
            scripts: tuple[bytes, ...] = (self.literal_script_pubkey,) * (stop - start)
        else:
            try:
                columns = [key.public_keys(branch, start, stop) for key in self.keys]
            except CodecError as error:
                raise DescriptorError(str(error)) from None
            scripts = build_scripts(self.form, columns, self.threshold, self.is_sorted)
        return tuple(DerivedScript(branch, start + offset, script) for offset, script in enumerate(scripts))

    def _check_branch(self, branch: Branch) -> None:
        if branch not in self.branches:
            raise DescriptorError(f"this descriptor has no {branch.name.lower()} branch (it has no <a;b> step)")


def derive_with_embit(descriptor: WalletDescriptor, branch: Branch, start: int, stop: int) -> tuple[DerivedScript, ...]:
    """The same scripts as `descriptor.derive`, computed by embit's descriptor engine.

    The named baseline for tests and benchmarks; addr() and raw() name their script
    literally and embit 0.8.0 has neither, so those come from `derive`.
    """
    branch = Branch(branch)
    if descriptor.literal_script_pubkey is not None:
        return descriptor.derive(branch, start, stop)
    if not descriptor.is_ranged:
        start, stop = min(start, 1), min(stop, 1)
    engine = EmbitDescriptor.from_string(descriptor.branch_text(branch))
    return tuple(
        DerivedScript(branch, index, engine.derive(index).script_pubkey().data) for index in range(start, stop)
    )


def address_of(script_pubkey: bytes, network: Network) -> str | None:
    """The address of a script on a network (`bitcoin.address`'s codec), or None when it has no address form."""
    try:
        return script_to_address(script_pubkey, network)
    except CodecError:
        return None
