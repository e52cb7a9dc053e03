"""The spend layer's refusals: every one a BovedaError the CLI prints as one line, exit 2."""

from __future__ import annotations

from boveda.errors import BovedaError


class SpendError(BovedaError):
    """A spend command refused: bad input, a proposal in the wrong state, a PSBT that does not match."""


class PolicyRefusal(SpendError):
    """A proposal or an approval a governance rule refuses; the message names the rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"refused by rule {rule}: {message}")
        self.rule = rule
