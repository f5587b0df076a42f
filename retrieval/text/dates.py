"""Names of dates in words: what both a story file's date line and a question's "in October 2021"
read, and the month names of other languages and calendars ("в сентябре 2023", "تیر ۱۴۰۳")."""

from __future__ import annotations

import calendar as pycalendar
import itertools
from datetime import date, timedelta
from functools import lru_cache

import babel
import babel.dates
import jdatetime

MONTHS = {  # month name or abbreviation -> its number
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        start=1,
    )
    for name in names
}

GREGORIAN, SOLAR_HIJRI = "gregorian", "solar hijri"
_LOCALES = {"ar": ("ar", "ar_SY")}
"""Locales whose month names a language's readers use besides its own: Arabic's Levantine
names (أيلول for September) beside the Egyptian and Gulf ones (سبتمبر)."""


@lru_cache(maxsize=None)
def month_names(code: str) -> tuple[tuple[str, int, str], ...]:
    """The names of the months in language `code`, as (name, number, calendar): Babel's (wide
    and abbreviated, in a date and standing alone), and in Persian the Solar Hijri calendar's
    (jdatetime's), which Iranian news dates by."""
    names: dict[str, tuple[int, str]] = {}
    for locale in _LOCALES.get(code, (code,)):
        for width, context in itertools.product(("wide", "abbreviated"), ("format", "stand-alone")):
            try:
                found = babel.dates.get_month_names(width, context, locale)
            except (ValueError, babel.UnknownLocaleError):
                return ()
            names.update((name.rstrip("."), (number, GREGORIAN)) for number, name in found.items())
    if code == "fa":
        names.update((name, (number, SOLAR_HIJRI)) for number, name in enumerate(jdatetime.date.j_months_fa, 1))
    return tuple((name, number, calendar) for name, (number, calendar) in names.items())


@lru_cache(maxsize=None)
def calendar_names(code: str) -> frozenset[str]:
    """The names of the months and weekdays in language `code` (Babel's, wide and abbreviated;
    English's also as stories abbreviate them), case-folded."""
    names = {name for name, _, _ in month_names(code)} | (set(MONTHS) if code == "en" else set())
    for width in ("wide", "abbreviated"):
        try:
            names.update(babel.dates.get_day_names(width, locale=code).values())
        except (ValueError, babel.UnknownLocaleError):
            break
    return frozenset(name.casefold() for name in names)


def month_span(year: int, month: int, calendar: str) -> tuple[date, date]:
    """The first and last day (Gregorian) of a month of `calendar`."""
    if calendar == SOLAR_HIJRI:
        first = jdatetime.date(year, month, 1).togregorian()
        after = jdatetime.date(year + month // 12, month % 12 + 1, 1).togregorian()
        return first, after - timedelta(days=1)
    return date(year, month, 1), date(year, month, pycalendar.monthrange(year, month)[1])
