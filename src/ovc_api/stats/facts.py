"""`case_facts` (migration 0014, PostgreSQL only): one narrow row per case, kept by triggers.

The case statistics' fast statements read it instead of joining cases, children and
concerns; `child_sole` and `case_sole` say that no other row carries the row's child key
(then its child has this case only) or its case key, so distinct counts need a sort only
over the other rows (see ovc_api.stats.engine.aggregate). It is not a model: the
application never writes it, and SQLite (no triggers of this kind) has no such table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table, Uuid, func, true
from sqlalchemy.dialects.postgresql import ARRAY

TABLE = "case_facts"

facts_table = Table(
    TABLE,
    MetaData(),
    Column("case_id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("risk_level", String(16), nullable=False),
    Column("referral_source", String(32), nullable=False),
    Column("assigned_to", Uuid),
    Column("closure_reason", String(40)),
    Column("opened_on", Date, nullable=False),
    Column("opened_month", Integer, nullable=False),
    Column("closed_on", Date),
    Column("closed_month", Integer),
    Column("province", String(32), nullable=False),
    Column("district", String(100)),
    Column("sex", String(16), nullable=False),
    Column("care_arrangement", String(24), nullable=False),
    Column("date_of_birth", Date),
    Column("age_years", Integer),
    Column("concerns", ARRAY(String(40)), nullable=False),
    Column("case_key", Integer, nullable=False),
    Column("child_key", Integer, nullable=False),
    Column("child_sole", Boolean, nullable=False),
    Column("case_sole", Boolean, nullable=False),
)


class CaseFacts:
    """The table's columns as attributes, for scope rules written against models
    (`model.organisation_id`)."""

    organisation_id = facts_table.c.organisation_id


def with_concerns() -> tuple[Any, Any]:
    """`case_facts` joined to its rows' concerns (one row per case and concern, as the join
    of `case_concerns` whose key is the pair), and the concern column."""
    unnested = (
        func.unnest(facts_table.c.concerns)
        .table_valued("concern")
        .render_derived(name="case_concern", with_types=False)
    )
    return facts_table.join(unnested, true()), unnested.c.concern
