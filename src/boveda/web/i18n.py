"""The site's languages: English and Spanish, chosen by ``?lang=`` or the browser's Accept-Language.

Text is written in English in the templates and looked up in ``messages_es.toml`` for Spanish;
numbers and dates follow the locale's own conventions (CLDR, through Babel: ``6,126.49985990`` in
English and in El Salvador's Spanish, ``6.126,49985990`` in Spain's). BTC always has 8 decimals.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import parse_pattern

LANGUAGES = ("en", "es")
DEFAULT = "en"
_TAG = re.compile(r"([A-Za-z]{2})(?:[-_]([A-Za-z]{2}|419))?")
_CATALOG = Path(__file__).with_name("messages_es.toml")


class LanguageError(ValueError):
    """A ``?lang=`` the site does not speak."""


@functools.cache
def catalog(language: str) -> dict[str, str]:
    if language == "en":
        return {}
    with open(_CATALOG, "rb") as handle:
        return tomllib.load(handle)


@dataclass(frozen=True, slots=True)
class Lang:
    """One reader's language: ``code`` for text (en, es), ``tag`` for formats and ``<html lang>``."""

    code: str
    tag: str

    @property
    def locale(self) -> Locale:
        return _locale(self.tag)

    def _(self, text: str) -> str:
        """`text` in this language (English text is its own translation)."""
        return catalog(self.code).get(text, text)

    def btc(self, amount_sat: int, *, signed: bool = False) -> str:
        """Satoshis as BTC with exactly 8 decimals, grouped as the locale groups."""
        text = _btc_pattern().apply(Decimal(abs(amount_sat)).scaleb(-8), self.locale)
        if amount_sat < 0:
            return "−" + text
        return ("+" + text) if signed and amount_sat > 0 else text

    def integer(self, value: int) -> str:
        return _integer_pattern().apply(value, self.locale)

    def day(self, value: date | None) -> str:
        return "" if value is None else format_date(value, format="medium", locale=self.locale)

    def long_day(self, value: date | None) -> str:
        return "" if value is None else format_date(value, format="long", locale=self.locale)

    def percent(self, part: int, whole: int) -> str:
        if whole <= 0:
            return ""
        return _percent_pattern().apply(Decimal(part) / Decimal(whole), self.locale)


@functools.cache
def _locale(tag: str) -> Locale:
    return Locale.parse(tag.replace("-", "_"))


@functools.cache
def _btc_pattern():
    return parse_pattern("#,##0.00000000")


@functools.cache
def _integer_pattern():
    return parse_pattern("#,##0")


@functools.cache
def _percent_pattern():
    return parse_pattern("#,##0.0%")


@functools.cache
def language(tag: str) -> Lang:
    """The Lang of a tag such as ``es``, ``es-SV`` or ``en_GB``; LanguageError for any other language
    or an unknown region."""
    match = _TAG.fullmatch(tag.strip())
    if match is None or match.group(1).lower() not in LANGUAGES:
        raise LanguageError(f"lang {tag!r} is not offered: use one of {', '.join(LANGUAGES)} (e.g. es or es-SV)")
    code = match.group(1).lower()
    region = match.group(2)
    if region is None:
        return Lang(code, code)
    full = f"{code}-{region.upper()}"
    try:
        _locale(full)
    except (UnknownLocaleError, ValueError):
        raise LanguageError(f"lang {tag!r}: no such region for {code}") from None
    return Lang(code, full)


def negotiate(accept_language: str | None) -> Lang:
    """The best offered language of an Accept-Language header (by q, then order); English otherwise."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        try:
            lang = language(tag)
        except LanguageError:
            continue
        if quality > 0 and (best is None or (quality, -position) > (best[0], -best[1])):
            best = (quality, position, lang)
    return best[2] if best else language(DEFAULT)
