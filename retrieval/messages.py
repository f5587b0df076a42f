"""The few fixed sentences an answer says, in the reader's language, and dates as it writes them.

One catalog per language, `locales/<code>.po` (gettext's format, read with Babel): each message's
msgid is its English text, so English needs no catalog and a missing translation falls back to
it. Templates keep their `{placeholders}` through translation.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import babel
import babel.dates
from babel.messages.pofile import read_po

from retrieval.text.languages import ENGLISH

LOCALES = Path(__file__).with_name("locales")


def translated(message: str, language: str) -> str:
    """`message` (its English text) in `language`; as it is when the catalog lacks it."""
    return _catalog(language).get(message) or message


def say(message: str, language: str, /, **fields: object) -> str:
    """`message` translated, its placeholders filled in."""
    return translated(message, language).format(**fields)


def long_date(day: date, language: str) -> str:
    """A day as the language writes it in prose: "25 October 2021", "25 октября 2021 г."."""
    if language != ENGLISH:
        try:
            return babel.dates.format_date(day, "long", locale=language)
        except (ValueError, babel.UnknownLocaleError):
            pass
    return f"{day.day} {day:%B %Y}"  # day first, as the archive's own story files write it


def languages_translated() -> list[str]:
    """The languages with a catalog."""
    return sorted(path.stem for path in LOCALES.glob("*.po"))


@lru_cache(maxsize=None)
def _catalog(language: str) -> dict[str, str]:
    path = LOCALES / f"{language}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        catalog = read_po(file)
    return {message.id: message.string for message in catalog if message.id and message.string}
