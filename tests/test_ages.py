"""The age band in Python (exports) and in SQL (statistics) agree on every date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Column, Date, Integer, MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from ovc_api.ages import AgeBand, age_band, age_band_sql, age_on

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def _pairs() -> list[tuple[date | None, date]]:
    """Birth dates around every band boundary, leap days, future and missing ones."""
    days_on = [
        date(2026, 3, 1),
        date(2026, 2, 28),
        date(2028, 2, 28),
        date(2028, 2, 29),
        date(2028, 3, 1),
        date(2025, 12, 31),
        date(2026, 1, 1),
    ]
    pairs: list[tuple[date | None, date]] = []
    for on in days_on:
        pairs.append((None, on))
        for years in (0, 1, 4, 5, 9, 10, 14, 15, 17, 18, 19, 40):
            try:
                anniversary = on.replace(year=on.year - years)
            except ValueError:  # 29 February in a common year
                anniversary = date(on.year - years, 2, 28)
            for shift in (-2, -1, 0, 1, 2):
                pairs.append((anniversary + timedelta(days=shift), on))
        for leap_born in (date(2012, 2, 29), date(2016, 2, 29), date(2020, 2, 29)):
            pairs.append((leap_born, on))
        pairs.append((on + timedelta(days=1), on))  # born tomorrow: no age
        pairs.append((on + timedelta(days=400), on))
    # Every day of two years, for a child born on a leap day and one born on 1 March.
    start = date(2027, 1, 1)
    for offset in range(0, 731, 1):
        on = start + timedelta(days=offset)
        pairs.append((date(2012, 2, 29), on))
        pairs.append((date(2010, 3, 1), on))
        pairs.append((date(2009, 2, 28), on))
    return pairs


def test_python_age_band_boundaries() -> None:
    on = date(2026, 6, 15)
    assert age_band(None, on) is AgeBand.unknown
    assert age_band(date(2026, 6, 16), on) is AgeBand.unknown
    assert age_band(date(2026, 6, 15), on) is AgeBand.age_0_4
    assert age_band(date(2021, 6, 16), on) is AgeBand.age_0_4
    assert age_band(date(2021, 6, 15), on) is AgeBand.age_5_9
    assert age_band(date(2011, 6, 15), on) is AgeBand.age_15_17
    assert age_band(date(2008, 6, 16), on) is AgeBand.age_15_17
    assert age_band(date(2008, 6, 15), on) is AgeBand.age_18_plus
    assert age_on(date(2012, 2, 29), date(2030, 2, 28)) == 17
    assert age_on(date(2012, 2, 29), date(2030, 3, 1)) == 18
    assert age_on(date(2030, 3, 2), date(2030, 3, 1)) is None


async def test_sql_age_band_matches_python(test_database: TestDatabase) -> None:
    pairs = _pairs()
    table = Table(
        "age_band_dates",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("born", Date),
        Column("on_day", Date, nullable=False),
        prefixes=["TEMPORARY"],
    )
    statement = select(
        table.c.n,
        age_band_sql(table.c.born, table.c.on_day, is_postgres=test_database.is_postgres),
    ).order_by(table.c.n)
    engine = create_async_engine(test_database.owner_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(table.create)
            await connection.execute(
                insert(table),
                [{"n": n, "born": born, "on_day": on} for n, (born, on) in enumerate(pairs)],
            )
            rows = (await connection.execute(statement)).all()
            await connection.rollback()
    finally:
        await engine.dispose()
    assert len(rows) == len(pairs)
    mismatches = [
        (born, on, band, age_band(born, on).value)
        for (born, on), (_, band) in zip(pairs, rows, strict=True)
        if band != age_band(born, on).value
    ]
    assert mismatches == []
