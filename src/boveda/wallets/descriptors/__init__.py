"""Output descriptors (BIP-380..386, BIP-389 multipath) read as watch-only wallets.

`parse_descriptor` accepts the forms a reserve's wallets use — pkh, wpkh, sh(wpkh),
sh(multi), wsh(multi), sh(wsh(multi)) (each multi also as sortedmulti), tr(KEY), addr,
raw — with public keys only, and refuses everything else with a one-line DescriptorError.
`WalletDescriptor.derive` turns a branch and an index range into output scripts.

embit is the reference: its checksum, base58 and bech32 codecs are used as they are, and
`derive_with_embit` derives through embit's own descriptor engine, the baseline that tests
and bench/derive.py hold the fast path to.

Modules, in the BIPs' words: `checksum` (BIP-380's checksum), `keys` (key expressions,
BIP-380 and BIP-389), `scripts` (script expressions, BIP-381..386), `parse` (the text into a
descriptor) and `descriptor` (the value type and its derivation).
"""

from boveda.bitcoin.derivation import Branch
from boveda.errors import DescriptorError
from boveda.wallets.descriptors.checksum import descriptor_checksum
from boveda.wallets.descriptors.descriptor import DerivedScript, WalletDescriptor, address_of, derive_with_embit
from boveda.wallets.descriptors.keys import KeyExpression, KeyOrigin
from boveda.wallets.descriptors.parse import parse_descriptor
from boveda.wallets.descriptors.scripts import ScriptForm
