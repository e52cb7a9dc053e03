"""Bitcoin amounts at the edge: exact BTC strings in, satoshis (int) out, and back.

Nothing inside Bóveda handles BTC strings or floats; they are parsed here, once, and
formatted here, once.
"""

from __future__ import annotations

import re

from boveda.errors import BovedaError
from boveda.text import shown

SAT_PER_BTC = 100_000_000  # Bitcoin Core's COIN
MAX_MONEY_SAT = 21_000_000 * SAT_PER_BTC  # Bitcoin Core's MAX_MONEY (amount.h): no amount is larger

_BTC_RE = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]*))?|\.(?P<frac_only>[0-9]+)")


class AmountError(BovedaError):
    """A BTC amount that is not an exact, positive amount of at most 8 decimals."""


def parse_btc(text: str) -> int:
    """Parse a BTC amount such as ``"1.5"`` into satoshis (``150_000_000``), exactly.

    Refuses floats, signs, exponents, digits other than ASCII 0-9, more than 8 decimals, zero, and
    amounts above the 21 million BTC supply, each with a message that names the input (cut short
    when it is long: a 5,000-digit amount is refused without being converted or echoed).
    """
    if not isinstance(text, str):
        raise AmountError(f"amount must be given as text such as '1.5', not {type(text).__name__}")
    cleaned = text.strip()
    match = _BTC_RE.fullmatch(cleaned)
    if match is None:
        raise AmountError(f"not a BTC amount: {shown(text)} (expected digits such as 1.5 or 0.00012345)")
    whole = (match.group("whole") or "0").lstrip("0") or "0"
    frac = match.group("frac") if match.group("frac") is not None else (match.group("frac_only") or "")
    if len(frac) > 8:
        raise AmountError(f"amount {shown(text)} has {len(frac)} decimals; bitcoin has at most 8 (1 sat = 0.00000001)")
    if len(whole) > len(str(MAX_MONEY_SAT // SAT_PER_BTC)):
        raise AmountError(f"amount {shown(text)} exceeds the 21,000,000 BTC supply")
    amount_sat = int(whole) * SAT_PER_BTC + int(frac.ljust(8, "0") or "0")
    if amount_sat <= 0:
        raise AmountError(f"amount {shown(text)} must be positive")
    if amount_sat > MAX_MONEY_SAT:
        raise AmountError(f"amount {shown(text)} exceeds the 21,000,000 BTC supply")
    return amount_sat


def format_btc(amount_sat: int) -> str:
    """Format satoshis as BTC with exactly 8 decimals: ``150_000_000 -> "1.50000000"``."""
    if isinstance(amount_sat, bool) or not isinstance(amount_sat, int):
        raise TypeError(f"amount_sat must be int, not {type(amount_sat).__name__}")
    sign = "-" if amount_sat < 0 else ""
    whole, frac = divmod(abs(amount_sat), SAT_PER_BTC)
    return f"{sign}{whole}.{frac:08d}"
