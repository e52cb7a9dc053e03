"""One exception type per layer; the CLI turns each into a one-line message and exit code 2."""


class BovedaError(Exception):
    """Bad input or broken infrastructure. The message is shown to the user as is."""


class CodecError(BovedaError):
    """Bytes that do not decode as the wire type they claim to be."""


class ChainError(BovedaError):
    """A chain source could not be opened or read."""


class ScenarioError(BovedaError):
    """A scenario file is malformed or asks for something the builder cannot do."""


class BuilderError(BovedaError):
    """The regtest builder could not extend the chain as asked."""
