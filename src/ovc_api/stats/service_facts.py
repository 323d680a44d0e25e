"""`service_facts` (migration 0015, PostgreSQL only): one narrow row per service delivered.

Beside the delivery's grouping columns it holds, per set of the grouping keys type (t),
province (p) and district (d), the date of the previous delivery to the same child
(`child_prev_<set>`) and family (`family_prev_<set>`) by the same organisation with the same
values of those keys: NULL if none, 'infinity' if the row has no child (family). A row is
its child's first in a cell grouped by the set's keys (and a period) under a range from
`from` exactly when that date is NULL or before the later of `from` and the start of the
row's period; `child_shared` / `family_shared` name the rows for which this does not hold
(a child served by several organisations, or a record key two children share), counted
the sorting way. See ovc_api.stats.engine.fast_service_cube. Not a model: the application
never writes it, and SQLite has no such table.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
)

TABLE = "service_facts"
# The sets of grouping keys with previous dates, in the order of their columns' names.
SET_KEYS = ("service_type", "province", "district")
SET_LETTERS = {"service_type": "t", "province": "p", "district": "d"}
SETS = ("_", "t", "p", "d", "tp", "td", "pd", "tpd")
# Each period's first day, a column (grouped by, then labelled as period_label() writes).
PERIOD_STARTS = {"month": "month_start", "quarter": "quarter_start", "year": "year_start"}

service_facts_table = Table(
    TABLE,
    MetaData(),
    Column("service_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("child_id", Uuid),
    Column("family_id", Uuid),
    Column("delivered_on", Date, nullable=False),
    Column("month_start", Date, nullable=False),
    Column("quarter_start", Date, nullable=False),
    Column("year_start", Date, nullable=False),
    Column("service_key", Integer, nullable=False),
    Column("child_key", Integer),
    Column("family_key", Integer),
    Column("child_shared", Boolean, nullable=False),
    Column("family_shared", Boolean, nullable=False),
    *[Column(f"{who}_prev_{name}", Date) for who in ("child", "family") for name in SETS],
    Column("service_type", String(40), nullable=False),
    Column("province", String(32), nullable=False),
    Column("district", String(100)),
    # Migration 0018: the cases of the row's organisation on the day of the delivery, for
    # its child and its family (COVERED, CASELESS, or 0: neither known, look it up).
    Column("child_cover", SmallInteger, nullable=False),
    Column("family_cover", SmallInteger, nullable=False),
)
# The values of child_cover / family_cover other than 0.
COVERED = 1  # a case of the child (family) was open on the day of the delivery
CASELESS = 2  # the child (family) has no case of the organisation at all


class ServiceFacts:
    """The table's columns as attributes, for scope rules written against models."""

    organisation_id = service_facts_table.c.organisation_id


def set_of(keys: set[str] | frozenset[str]) -> str:
    """The name of the set of grouping keys among `keys` ("_" for none)."""
    return "".join(SET_LETTERS[k] for k in SET_KEYS if k in keys) or "_"


# `service_summary` (migration 0015): service_facts summed per organisation, type, province
# and quarter, as rows of changes (a cell is the sum of its rows). Per child (family) and
# set of the keys type and province, the first rows of the three conditions network
# statistics need: the previous delivery before the row's quarter (q), before its year (y),
# or none at all (a); and the key sums of the same rows.
SUMMARY_SETS = ("_", "t", "p", "tp")
MODES = ("q", "y", "a")
SUMMARY_KEYS = ("service_type", "province", "organisation_kind", "quarter", "year")

service_summary_table = Table(
    "service_summary",
    MetaData(),
    Column("organisation_id", Uuid, nullable=False),
    Column("service_type", String(40), nullable=False),
    Column("province", String(32), nullable=False),
    Column("quarter_start", Date, nullable=False),
    Column("year_start", Date, nullable=False),
    Column("services", Integer, nullable=False),
    Column("service_key", Integer, nullable=False),
    *[
        Column(f"{who}_{name}_{mode}{suffix}", Integer, nullable=False)
        for who in ("child", "family")
        for name in SUMMARY_SETS
        for mode in MODES
        for suffix in ("", "_key")
    ],
)


class ServiceSummary:
    """The summary's columns as attributes, for scope rules written against models."""

    organisation_id = service_summary_table.c.organisation_id
