"""Output descriptors (BIP-380..386, BIP-389 multipath) read as watch-only wallets.

`parse_descriptor` accepts the forms a reserve's wallets use — pkh, wpkh, sh(wpkh),
sh(multi), wsh(multi), sh(wsh(multi)) (each multi also as sortedmulti), tr(KEY), addr,
raw — with public keys only, and refuses everything else with a one-line DescriptorError.
`WalletDescriptor.derive` turns a branch and an index range into output scripts.

embit is the reference: its checksum, base58 and bech32 codecs are used as they are, and
`derive_with_embit` derives through embit's own descriptor engine, the baseline that tests
and bench/derive.py hold the fast path to. The grammar is walked here rather than by embit's
parser because embit accepts much that Bóveda must refuse (private keys, any miniscript,
hardened steps after an xprv, legacy `{a,b}` branch sets) and its errors do not say which
key or step is wrong; embit 0.8.0 also has no addr() or raw().
"""

from __future__ import annotations

import dataclasses
import enum
import re

import coincurve
from embit import base58, bech32
from embit.descriptor import Descriptor as EmbitDescriptor
from embit.descriptor.checksum import checksum as embit_checksum

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.hashes import hash160, sha256, tagged_hash
from boveda.bitcoin.network import Network
from boveda.errors import BovedaError, CodecError
from boveda.wallets.bip32 import (
    HARDENED_INDEX,
    PRIVATE_VERSION_NAMES,
    TPUB_VERSION,
    VERSION_NAMES,
    XPUB_VERSION,
    ExtendedPublicKey,
)


class DescriptorError(BovedaError):
    """A descriptor Bóveda refuses. The message is one line and names what is wrong."""


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


@dataclasses.dataclass(frozen=True, slots=True)
class DerivedScript:
    branch: Branch
    index: int
    script_pubkey: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class KeyOrigin:
    """`[fingerprint/path]`: where a key sits under its master key; metadata, never derived."""

    fingerprint: bytes
    path: tuple[int, ...]

    def to_text(self) -> str:
        return "[" + self.fingerprint.hex() + "".join("/" + _step_text(step) for step in self.path) + "]"


@dataclasses.dataclass(frozen=True, slots=True)
class KeyExpression:
    """One key of a descriptor: a fixed public key, or an xpub/tpub with the steps to derive from it."""

    origin: KeyOrigin | None
    public_key: bytes | None  # a fixed key as written: 33 or 65 bytes, or 32 (x-only, in tr())
    extended_key: ExtendedPublicKey | None
    path: tuple[int, ...]  # unhardened steps after the extended key, before any multipath step
    multipath: tuple[int, ...]  # () or one step per branch: BIP-389 `<receive;change>`
    path_after: tuple[int, ...]  # steps after the multipath step
    is_ranged: bool  # the path ends in /*
    # The extended key at the end of each branch's path, derived once at parse time so that
    # derive() costs one CKDpub per script and key, never a walk down the path.
    branch_keys: tuple[ExtendedPublicKey, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def to_text(self, branch: Branch | None = None) -> str:
        """The canonical key expression; with a branch, its multipath step resolved to that branch."""
        origin = self.origin.to_text() if self.origin else ""
        if self.extended_key is None:
            assert self.public_key is not None
            return origin + self.public_key.hex()
        steps = [str(step) for step in self.path]
        if self.multipath:
            if branch is None:
                steps.append("<" + ";".join(str(step) for step in self.multipath) + ">")
            else:
                steps.append(str(self.multipath[branch]))
        steps += [str(step) for step in self.path_after]
        if self.is_ranged:
            steps.append("*")
        return origin + self.extended_key.serialize() + "".join("/" + step for step in steps)

    def public_keys(self, branch: Branch, start: int, stop: int) -> tuple[bytes, ...]:
        """This key's public key at each index start..stop-1 of a branch."""
        if self.extended_key is None:
            assert self.public_key is not None
            return (self.public_key,) * (stop - start)
        branch_key = self.branch_keys[branch if self.multipath else 0]
        if self.is_ranged:
            return branch_key.child_public_keys(start, stop)
        return (branch_key.public_key,) * (stop - start)


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
        return _with_checksum(_render(self, branch))

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
            scripts = _build_scripts(self.form, columns, self.threshold, self.is_sorted)
        return tuple(DerivedScript(branch, start + offset, script) for offset, script in enumerate(scripts))

    def _check_branch(self, branch: Branch) -> None:
        if branch not in self.branches:
            raise DescriptorError(f"this descriptor has no {branch.name.lower()} branch (it has no <a;b> step)")


def parse_descriptor(text: str, network: Network) -> WalletDescriptor:
    """Parse and validate a descriptor for a network; DescriptorError names the first problem found.

    The checksum is required. A wrong checksum is reported without the right one (it
    signals a mistyped character somewhere); a missing one is reported with the checksum
    to append, but only once the rest of the descriptor has been found acceptable.
    """
    text = text.strip()
    _check_charset(text)
    body, hash_sign, given_checksum = text.partition("#")
    if hash_sign:
        _verify_checksum(body, given_checksum)
    descriptor = _interpret(body, network)
    if not hash_sign:
        raise DescriptorError(f"the descriptor has no checksum; if its text is right, append #{embit_checksum(body)}")
    return descriptor


def descriptor_checksum(body: str) -> str:
    """The 8-character BIP-380 checksum of a descriptor written without `#`."""
    _check_charset(body)
    return embit_checksum(body)


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
    """The address of a script on a network, or None when the script has no address form."""
    try:
        return script_to_address(script_pubkey, network)
    except CodecError:
        return None


# --- reading the text ------------------------------------------------------------------

# BIP-380's character set: anything else cannot be covered by the checksum.
_INPUT_CHARSET = frozenset(
    "0123456789()[],'/*abcdefgh@:$%{}" "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
)
_CHECKSUM_CHARSET = frozenset("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
_CHECKSUM_LENGTH = 8

_SUPPORTED_FORMS = "pkh, wpkh, sh(wpkh), sh(multi), wsh(multi), sh(wsh(multi)) (or sortedmulti), tr(KEY), addr, raw"
# Functions of BIP-380..390 that Bóveda knows but does not read, so the refusal can say so
# rather than call them unknown.
_KNOWN_UNSUPPORTED = frozenset({"pk", "combo", "rawtr", "multi_a", "sortedmulti_a", "musig"})
_SUPPORTED_FUNCTIONS = frozenset({"pkh", "wpkh", "sh", "wsh", "multi", "sortedmulti", "tr", "addr", "raw"})

def _check_charset(text: str) -> None:
    for position, character in enumerate(text):
        if character not in _INPUT_CHARSET:
            raise DescriptorError(f"character {character!r} at position {position} is not allowed in a descriptor")


def _verify_checksum(body: str, given: str) -> None:
    if "#" in given:
        raise DescriptorError("a descriptor has one '#', before its checksum; this one has more")
    if len(given) != _CHECKSUM_LENGTH:
        raise DescriptorError(f"the checksum after '#' must be {_CHECKSUM_LENGTH} characters, not {len(given)}")
    if not set(given) <= _CHECKSUM_CHARSET:
        raise DescriptorError(f"checksum #{given} has characters outside the checksum alphabet")
    # The right checksum is not shown: a mismatch means some character is mistyped, and
    # offering a checksum for the mistyped text would invite the user to seal in the typo.
    if embit_checksum(body) != given:
        raise DescriptorError(f"checksum #{given} does not match the descriptor; a character of the text is mistyped")


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


# --- meaning -----------------------------------------------------------------------------


class _KeyContext(enum.Enum):
    LEGACY = "legacy"  # pkh, sh(multi): uncompressed keys allowed
    SEGWIT = "segwit"  # wpkh, wsh: compressed only
    TAPROOT = "taproot"  # tr: x-only or compressed


_MAX_MULTI_KEYS = {ScriptForm.SH_MULTI: 15, ScriptForm.WSH_MULTI: 20, ScriptForm.SH_WSH_MULTI: 20}
_MAX_P2SH_REDEEM_SCRIPT_SIZE = 520


def _interpret(text: str, network: Network) -> WalletDescriptor:
    call = _expect_call(text, "the descriptor", "a script such as wpkh(...)", top_level=True)
    if call.name in ("pkh", "wpkh", "tr"):
        form = {"pkh": ScriptForm.PKH, "wpkh": ScriptForm.WPKH, "tr": ScriptForm.TR}[call.name]
        context = {"pkh": _KeyContext.LEGACY, "wpkh": _KeyContext.SEGWIT, "tr": _KeyContext.TAPROOT}[call.name]
        if call.name == "tr" and len(call.arguments) == 2:
            raise DescriptorError("tr() with a script tree is not supported; Bóveda reads key-path taproot, tr(KEY)")
        key = _parse_key(_single_key_argument(call), network, context, f"the key of {call.name}()")
        return _descriptor(network, form, (key,))
    if call.name == "sh":
        inner = _expect_call(_single_argument(call), "sh()", "wpkh(...), wsh(...) or multi(...)")
        if inner.name == "wpkh":
            key = _parse_key(_single_key_argument(inner), network, _KeyContext.SEGWIT, "the key of sh(wpkh())")
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
    context = _KeyContext.LEGACY if form is ScriptForm.SH_MULTI else _KeyContext.SEGWIT
    keys = []
    for number, argument in enumerate(key_arguments, start=1):
        where = f"key {number} of {name}()"
        if "(" in argument:
            raise DescriptorError(f"{where} must be a key, not {_name_of_call(argument)}()")
        keys.append(_parse_key(argument, network, context, where))
    if form is ScriptForm.SH_MULTI:
        size = 3 + sum(1 + (65 if key.public_key is not None and len(key.public_key) == 65 else 33) for key in keys)
        if size > _MAX_P2SH_REDEEM_SCRIPT_SIZE:
            raise DescriptorError(f"sh({name}()) redeem script would be {size} bytes, over the P2SH limit of 520")
    return _descriptor(network, form, tuple(keys), threshold=threshold, is_sorted=name == "sortedmulti")


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
    body = _render_parts(form, keys, threshold, is_sorted, literal_text, branch=None)
    return WalletDescriptor(_with_checksum(body), network, form, keys, threshold, is_sorted, literal_script_pubkey)


def _render(descriptor: WalletDescriptor, branch: Branch | None) -> str:
    if descriptor.literal_script_pubkey is not None:  # addr() and raw() have no keys, hence no branches
        return descriptor.text.partition("#")[0]
    return _render_parts(descriptor.form, descriptor.keys, descriptor.threshold, descriptor.is_sorted, "", branch)


def _render_parts(
    form: ScriptForm,
    keys: tuple[KeyExpression, ...],
    threshold: int | None,
    is_sorted: bool,
    literal_text: str,
    branch: Branch | None,
) -> str:
    key_texts = [key.to_text(branch) for key in keys]
    if form in (ScriptForm.SH_MULTI, ScriptForm.WSH_MULTI, ScriptForm.SH_WSH_MULTI):
        multi = ("sortedmulti" if is_sorted else "multi") + f"({threshold}," + ",".join(key_texts) + ")"
        return {ScriptForm.SH_MULTI: "sh({})", ScriptForm.WSH_MULTI: "wsh({})", ScriptForm.SH_WSH_MULTI: "sh(wsh({}))"}[
            form
        ].format(multi)
    template = {
        ScriptForm.PKH: "pkh({})",
        ScriptForm.WPKH: "wpkh({})",
        ScriptForm.SH_WPKH: "sh(wpkh({}))",
        ScriptForm.TR: "tr({})",
        ScriptForm.ADDR: "addr({})",
        ScriptForm.RAW: "raw({})",
    }[form]
    return template.format(key_texts[0] if keys else literal_text)


def _with_checksum(body: str) -> str:
    return body + "#" + embit_checksum(body)


# --- keys --------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]+")
_NUMBER = re.compile(r"[0-9]+")
_HARDENED_STEP = re.compile(r"[0-9]+['hH]|\*['hH]")
_ORIGIN_STEP = re.compile(r"([0-9]+)(['h]?)")
_WIF_PREFIXES = (0x80, 0xEF)


def _parse_key(text: str, network: Network, context: _KeyContext, where: str) -> KeyExpression:
    # Key text is never quoted back in a message: a refused key may be a private one.
    origin = None
    rest = text
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise DescriptorError(f"{where}: its key origin '[' is not closed by ']'")
        origin = _parse_origin(text[1:close], where)
        rest = text[close + 1 :]
    if "[" in rest or "]" in rest:
        raise DescriptorError(f"{where}: a key has at most one origin [...], written before the key")
    if rest == "":
        raise DescriptorError(f"{where}: a key origin with no key after it" if origin else f"{where} is missing")
    key_text, slash, path_text = rest.partition("/")
    if _HEX.fullmatch(key_text):
        if slash:
            raise DescriptorError(f"{where}: a hex public key takes no derivation steps")
        return KeyExpression(origin, _parse_hex_key(key_text, context, where), None, (), (), (), False)
    extended_key = _parse_extended_key(key_text, network, where)
    path, multipath, path_after, is_ranged = _parse_key_path(path_text, where) if slash else ((), (), (), False)
    branch_paths = [path + (step,) + path_after for step in multipath] if multipath else [path + path_after]
    try:
        branch_keys = tuple(extended_key.derive_path(branch_path) for branch_path in branch_paths)
    except CodecError as error:
        raise DescriptorError(f"{where}: {error}") from None
    return KeyExpression(origin, None, extended_key, path, multipath, path_after, is_ranged, branch_keys)


def _parse_origin(text: str, where: str) -> KeyOrigin:
    fingerprint_hex, *steps = text.split("/")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", fingerprint_hex):
        raise DescriptorError(f"{where}: a key origin starts with a fingerprint of 8 hex digits")
    path = []
    for step in steps:
        match = _ORIGIN_STEP.fullmatch(step)
        if match is None:
            if step.endswith("H") and _NUMBER.fullmatch(step[:-1]):
                # BIP-380's prose allows 'H' but its test vectors refuse it; Bóveda follows the
                # vectors, so a descriptor it accepts is one every conforming tool accepts.
                raise DescriptorError(f"{where}: write hardened step {step} in its key origin as {step[:-1]}h")
            raise DescriptorError(f"{where}: key origin step {step!r} is not a number with an optional h")
        index = _index(match.group(1), where)
        path.append(index + HARDENED_INDEX if match.group(2) else index)
    return KeyOrigin(bytes.fromhex(fingerprint_hex), tuple(path))


def _parse_hex_key(key_hex: str, context: _KeyContext, where: str) -> bytes:
    key = bytes.fromhex(key_hex) if len(key_hex) % 2 == 0 else b""
    if len(key) == 32 and context is _KeyContext.TAPROOT:
        point = b"\x02" + key
    elif (len(key) == 33 and key[0] in (2, 3)) or (len(key) == 65 and key[0] == 4):
        point = key
    else:
        wanted = {
            _KeyContext.LEGACY: "66 hex digits starting 02 or 03, or 130 starting 04",
            _KeyContext.SEGWIT: "66 hex digits starting 02 or 03",
            _KeyContext.TAPROOT: "66 hex digits (compressed) or 64 (x-only)",
        }[context]
        raise DescriptorError(f"{where}: a hex public key is {wanted}, not {len(key_hex)} digits")
    if len(key) == 65 and context is not _KeyContext.LEGACY:
        raise DescriptorError(f"{where}: uncompressed public keys are not allowed in {context.value} scripts")
    try:
        coincurve.PublicKey(point)
    except ValueError:
        raise DescriptorError(f"{where}: not a valid public key (not a point on the curve)") from None
    return key


def _parse_extended_key(key_text: str, network: Network, where: str) -> ExtendedPublicKey:
    try:
        payload = base58.decode_check(key_text)
    except (ValueError, IndexError):
        raise DescriptorError(f"{where} is not a public key, xpub or tpub (not hex, base58 checksum fails)") from None
    if len(payload) in (33, 34) and payload[0] in _WIF_PREFIXES:
        raise DescriptorError(f"{where} is a private key (WIF); Bóveda is watch-only: give its public key")
    if len(payload) != 78:
        raise DescriptorError(f"{where} is not a public key, xpub or tpub")
    name = VERSION_NAMES.get(payload[:4])
    if name in PRIVATE_VERSION_NAMES:
        raise DescriptorError(f"{where} is an extended private key ({name}); Bóveda is watch-only: give its xpub/tpub")
    if name is None:
        raise DescriptorError(f"{where} is an extended key of unknown version {payload[:4].hex()}")
    if name not in ("xpub", "tpub"):
        wanted = "xpub" if name[0] in "yzYZ" else "tpub"
        raise DescriptorError(
            f"{where} is a SLIP-132 {name}; descriptors take the same key re-encoded as a {wanted} "
            "(the script type comes from the descriptor)"
        )
    expected_version, expected_name = (XPUB_VERSION, "xpub") if network is Network.MAIN else (TPUB_VERSION, "tpub")
    if payload[:4] != expected_version:
        raise DescriptorError(
            f"{where} is {_article(name)} {name} ({'main' if name == 'xpub' else 'test'} network keys) but the wallet "
            f"is on {network.value}; it needs {_article(expected_name)} {expected_name}"
        )
    try:
        return ExtendedPublicKey.parse(key_text)
    except CodecError as error:
        raise DescriptorError(f"{where} is not a valid {name}: {error}") from None


def _parse_key_path(text: str, where: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], bool]:
    """Steps after an extended key: `/a/b/<c;d>/e/*`, all unhardened (no private key to harden with)."""
    before: list[int] = []
    after: list[int] = []
    multipath: tuple[int, ...] = ()
    is_ranged = False
    for step in text.split("/"):
        if step == "":
            raise DescriptorError(f"{where}: empty derivation step ('//' or a trailing '/')")
        if is_ranged:
            raise DescriptorError(f"{where}: '*' must be the last derivation step")
        if _HARDENED_STEP.fullmatch(step):
            raise DescriptorError(_hardened_refusal(where, step))
        if step == "*":
            is_ranged = True
        elif step.startswith("<") and step.endswith(">"):
            if multipath:
                raise DescriptorError(f"{where}: a key may have only one multipath step <a;b> (BIP-389)")
            multipath = _parse_multipath(step, where)
        elif any(character in step for character in "<>;"):
            raise DescriptorError(f"{where}: malformed multipath step {step!r}; write it as <a;b>")
        elif multipath:
            after.append(_unhardened_index(step, where))
        else:
            before.append(_unhardened_index(step, where))
    return tuple(before), multipath, tuple(after), is_ranged


def _parse_multipath(step: str, where: str) -> tuple[int, ...]:
    items = step[1:-1].split(";")
    if any(item == "" for item in items):
        raise DescriptorError(f"{where}: multipath step {step} has an empty index")
    indexes = tuple(_unhardened_index(item, where) for item in items)
    if len(indexes) < 2:
        raise DescriptorError(f"{where}: multipath step {step} needs at least two indexes")
    if len(set(indexes)) != len(indexes):
        raise DescriptorError(f"{where}: multipath step {step} repeats an index")
    if len(indexes) != len(Branch):
        raise DescriptorError(
            f"{where}: multipath step {step} has {len(indexes)} paths; Bóveda reads two, <receive;change>"
        )
    return indexes


def _unhardened_index(step: str, where: str) -> int:
    if _HARDENED_STEP.fullmatch(step):
        raise DescriptorError(_hardened_refusal(where, step))
    if not _NUMBER.fullmatch(step):
        raise DescriptorError(f"{where}: derivation step {step!r} is not a number")
    return _index(step, where)


def _index(digits: str, where: str) -> int:
    index = int(digits)
    if index >= HARDENED_INDEX:
        raise DescriptorError(f"{where}: derivation index {digits} is out of range (it must be below 2^31)")
    return index


def _hardened_refusal(where: str, step: str) -> str:
    return (
        f"{where}: hardened step {step} after an xpub needs the private key (Bóveda is watch-only); "
        "give the xpub at that level and move the step into the key origin"
    )


def _parse_address(text: str, network: Network) -> tuple[str, bytes]:
    """An address's canonical text and output script; refused when it belongs to another network."""
    lowered = text.lower()
    separator = lowered.rfind("1")
    hrp = lowered[:separator] if separator > 0 else ""
    bech32_networks = {"bc": "main", "tb": "testnet4 or signet", "bcrt": "regtest"}
    if hrp in bech32_networks:
        if hrp != network.hrp:
            raise DescriptorError(
                f"addr(): the address is for {bech32_networks[hrp]}, but the wallet is on {network.value}"
            )
        version, program = bech32.decode(hrp, text)
        if version is None:
            raise DescriptorError("addr(): not a valid bech32/bech32m address (checksum, case or length)")
        return lowered, bytes([0x50 + version if version else 0, len(program)]) + bytes(program)
    try:
        payload = base58.decode_check(text)
    except (ValueError, IndexError):
        raise DescriptorError("addr(): not a valid address (neither bech32 nor base58check)") from None
    prefixes = {0x00: ("main", "p2pkh"), 0x05: ("main", "p2sh"), 0x6F: ("test", "p2pkh"), 0xC4: ("test", "p2sh")}
    if len(payload) != 21 or payload[0] not in prefixes:
        raise DescriptorError("addr(): not a valid address (unknown base58 version or length)")
    address_network, kind = prefixes[payload[0]]
    if (address_network == "main") != (network is Network.MAIN):
        raise DescriptorError(
            f"addr(): the address is for the {address_network} network, but the wallet is on {network.value}"
        )
    script_hash = payload[1:]
    if kind == "p2pkh":
        return text, b"\x76\xa9\x14" + script_hash + b"\x88\xac"
    return text, b"\xa9\x14" + script_hash + b"\x87"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiouxAEIOUX" else "a"


def _step_text(step: int) -> str:
    return f"{step - HARDENED_INDEX}h" if step >= HARDENED_INDEX else str(step)


# --- scripts -----------------------------------------------------------------------------


def _build_scripts(
    form: ScriptForm, columns: list[tuple[bytes, ...]], threshold: int | None, is_sorted: bool
) -> tuple[bytes, ...]:
    if form is ScriptForm.PKH:
        return tuple(b"\x76\xa9\x14" + hash160(key) + b"\x88\xac" for key in columns[0])
    if form is ScriptForm.WPKH:
        return tuple(b"\x00\x14" + hash160(key) for key in columns[0])
    if form is ScriptForm.SH_WPKH:
        return tuple(_p2sh(b"\x00\x14" + hash160(key)) for key in columns[0])
    if form is ScriptForm.TR:
        return tuple(_p2tr_key_path(key) for key in columns[0])
    assert threshold is not None
    multisigs = (_multisig(threshold, keys, is_sorted) for keys in zip(*columns, strict=True))
    if form is ScriptForm.SH_MULTI:
        return tuple(_p2sh(script) for script in multisigs)
    if form is ScriptForm.WSH_MULTI:
        return tuple(_p2wsh(script) for script in multisigs)
    if form is ScriptForm.SH_WSH_MULTI:
        return tuple(_p2sh(_p2wsh(script)) for script in multisigs)
    raise AssertionError(f"no script builder for {form}")


def _p2sh(redeem_script: bytes) -> bytes:
    return b"\xa9\x14" + hash160(redeem_script) + b"\x87"


def _p2wsh(witness_script: bytes) -> bytes:
    return b"\x00\x20" + sha256(witness_script)


def _multisig(threshold: int, keys: tuple[bytes, ...], is_sorted: bool) -> bytes:
    ordered = sorted(keys) if is_sorted else keys
    pushes = b"".join(bytes([len(key)]) + key for key in ordered)
    return _small_number(threshold) + pushes + _small_number(len(keys)) + b"\xae"  # OP_CHECKMULTISIG


def _small_number(number: int) -> bytes:
    # OP_1..OP_16, then a one-byte push (multisig counts stop at 20)
    return bytes([0x50 + number]) if 1 <= number <= 16 else bytes([1, number])


def _p2tr_key_path(key: bytes) -> bytes:
    # BIP-86/386: Q = lift_x(P) + hash_TapTweak(P)·G; the output key is Q's x coordinate.
    x_only = key[-32:] if len(key) == 33 else key
    tweak = tagged_hash("TapTweak", x_only)
    try:
        output_key = coincurve.PublicKey.combine_keys(
            [coincurve.PublicKey(b"\x02" + x_only), coincurve.PublicKey.from_valid_secret(tweak)]
        )
    except ValueError:
        raise DescriptorError("taproot tweak gave an invalid output key (probability < 2^-127)") from None
    return b"\x51\x20" + output_key.format(compressed=True)[1:]
