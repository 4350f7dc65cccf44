"""Public holidays resolved into plain dates by country and subdivision."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from chalicelib.holiday_dates import holiday_dates, holiday_names


def test_us_2026_includes_christmas_and_the_observed_fourth_of_july() -> None:
    us = holiday_dates("US", 2026, 2026)
    assert date(2026, 12, 25) in us
    # July 4th 2026 is a Saturday; the library lists the Friday before as observed.
    assert {date(2026, 7, 3), date(2026, 7, 4)} <= us
    assert date(2026, 7, 6) not in us


def test_years_are_inclusive_at_both_ends() -> None:
    both = holiday_dates("US", 2026, 2027)
    assert date(2026, 1, 1) in both
    assert date(2027, 12, 25) in both
    assert date(2028, 1, 1) not in both


def test_subdivision_has_its_own_holidays_on_top_of_the_federal_ones() -> None:
    us = holiday_dates("US", 2026, 2026)
    california = holiday_dates("US-CA", 2026, 2026)
    assert holiday_names("US-CA", 2026)[date(2026, 3, 31)] == "Cesar Chavez Day"
    assert date(2026, 3, 31) not in us
    assert {date(2026, 1, 1), date(2026, 7, 3), date(2026, 12, 25)} <= california
    # The library follows state law: California does not observe Columbus Day.
    assert date(2026, 10, 12) in us
    assert date(2026, 10, 12) not in california


def test_scotland_has_saint_andrews_day_and_england_does_not() -> None:
    assert date(2026, 11, 30) in holiday_dates("GB-SCT", 2026, 2026)
    assert date(2026, 11, 30) not in holiday_dates("GB-ENG", 2026, 2026)


def test_codes_are_read_case_insensitively() -> None:
    assert holiday_dates("us-ca", 2026, 2026) == holiday_dates("US-CA", 2026, 2026)


def test_holiday_names_are_in_date_order() -> None:
    names = holiday_names("US", 2026)
    assert list(names) == sorted(names)
    assert names[date(2026, 12, 25)] == "Christmas Day"


@pytest.mark.parametrize("code", ["XX", "US-ZZ", "", "-CA"])
def test_unknown_code_is_refused_naming_the_code(code: str) -> None:
    with pytest.raises(ValueError, match=f"unknown holiday code {code!r}"):
        holiday_dates(code, 2026, 2026)


def test_backward_year_range_is_refused() -> None:
    with pytest.raises(ValueError, match="backwards"):
        holiday_dates("US", 2027, 2026)


def test_importing_the_module_does_not_import_the_holidays_library() -> None:
    # A fresh interpreter: this test process may have imported the library already.
    probe = "import sys, chalicelib.holiday_dates; print('holidays' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
