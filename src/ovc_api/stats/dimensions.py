"""What statistics can be grouped by, and the SQL that computes each group key.

Group keys are a closed set per endpoint (an unknown one is a 422 naming `group_by`). Period
labels ("2026-03", "2026-Q1", "2026") and age bands are computed by the database, with the
dialect's own date functions, so grouping never needs the rows in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, cast, func, literal_column

from ovc_api.errors import Unprocessable

MAX_GROUP_KEYS = 4


class Period(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


class PeriodOf(StrEnum):
    """Which date of a case the periods (and `from`/`to`) apply to."""

    opened = "opened"
    closed = "closed"


class CaseKey(StrEnum):
    status = "status"
    risk_level = "risk_level"
    concern = "concern"
    province = "province"
    district = "district"
    sex = "sex"
    age_band = "age_band"
    care_arrangement = "care_arrangement"
    referral_source = "referral_source"
    assigned_to = "assigned_to"
    month = "month"
    quarter = "quarter"
    year = "year"


class ServiceKey(StrEnum):
    service_type = "service_type"
    province = "province"
    district = "district"
    month = "month"
    quarter = "quarter"
    year = "year"


PERIODS = frozenset(p.value for p in Period)
# Keys that would single out staff members across organisations: organisation statistics only.
ORGANISATION_ONLY_KEYS = frozenset({CaseKey.assigned_to.value})


def parse_group_by(raw: str | None, allowed: Sequence[str], *, network: bool = False) -> list[str]:
    """`group_by=province,quarter` -> ["province", "quarter"], or a 422 naming `group_by`."""
    if raw is None or not raw.strip():
        return []
    keys = [part.strip() for part in raw.split(",")]
    loc = ["query", "group_by"]
    for key in keys:
        if key not in allowed:
            raise Unprocessable.field(
                loc, f"unknown group key {key[:40]!r}: allowed are {', '.join(allowed)}"
            )
        if network and key in ORGANISATION_ONLY_KEYS:
            raise Unprocessable.field(loc, f"{key} is not available in network statistics")
    if len(set(keys)) != len(keys):
        raise Unprocessable.field(loc, "a group key is repeated")
    if len(keys) > MAX_GROUP_KEYS:
        raise Unprocessable.field(loc, f"at most {MAX_GROUP_KEYS} group keys")
    if len(PERIODS.intersection(keys)) > 1:
        raise Unprocessable.field(loc, "at most one of month, quarter, year")
    return keys


def _const(value: str | int) -> Any:
    """A constant written into the SQL text: PostgreSQL matches GROUP BY expressions textually,
    so grouped expressions must not carry bind parameters."""
    return literal_column(f"'{value}'" if isinstance(value, str) else str(value))


def period_label(
    period: Period | str, column: Any, *, is_postgres: bool, timestamp: bool = False
) -> ColumnElement[str]:
    """ "2026-03" / "2026-Q1" / "2026" of a date (or a UTC timestamp) column."""
    period = Period(period)
    if is_postgres:
        value = func.timezone(_const("UTC"), column) if timestamp else column
        pattern = {"month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}[period]
        return func.to_char(value, _const(pattern), type_=String)
    if period is Period.quarter:
        month = cast(func.strftime(_const("%m"), column), Integer)
        number = case(
            (month <= _const(3), _const("1")),
            (month <= _const(6), _const("2")),
            (month <= _const(9), _const("3")),
            else_=_const("4"),
        )
        return func.strftime(_const("%Y"), column).concat(_const("-Q")).concat(number)
    pattern = "%Y-%m" if period is Period.month else "%Y"
    return func.strftime(_const(pattern), column, type_=String)
