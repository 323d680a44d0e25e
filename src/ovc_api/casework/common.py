"""Rules shared by every case sub-resource: loading in scope, closed cases, dates."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import API_V1
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.errors import Conflict, NotFound, Unprocessable
from ovc_api.tenancy import scoped

SubRecord = TypeVar("SubRecord")


async def in_case(
    session: AsyncSession,
    principal: Principal,
    model: type[SubRecord],
    case: Case,
    record_id: uuid.UUID,
) -> SubRecord:
    """A sub-resource of this case; another case's (or organisation's) id answers 404."""
    table: Any = model
    statement = scoped(select(table), principal, table).where(
        col(table.case_id) == case.id, col(table.id) == record_id
    )
    found = (await session.exec(statement)).first()
    if found is None:
        raise NotFound()
    return found  # type: ignore[no-any-return]


def ensure_open(case: Case) -> None:
    """A closed case's record is final: reopen the case before adding or correcting anything."""
    if case.status == CaseStatus.closed.value:
        raise Conflict("the case is closed")


def not_before_opening(case: Case, **dates: date | None) -> None:
    """Nothing happens in a case before it was opened."""
    for field, value in dates.items():
        if value is not None and value < case.opened_on:
            raise Unprocessable.field(
                ["body", field], f"cannot be before the case opened ({case.opened_on.isoformat()})"
            )


def location(case: Case, collection: str, record_id: uuid.UUID) -> str:
    return f"{API_V1}/cases/{case.id}/{collection}/{record_id}"
