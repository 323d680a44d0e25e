"""Group service events: one distribution or campaign, many deliveries. Each row becomes a
normal service record (with its own audit event) or a per-row error; a row naming another
organisation's child, case or family reads exactly like a missing one.

Never commits, knows nothing of HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.children.models import Child
from ovc_api.errors import ProblemError
from ovc_api.families.models import Family
from ovc_api.services import service
from ovc_api.services.group_schemas import GroupEvent, GroupRow, RowResult
from ovc_api.services.models import ServiceDelivery
from ovc_api.services.schemas import ServiceCreate
from ovc_api.tenancy import get_visible, scoped

NOT_FOUND = "not found"


async def _open_case_of(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID
) -> Case | None:
    statement = (
        scoped(select(Case), principal, Case)
        .where(col(Case.child_id) == child_id, col(Case.status) != CaseStatus.closed.value)
        .order_by(col(Case.opened_on).desc())
    )
    return (await session.exec(statement)).first()


async def _deliver(
    session: AsyncSession, principal: Principal, event: GroupEvent, row: GroupRow
) -> ServiceDelivery | None:
    """One row's delivery, or None when what it names is not the caller's to see."""
    shared: dict[str, Any] = event.model_dump(exclude={"rows"})
    if row.quantity is not None:
        shared["quantity"] = row.quantity
    if row.notes is not None:
        shared["notes"] = row.notes
    if row.case_id is not None:
        if await get_visible(session, principal, Case, row.case_id) is None:
            return None
        return await service.record_delivery(
            session, principal, ServiceCreate(**shared, case_id=row.case_id)
        )
    if row.family_id is not None:
        if await get_visible(session, principal, Family, row.family_id) is None:
            return None
        return await service.record_delivery(
            session, principal, ServiceCreate(**shared, family_id=row.family_id)
        )
    assert row.child_id is not None
    child = await get_visible(session, principal, Child, row.child_id)
    if child is None:
        return None
    case = await _open_case_of(session, principal, child.id)
    if case is not None:
        return await service.record_delivery(
            session, principal, ServiceCreate(**shared, case_id=case.id)
        )
    return await service.record_child_delivery(session, principal, child, shared)


async def record_group_event(
    session: AsyncSession, principal: Principal, event: GroupEvent
) -> list[RowResult]:
    """Every row in its own savepoint: a failing row leaves the others recorded."""
    results: list[RowResult] = []
    for index, row in enumerate(event.rows):
        try:
            async with session.begin_nested():
                delivery = await _deliver(session, principal, event, row)
                if delivery is None:
                    results.append(RowResult(index=index, status=404, detail=NOT_FOUND))
                    continue
        except ProblemError as problem:
            results.append(
                RowResult(
                    index=index,
                    status=problem.status,
                    detail=problem.detail,
                    errors=problem.errors,
                )
            )
            continue
        results.append(RowResult(index=index, status=201, service_id=delivery.id))
    return results
