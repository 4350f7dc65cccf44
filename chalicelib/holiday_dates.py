"""Public holidays by country and subdivision, from the `holidays` library.

Calendars resolve their holidays into plain dates when the configuration is loaded, so only this
module touches the library, and only inside its functions: the capture path never imports it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: importing the library at run time is what this module avoids
    from holidays import HolidayBase


def holiday_dates(code: str, first_year: int, last_year: int) -> frozenset[date]:
    """The public holidays (observed days included) of `code`, e.g. "US-CA", over the years."""
    if first_year > last_year:
        raise ValueError(f"holiday years run backwards: {first_year} to {last_year}")
    return frozenset(_holidays(code, range(first_year, last_year + 1)))


def holiday_names(code: str, year: int) -> dict[date, str]:
    """Each public holiday of `code` in `year`, with its name."""
    return dict(sorted(_holidays(code, range(year, year + 1)).items()))


def _holidays(code: str, years: range) -> HolidayBase:
    import holidays  # the library is large; only configuration loading pays for it

    country, _, subdivision = code.strip().upper().partition("-")
    if not country:
        raise ValueError(f"unknown holiday code {code!r}: a country code such as US is needed")
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None, years=years)
    except NotImplementedError as error:
        # The library says "Country XX not available" or names the missing subdivision.
        raise ValueError(f"unknown holiday code {code!r}: {error}") from None
