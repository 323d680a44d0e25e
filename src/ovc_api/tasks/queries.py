"""The work list in SQL: one query per section, each capped, with its total from a window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    union_all,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from ovc_api.audit.service import audit_binds, audited_rows, ids_in_order
from ovc_api.auth.principal import Principal
from ovc_api.care.models import MonitoringVisit, VisitStatus
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.cases.visibility import is_me
from ovc_api.casework.models import CasePlanAction, FollowUp, FollowUpStatus
from ovc_api.children.models import Child
from ovc_api.prepared import built, caller_shape, caller_values, stand_in
from ovc_api.tasks.schemas import TaskItem, TaskRecord, TaskSection
from ovc_api.tenancy import scoped

SECTION_LIMIT = 200
Rows: TypeAlias = "Select[*tuple[Any, ...]]"
CHILD_NAMES = (
    col(Child.given_name_latin),
    col(Child.family_name_latin),
    col(Child.given_name_khmer),
    col(Child.family_name_khmer),
)


@dataclass(frozen=True)
class Window:
    """Which cases (the caller's, or the organisation's open ones) and which dates."""

    principal: Principal
    mine: bool
    today: date
    days_ahead: int
    no_contact_days: int

    @property
    def horizon(self) -> date:
        return self.today + timedelta(days=self.days_ahead)


def display_name(
    given_latin: str | None,
    family_latin: str | None,
    given_khmer: str | None,
    family_khmer: str | None,
) -> str | None:
    """Given and family name in Latin script when recorded, else in Khmer."""
    latin = " ".join(p for p in (given_latin, family_latin) if p)
    khmer = " ".join(p for p in (given_khmer, family_khmer) if p)
    if given_latin or not given_khmer:
        return latin or khmer or None
    return khmer


def _items(
    window: Window,
    record: Any,
    *columns: Any,
    on: Any,
    where: list[ColumnElement[bool]],
) -> Rows:
    """Rows of `record` (or cases) in the window's open cases, earliest first, with a total."""
    statement: Rows = (
        Select(
            *columns,
            on.label("on"),
            *CHILD_NAMES,
            func.count().over().label("total"),
            func.row_number().over(order_by=(on, columns[0])).label("position"),
        )
        .select_from(Case)
        .join(Child, col(Child.id) == col(Case.child_id))
    )
    if record is not Case:
        statement = scoped(
            statement.join(record, record.case_id == Case.id), window.principal, record
        )
    if window.mine:
        statement = statement.where(is_me(col(Case.assigned_to), window.principal))
    return (
        scoped(statement, window.principal, Case)
        .where(col(Case.status) != CaseStatus.closed.value, *where)
        .order_by(on, columns[0])
        .limit(SECTION_LIMIT)
    )


def _item(row: Any, kind: TaskRecord) -> TaskItem:
    return TaskItem(
        case_id=row.case_id,
        child_name=display_name(
            row.given_name_latin,
            row.family_name_latin,
            row.given_name_khmer,
            row.family_name_khmer,
        ),
        on=row.on,
        record_type=kind,
        record_id=row.record_id,
        detail=row.detail,
    )


def _follow_ups(window: Window, *where: ColumnElement[bool]) -> Rows:
    return _items(
        window,
        FollowUp,
        col(FollowUp.id).label("record_id"),
        col(FollowUp.case_id).label("case_id"),
        col(FollowUp.kind).label("detail"),
        on=col(FollowUp.scheduled_on),
        where=[col(FollowUp.status) == FollowUpStatus.scheduled.value, *where],
    )


def _actions(window: Window, *where: ColumnElement[bool]) -> Rows:
    return _items(
        window,
        CasePlanAction,
        col(CasePlanAction.id).label("record_id"),
        col(CasePlanAction.case_id).label("case_id"),
        col(CasePlanAction.description).label("detail"),
        on=col(CasePlanAction.due_on),
        where=[col(CasePlanAction.done_on).is_(None), *where],
    )


def _monitoring(window: Window, *where: ColumnElement[bool]) -> Rows:
    return _items(
        window,
        MonitoringVisit,
        col(MonitoringVisit.id).label("record_id"),
        col(MonitoringVisit.case_id).label("case_id"),
        cast(col(MonitoringVisit.months_after_move), String).label("detail"),
        on=col(MonitoringVisit.due_on),
        where=[col(MonitoringVisit.status) == VisitStatus.scheduled.value, *where],
    )


def _statements(window: Window, today: Any, horizon: Any, silent_since: Any) -> list[Rows]:
    """Each section's statement, in `SECTIONS` order: `today`, `horizon` (today + days
    ahead) and `silent_since` (no contact since) are dates or bind parameters."""
    scheduled, due = col(FollowUp.scheduled_on), col(CasePlanAction.due_on)
    visit_due = col(MonitoringVisit.due_on)
    last_contact = func.coalesce(col(Case.last_contact_on), col(Case.opened_on))
    return [
        _follow_ups(window, scheduled < today),
        _follow_ups(window, scheduled >= today, scheduled <= horizon),
        _actions(window, due < today),
        _actions(window, due >= today, due <= horizon),
        _monitoring(window, visit_due < today),
        _monitoring(window, visit_due >= today, visit_due <= horizon),
        _items(
            window,
            Case,
            col(Case.id).label("record_id"),
            col(Case.id).label("case_id"),
            col(Case.risk_level).label("detail"),
            on=last_contact,
            where=[last_contact < silent_since],
        ),
    ]


# The sections of the work list (fields of TaskList), in order, and what their items are.
SECTIONS = (
    ("overdue_follow_ups", TaskRecord.follow_up),
    ("upcoming_follow_ups", TaskRecord.follow_up),
    ("overdue_actions", TaskRecord.case_plan_action),
    ("upcoming_actions", TaskRecord.case_plan_action),
    ("overdue_monitoring_visits", TaskRecord.monitoring_visit),
    ("upcoming_monitoring_visits", TaskRecord.monitoring_visit),
    ("cases_without_contact", TaskRecord.case),
)
TODAY = bindparam("tasks_today", type_=Date())
HORIZON = bindparam("tasks_horizon", type_=Date())
SILENT_SINCE = bindparam("tasks_silent_since", type_=Date())


def work_rows(window: Window, audit: dict[str, Any]) -> Any:
    """Every section's rows in one statement, each with its section's number and its
    position in the section, in that order. With `audit` (PostgreSQL: the columns of the
    read's audit row, `audit_binds`), the same statement writes that row, naming the
    listed cases in order of first appearance (what `record_read` is given otherwise)."""
    sections = _statements(window, TODAY, HORIZON, SILENT_SINCE)
    branches: list[Any] = []
    for number, statement in enumerate(sections):
        section = statement.subquery(f"section_{number}")
        branches.append(Select(literal_column(str(number), Integer).label("section"), *section.c))
    rows: Any = union_all(*branches)
    if not audit:
        listed = rows.subquery("work")
        return Select(listed).order_by(listed.c.section, listed.c.position)

    def cases_listed(found: Any) -> Any:
        # Positions within a section are at most SECTION_LIMIT (200): section * 1000 orders.
        first = func.min(found.c.section * 1000 + found.c.position).label("first")
        firsts = Select(found.c.case_id, first).group_by(found.c.case_id).subquery("firsts")
        return Select(ids_in_order(firsts.c.case_id, firsts.c.first))

    audited = audited_rows(rows, cases_listed, audit)
    columns = audited.selected_columns
    return audited.order_by(columns.section, columns.position)


async def task_sections(
    session: AsyncSession, window: Window, *, audit: dict[str, Any]
) -> dict[str, TaskSection]:
    """Every section of the work list, by name (the fields of TaskList), from one statement
    built once per shape (`ovc_api.prepared`); `audit`: see `work_rows`."""
    principal = window.principal
    binds, params = audit_binds(audit)
    params.update(caller_values(principal))
    params.update(
        {
            TODAY.key: window.today,
            HORIZON.key: window.horizon,
            SILENT_SINCE.key: window.today - timedelta(days=window.no_contact_days),
        }
    )
    key = ("tasks", window.mine, caller_shape(principal), *binds)
    statement = built(key, lambda: work_rows(replace(window, principal=stand_in(principal)), binds))
    connection = await session.connection()
    found: list[list[Any]] = [[] for _ in SECTIONS]
    for row in await connection.execute(statement, params):
        found[row.section].append(row)
    return {
        name: TaskSection(
            total=rows[0].total if rows else 0, items=[_item(row, kind) for row in rows]
        )
        for (name, kind), rows in zip(SECTIONS, found, strict=True)
    }
