"""Reading a descriptor's text: its checksum, its functions and their arguments, into a WalletDescriptor.

The grammar is walked here rather than by embit's parser because embit accepts much that Bóveda
must refuse (private keys, any miniscript, hardened steps after an xpub, legacy `{a,b}` branch
sets) and its errors do not say which key or step is wrong; embit 0.8.0 also has no addr() or raw().
"""

from __future__ import annotations

import dataclasses
import re

from boveda.bitcoin.address import address_to_script, base58_networks
from boveda.bitcoin.codec import decode_base58check
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.errors import CodecError, DescriptorError
from boveda.wallets.descriptors.checksum import check_charset, descriptor_checksum, verify_checksum, with_checksum
from boveda.wallets.descriptors.descriptor import WalletDescriptor
from boveda.wallets.descriptors.keys import KeyContext, KeyExpression, parse_key
from boveda.wallets.descriptors.scripts import ScriptForm, render

_SUPPORTED_FORMS = "pkh, wpkh, sh(wpkh), sh(multi), wsh(multi), sh(wsh(multi)) (or sortedmulti), tr(KEY), addr, raw"
# Functions of BIP-380..390 that Bóveda knows but does not read, so the refusal can say so
# rather than call them unknown.
_KNOWN_UNSUPPORTED = frozenset({"pk", "combo", "rawtr", "multi_a", "sortedmulti_a", "musig"})
_SUPPORTED_FUNCTIONS = frozenset({"pkh", "wpkh", "sh", "wsh", "multi", "sortedmulti", "tr", "addr", "raw"})
_MAX_MULTI_KEYS = {ScriptForm.SH_MULTI: 15, ScriptForm.WSH_MULTI: 20, ScriptForm.SH_WSH_MULTI: 20}
_MAX_P2SH_REDEEM_SCRIPT_SIZE = 520
_BASE58_ADDRESS_SIZE = 21  # version byte and hash160


def parse_descriptor(text: str, network: Network) -> WalletDescriptor:
    """Parse and validate a descriptor for a network; DescriptorError names the first problem found.

    The checksum is required. A wrong checksum is reported without the right one (it
    signals a mistyped character somewhere); a missing one is reported with the checksum
    to append, but only once the rest of the descriptor has been found acceptable.
    """
    text = text.strip()
    check_charset(text)
    body, hash_sign, given_checksum = text.partition("#")
    if hash_sign:
        verify_checksum(body, given_checksum)
    descriptor = _interpret(body, network)
    if not hash_sign:
        checksum = descriptor_checksum(body)
        raise DescriptorError(f"the descriptor has no checksum; if its text is right, append #{checksum}")
    return descriptor


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    name: str
    arguments: tuple[str, ...]  # unparsed: each is read only when the outer call's meaning is known


_FUNCTION_NAME = re.compile(r"[a-z_]+")


def _parse_call(text: str) -> _Call | None:
    """`name(arg,...)` split one level deep; None for text without a parenthesis (a key or value)."""
    open_at = text.find("(")
    if open_at == -1:
        return None
    name = text[:open_at]
    if not _FUNCTION_NAME.fullmatch(name):
        raise DescriptorError(f"expected a function name before '(', found {name[:20]!r}")
    if not text.endswith(")"):
        raise DescriptorError(f"{name}( is not closed by ')' at the end of its expression")
    return _Call(name, tuple(_split_arguments(text[open_at + 1 : -1], name)))


def _split_arguments(inner: str, name: str) -> list[str]:
    if inner == "":
        return []
    parts, depth, start = [], 0, 0
    for position, character in enumerate(inner):
        if character in "({[":
            depth += 1
        elif character in ")}]":
            depth -= 1
            if depth < 0:
                raise DescriptorError(f"unbalanced brackets inside {name}(...)")
        elif character == "," and depth == 0:
            parts.append(inner[start:position])
            start = position + 1
    if depth != 0:
        raise DescriptorError(f"unbalanced brackets inside {name}(...)")
    parts.append(inner[start:])
    return parts


def _interpret(text: str, network: Network) -> WalletDescriptor:
    call = _expect_call(text, "the descriptor", "a script such as wpkh(...)", top_level=True)
    if call.name in ("pkh", "wpkh", "tr"):
        form = {"pkh": ScriptForm.PKH, "wpkh": ScriptForm.WPKH, "tr": ScriptForm.TR}[call.name]
        context = {"pkh": KeyContext.LEGACY, "wpkh": KeyContext.SEGWIT, "tr": KeyContext.TAPROOT}[call.name]
        if call.name == "tr" and len(call.arguments) == 2:
            raise DescriptorError("tr() with a script tree is not supported; Bóveda reads key-path taproot, tr(KEY)")
        key = parse_key(_single_key_argument(call), network, context, f"the key of {call.name}()")
        return _descriptor(network, form, (key,))
    if call.name == "sh":
        inner = _expect_call(_single_argument(call), "sh()", "wpkh(...), wsh(...) or multi(...)")
        if inner.name == "wpkh":
            key = parse_key(_single_key_argument(inner), network, KeyContext.SEGWIT, "the key of sh(wpkh())")
            return _descriptor(network, ScriptForm.SH_WPKH, (key,))
        if inner.name == "wsh":
            multi = _expect_multi(_single_argument(inner), "sh(wsh())")
            return _multi_descriptor(multi, network, ScriptForm.SH_WSH_MULTI)
        if inner.name in ("multi", "sortedmulti"):
            return _multi_descriptor(inner, network, ScriptForm.SH_MULTI)
        raise DescriptorError(f"sh() must contain wpkh(), wsh() or multi()/sortedmulti(), not {inner.name}()")
    if call.name == "wsh":
        multi = _expect_multi(_single_argument(call), "wsh()")
        return _multi_descriptor(multi, network, ScriptForm.WSH_MULTI)
    if call.name == "addr":
        address, script_pubkey = _parse_address(_single_leaf_argument(call, "an address"), network)
        return _descriptor(network, ScriptForm.ADDR, (), literal_script_pubkey=script_pubkey, literal_text=address)
    if call.name == "raw":
        script_hex = _single_leaf_argument(call, "a script in hex")
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", script_hex):
            raise DescriptorError("raw() takes a non-empty script as an even number of hex digits")
        script_pubkey = bytes.fromhex(script_hex)
        return _descriptor(
            network, ScriptForm.RAW, (), literal_script_pubkey=script_pubkey, literal_text=script_pubkey.hex()
        )
    if call.name in ("multi", "sortedmulti"):
        raise DescriptorError(f"bare {call.name}() outputs are not supported; wrap it in wsh() or sh()")
    raise AssertionError(f"unhandled function {call.name}")  # _expect_call admits only the names above


def _expect_call(text: str, where: str, wanted: str, *, top_level: bool = False) -> _Call:
    argument = _parse_call(text)
    if argument is None:
        raise DescriptorError(f"{where} must be {wanted}, not a bare key or value")
    if argument.name in _KNOWN_UNSUPPORTED:
        raise DescriptorError(f"{argument.name}() descriptors are not supported; Bóveda reads {_SUPPORTED_FORMS}")
    if argument.name not in _SUPPORTED_FUNCTIONS:
        raise DescriptorError(f"unknown function {argument.name}()")
    if not top_level and argument.name in ("sh", "tr", "addr", "raw"):
        raise DescriptorError(f"{argument.name}() may only be used at the top level, not inside {where}")
    return argument


def _expect_multi(text: str, where: str) -> _Call:
    call = _expect_call(text, where, "multi(...) or sortedmulti(...)")
    if call.name not in ("multi", "sortedmulti"):
        raise DescriptorError(f"{where} must contain multi() or sortedmulti(), not {call.name}()")
    return call


def _single_argument(call: _Call) -> str:
    if len(call.arguments) != 1:
        raise DescriptorError(f"{call.name}() takes one argument, not {len(call.arguments)}")
    return call.arguments[0]


def _single_leaf_argument(call: _Call, wanted: str) -> str:
    argument = _single_argument(call)
    if "(" in argument:
        raise DescriptorError(f"{call.name}() takes {wanted}, not {_name_of_call(argument)}()")
    return argument


def _name_of_call(text: str) -> str:
    return text[: text.find("(")].strip()[:20]


def _single_key_argument(call: _Call) -> str:
    return _single_leaf_argument(call, "a key")


def _multi_descriptor(call: _Call, network: Network, form: ScriptForm) -> WalletDescriptor:
    name = call.name
    if len(call.arguments) < 2:
        raise DescriptorError(f"{name}() takes a threshold and at least one key")
    threshold_text, *key_arguments = call.arguments
    if not re.fullmatch(r"[0-9]+", threshold_text):
        raise DescriptorError(f"the threshold of {name}() must be a number")
    threshold = int(threshold_text)
    key_count = len(key_arguments)
    if key_count > _MAX_MULTI_KEYS[form]:
        raise DescriptorError(f"{form.value} holds at most {_MAX_MULTI_KEYS[form]} keys, not {key_count}")
    if not 1 <= threshold <= key_count:
        raise DescriptorError(f"the threshold of {name}() must be between 1 and its {key_count} keys, not {threshold}")
    context = KeyContext.LEGACY if form is ScriptForm.SH_MULTI else KeyContext.SEGWIT
    keys = []
    for number, argument in enumerate(key_arguments, start=1):
        where = f"key {number} of {name}()"
        if "(" in argument:
            raise DescriptorError(f"{where} must be a key, not {_name_of_call(argument)}()")
        keys.append(parse_key(argument, network, context, where))
    if form is ScriptForm.SH_MULTI:
        size = 3 + sum(1 + (65 if key.public_key is not None and len(key.public_key) == 65 else 33) for key in keys)
        if size > _MAX_P2SH_REDEEM_SCRIPT_SIZE:
            raise DescriptorError(f"sh({name}()) redeem script would be {size} bytes, over the P2SH limit of 520")
    if threshold > 1:
        _refuse_repeated_keys(name, keys)
    return _descriptor(network, form, tuple(keys), threshold=threshold, is_sorted=name == "sortedmulti")


def _refuse_repeated_keys(name: str, keys: list[KeyExpression]) -> None:
    """One key named twice, however spelt (case, origin, compressed or not, a child xpub for a path), in a
    multisig whose threshold is above 1: a "2-of-2" one holder controls (a 1-of-n loses nothing by it).

    The book refuses the same key text on every path it stores a descriptor (boveda.book.descriptor_rules);
    here, with the keys derived, two spellings of one key are refused too.
    """
    seen: dict[tuple[bytes, ...], int] = {}
    for number, key in enumerate(keys, start=1):
        # The x coordinate: a compressed and an uncompressed spelling of one point are one key.
        identity = tuple(k[1:33] for k in key.public_keys(Branch.RECEIVE, 0, 1) + key.public_keys(Branch.CHANGE, 0, 1))
        if identity in seen:
            raise DescriptorError(f"{name}() names one key twice (keys {seen[identity]} and {number}): its threshold "
                                  "would be met by fewer signers than it says")
        seen[identity] = number


def _descriptor(
    network: Network,
    form: ScriptForm,
    keys: tuple[KeyExpression, ...],
    *,
    threshold: int | None = None,
    is_sorted: bool = False,
    literal_script_pubkey: bytes | None = None,
    literal_text: str = "",
) -> WalletDescriptor:
    # Every multipath step has exactly two paths (_parse_multipath), so BIP-389's rule that
    # all of a descriptor's steps have the same length holds by construction.
    body = render(form, keys, threshold, is_sorted, literal_text, branch=None)
    return WalletDescriptor(
        text=with_checksum(body),
        network=network,
        form=form,
        keys=keys,
        threshold=threshold,
        is_sorted=is_sorted,
        literal_script_pubkey=literal_script_pubkey,
    )


def _parse_address(text: str, network: Network) -> tuple[str, bytes]:
    """An address's canonical text and output script; refused when it belongs to another network.

    `bitcoin.address` decodes it; the refusals are worded for a descriptor.
    """
    lowered = text.lower()
    separator = lowered.rfind("1")
    hrp = lowered[:separator] if separator > 0 else ""
    hrp_networks = " or ".join(n.value for n in Network if n.hrp == hrp)
    if hrp_networks:
        if hrp != network.hrp:
            raise DescriptorError(f"addr(): the address is for {hrp_networks}, but the wallet is on {network.value}")
        try:
            return lowered, address_to_script(text, network)
        except CodecError:
            raise DescriptorError("addr(): not a valid bech32/bech32m address (checksum, case or length)") from None
    try:
        payload = decode_base58check(text)
    except CodecError:
        raise DescriptorError("addr(): not a valid address (neither bech32 nor base58check)") from None
    networks = base58_networks(payload[0]) if len(payload) == _BASE58_ADDRESS_SIZE else ()
    if not networks:
        raise DescriptorError("addr(): not a valid address (unknown base58 version or length)")
    if network not in networks:
        address_network = "main" if Network.MAIN in networks else "test"
        raise DescriptorError(
            f"addr(): the address is for the {address_network} network, but the wallet is on {network.value}"
        )
    return text, address_to_script(text, network)
