"""A case's history: its status changes and the family-tracing attempts for its child, in
one timeline, oldest first.

A tracing attempt belongs to the case it was recorded on; one recorded for the child on no
case shows in each of the child's cases (tracing is about the child, whichever episode).
Both halves go through the caller's visibility rules; the reading is audited once, as a
read of the case's history (ovc_api.cases.service.history).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, String, Uuid, and_, cast, literal, null, or_, select, union_all
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.care.models import TracingAttempt
from ovc_api.case_history.schemas import CaseHistoryEntry, HistoryKind, TracingEntry
from ovc_api.cases import service as cases
from ovc_api.cases.models import Case, CaseStatusChange
from ovc_api.pagination import Sort, parse_datetime, sort_options
from ovc_api.tenancy import scoped


class _RowSort(Sort):
    """The history's rows are plain rows (no entity first): the cursor reads their columns."""

    def values(self, row: Any) -> list[Any]:
        return [row._mapping[key.name] for key in self.keys]


def _none(type_: Any) -> Any:
    return cast(null(), type_)


def timeline(session: AsyncSession, principal: Principal, case: Case) -> tuple[Any, Sort]:
    """The history's statement and its order (`changed_at`, then id: the cursor of the
    status-change-only history stays valid)."""
    changes = cases.history(session, principal, case).with_only_columns(
        col(CaseStatusChange.id).label("id"),
        literal(HistoryKind.status_change.value, String(16)).label("kind"),
        col(CaseStatusChange.from_status).label("from_status"),
        col(CaseStatusChange.to_status).label("to_status"),
        col(CaseStatusChange.closure_reason).label("closure_reason"),
        col(CaseStatusChange.note).label("note"),
        col(CaseStatusChange.changed_by).label("changed_by"),
        col(CaseStatusChange.approved_by).label("approved_by"),
        col(CaseStatusChange.changed_at).label("changed_at"),
        _none(String(300)).label("sought"),
        _none(String(24)).label("method"),
        _none(Date()).label("attempted_on"),
        _none(String(16)).label("outcome"),
    )
    attempts = scoped(
        select(
            col(TracingAttempt.id).label("id"),
            literal(HistoryKind.tracing_attempt.value, String(16)).label("kind"),
            _none(String(16)).label("from_status"),
            _none(String(16)).label("to_status"),
            _none(String(40)).label("closure_reason"),
            _none(String(2000)).label("note"),
            col(TracingAttempt.recorded_by).label("changed_by"),
            _none(Uuid()).label("approved_by"),
            col(TracingAttempt.created_at).label("changed_at"),
            col(TracingAttempt.sought).label("sought"),
            col(TracingAttempt.method).label("method"),
            col(TracingAttempt.attempted_on).label("attempted_on"),
            col(TracingAttempt.outcome).label("outcome"),
        ),
        principal,
        TracingAttempt,
    ).where(
        or_(
            col(TracingAttempt.case_id) == case.id,
            and_(
                col(TracingAttempt.case_id).is_(None),
                col(TracingAttempt.child_id) == case.child_id,
            ),
        )
    )
    entries = union_all(changes, attempts).subquery("history")
    sort = sort_options(entries.c.id, changed_at=(entries.c.changed_at, parse_datetime))
    oldest_first = sort["changed_at"]
    return select(entries), _RowSort(oldest_first.name, oldest_first.keys, False)


def shown(rows: Any) -> list[CaseHistoryEntry]:
    """A page's rows as history entries (a tracing attempt with its details)."""
    entries = []
    for row in rows:
        data = row._mapping
        tracing = None
        if data["kind"] == HistoryKind.tracing_attempt.value:
            tracing = TracingEntry(
                sought=data["sought"],
                method=data["method"],
                attempted_on=data["attempted_on"],
                outcome=data["outcome"],
            )
        fields = {
            name: data[name] for name in CaseHistoryEntry.model_fields if name not in {"tracing"}
        }
        entries.append(CaseHistoryEntry(**fields, tracing=tracing))
    return entries
