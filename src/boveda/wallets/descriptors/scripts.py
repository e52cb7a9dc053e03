"""The script expressions Bóveda reads (BIP-381..386): their forms, their text, and the output scripts they give.

The scripts come from `boveda.bitcoin.script` and `boveda.bitcoin.taproot`, the builders every
layer uses.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from boveda.bitcoin import script, taproot
from boveda.bitcoin.derivation import Branch
from boveda.errors import CodecError, DescriptorError
from boveda.wallets.descriptors.keys import KeyExpression


class ScriptForm(enum.Enum):
    """The shape of the output scripts a descriptor produces."""

    PKH = "pkh"
    WPKH = "wpkh"
    SH_WPKH = "sh(wpkh)"
    SH_MULTI = "sh(multi)"
    WSH_MULTI = "wsh(multi)"
    SH_WSH_MULTI = "sh(wsh(multi))"
    TR = "tr"
    ADDR = "addr"
    RAW = "raw"


MULTI_FORMS = (ScriptForm.SH_MULTI, ScriptForm.WSH_MULTI, ScriptForm.SH_WSH_MULTI)
_TEMPLATES = {
    ScriptForm.PKH: "pkh({})",
    ScriptForm.WPKH: "wpkh({})",
    ScriptForm.SH_WPKH: "sh(wpkh({}))",
    ScriptForm.SH_MULTI: "sh({})",
    ScriptForm.WSH_MULTI: "wsh({})",
    ScriptForm.SH_WSH_MULTI: "sh(wsh({}))",
    ScriptForm.TR: "tr({})",
    ScriptForm.ADDR: "addr({})",
    ScriptForm.RAW: "raw({})",
}


def render(
    form: ScriptForm,
    keys: tuple[KeyExpression, ...],
    threshold: int | None,
    is_sorted: bool,
    literal_text: str,
    branch: Branch | None,
) -> str:
    """The canonical text of a script expression, without checksum; with a branch, for that branch only."""
    key_texts = [key.to_text(branch) for key in keys]
    if form in MULTI_FORMS:
        inner = ("sortedmulti" if is_sorted else "multi") + f"({threshold}," + ",".join(key_texts) + ")"
    else:
        inner = key_texts[0] if keys else literal_text
    return _TEMPLATES[form].format(inner)


def _taproot_key_path(key: bytes) -> bytes:
    # BIP-86/386: the output key of internal key P (x-only, or compressed with its parity dropped).
    try:
        return script.p2tr(taproot.output_key(key[-32:]))
    except CodecError:
        raise DescriptorError("taproot tweak gave an invalid output key (probability < 2^-127)") from None


def build_scripts(
    form: ScriptForm, columns: Sequence[tuple[bytes, ...]], threshold: int | None, is_sorted: bool
) -> tuple[bytes, ...]:
    """The output script at each index, from the public key of each key expression at that index (`columns`)."""
    if form is ScriptForm.PKH:
        return tuple(script.p2pkh(key) for key in columns[0])
    if form is ScriptForm.WPKH:
        return tuple(script.p2wpkh(key) for key in columns[0])
    if form is ScriptForm.SH_WPKH:
        return tuple(script.p2sh(script.p2wpkh(key)) for key in columns[0])
    if form is ScriptForm.TR:
        return tuple(_taproot_key_path(key) for key in columns[0])
    assert threshold is not None
    multisigs = (script.multisig(threshold, sorted(keys) if is_sorted else keys) for keys in zip(*columns, strict=True))
    if form is ScriptForm.SH_MULTI:
        return tuple(script.p2sh(multisig) for multisig in multisigs)
    if form is ScriptForm.WSH_MULTI:
        return tuple(script.p2wsh(multisig) for multisig in multisigs)
    if form is ScriptForm.SH_WSH_MULTI:
        return tuple(script.p2sh(script.p2wsh(multisig)) for multisig in multisigs)
    raise AssertionError(f"no script builder for {form}")
