"""A child's age and age band: one definition in Python, and its SQL twin.

Exports band ages row by row in Python; statistics group by the band in the database. Both
must agree for every date (birthdays counted exactly, leap days included), so the two live
here side by side and a test compares them over many dates on SQLite and PostgreSQL.
A missing birth date, or one after the day the age is taken on, has no age: band `unknown`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal_column


class AgeBand(StrEnum):
    """The child's age in whole years on a given day, as a band (`unknown`: no date of birth,
    or one after that day)."""

    age_0_4 = "0-4"
    age_5_9 = "5-9"
    age_10_14 = "10-14"
    age_15_17 = "15-17"
    age_18_plus = "18+"
    unknown = "unknown"


# Upper bounds (exclusive) of each band but the last, youngest first.
_BANDS: tuple[tuple[int, AgeBand], ...] = (
    (5, AgeBand.age_0_4),
    (10, AgeBand.age_5_9),
    (15, AgeBand.age_10_14),
    (18, AgeBand.age_15_17),
)


def age_on(born: date | None, on: date) -> int | None:
    """Completed years on `on` (None without a birth date, or with one after `on`)."""
    if born is None or born > on:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_band(born: date | None, on: date) -> AgeBand:
    """The band of the age on `on`; `age_band_sql` is the same in SQL."""
    age = age_on(born, on)
    if age is None:
        return AgeBand.unknown
    for bound, band in _BANDS:
        if age < bound:
            return band
    return AgeBand.age_18_plus


def _const(value: str | int) -> Any:
    """A constant written into the SQL text: PostgreSQL matches GROUP BY expressions textually,
    so grouped expressions must not carry bind parameters."""
    return literal_column(f"'{value}'" if isinstance(value, str) else str(value))


def age_in_years_sql(born: Any, on: Any, *, is_postgres: bool) -> ColumnElement[int]:
    """`age_on` in SQL for a birth date not after `on` (the caller handles the others)."""
    if is_postgres:
        return cast(func.date_part(_const("year"), func.age(on, born)), Integer)
    year = cast(func.strftime(_const("%Y"), on), Integer) - cast(
        func.strftime(_const("%Y"), born), Integer
    )
    before_birthday = func.strftime(_const("%m-%d"), on) < func.strftime(_const("%m-%d"), born)
    return year - cast(before_birthday, Integer)


def age_band_sql(born: Any, on: Any, *, is_postgres: bool) -> ColumnElement[str]:
    """`age_band` computed by the database, for grouping without the rows in Python."""
    age = age_in_years_sql(born, on, is_postgres=is_postgres)
    return case(
        (born.is_(None), _const(AgeBand.unknown.value)),
        (born > on, _const(AgeBand.unknown.value)),
        *((age < _const(bound), _const(band.value)) for bound, band in _BANDS),
        else_=_const(AgeBand.age_18_plus.value),
    )


def age_band_of_years_sql(age: Any) -> ColumnElement[str]:
    """`age_band_sql` of an age computed already (`age_in_years_sql`, NULL where the birth
    date is missing or after the date: the unknown band), as `case_facts.age_years` holds."""
    return case(
        (age.is_(None), _const(AgeBand.unknown.value)),
        *((age < _const(bound), _const(band.value)) for bound, band in _BANDS),
        else_=_const(AgeBand.age_18_plus.value),
    )
