"""The work list in SQL: one query per section, each capped, with its total from a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, String, cast, func
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from ovc_api.auth.principal import Principal
from ovc_api.care.models import MonitoringVisit, VisitStatus
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.cases.visibility import is_me
from ovc_api.casework.models import CasePlanAction, FollowUp, FollowUpStatus
from ovc_api.children.models import Child
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
        Select(*columns, on.label("on"), *CHILD_NAMES, func.count().over().label("total"))
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


async def _section(session: AsyncSession, statement: Rows, kind: TaskRecord) -> TaskSection:
    rows: list[Any] = list((await session.exec(statement)).all())
    return TaskSection(
        total=rows[0].total if rows else 0,
        items=[
            TaskItem(
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
            for row in rows
        ],
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


async def task_sections(session: AsyncSession, window: Window) -> dict[str, TaskSection]:
    """Every section of the work list, by name (the fields of TaskList)."""
    today, horizon = window.today, window.horizon
    scheduled, due = col(FollowUp.scheduled_on), col(CasePlanAction.due_on)
    visit_due = col(MonitoringVisit.due_on)
    last_contact = func.coalesce(col(Case.last_contact_on), col(Case.opened_on))
    no_contact_since = today - timedelta(days=window.no_contact_days)
    statements = {
        "overdue_follow_ups": (_follow_ups(window, scheduled < today), TaskRecord.follow_up),
        "upcoming_follow_ups": (
            _follow_ups(window, scheduled >= today, scheduled <= horizon),
            TaskRecord.follow_up,
        ),
        "overdue_actions": (_actions(window, due < today), TaskRecord.case_plan_action),
        "upcoming_actions": (
            _actions(window, due >= today, due <= horizon),
            TaskRecord.case_plan_action,
        ),
        "overdue_monitoring_visits": (
            _monitoring(window, visit_due < today),
            TaskRecord.monitoring_visit,
        ),
        "upcoming_monitoring_visits": (
            _monitoring(window, visit_due >= today, visit_due <= horizon),
            TaskRecord.monitoring_visit,
        ),
        "cases_without_contact": (
            _items(
                window,
                Case,
                col(Case.id).label("record_id"),
                col(Case.id).label("case_id"),
                col(Case.risk_level).label("detail"),
                on=last_contact,
                where=[last_contact < no_contact_since],
            ),
            TaskRecord.case,
        ),
    }
    return {
        name: await _section(session, statement, kind)
        for name, (statement, kind) in statements.items()
    }
