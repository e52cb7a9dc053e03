"""One exception type per layer; the CLI turns each into a one-line message and exit code 2."""


class BovedaError(Exception):
    """Bad input or broken infrastructure. The message is shown to the user as is."""


class CodecError(BovedaError, ValueError):
    """Input the bitcoin layer refuses: bytes or text that do not decode as the type they claim
    to be, or values no encoding of that type can hold.

    It is a ValueError too, so that callers written against the plain ValueErrors `bitcoin/`
    raised before keep catching it.
    """


class ChainError(BovedaError):
    """A chain source could not be opened or read."""


class WalletError(BovedaError):
    """A watch-only wallet that cannot be read, added, synced or queried as asked."""


class DescriptorError(WalletError):
    """A descriptor Bóveda refuses. The message is one line and names what is wrong."""


class ScenarioError(BovedaError):
    """A scenario file is malformed or asks for something the builder cannot do."""


class BuilderError(BovedaError):
    """The regtest builder could not extend the chain as asked."""
