"""Rules shared by every case sub-resource: loading in scope, closed cases, dates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_
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


@dataclass(frozen=True)
class NewRecordRules:
    """What a new record of a case respects: the case is open (409) and its `dates` are not
    before the case opened (422). `check` is the rule; `clause` says the same in SQL, for a
    statement that inserts the record only when it holds (the service then runs `check` on
    the case's columns that statement returns, for the answer)."""

    dates: tuple[str, ...] = ()

    def admissible(self, values: Mapping[str, Any]) -> bool:
        """Whether the rules that do not read the case hold; when not, `check` raises
        whatever the case (the statement is then not tried: see `NewRecord.insert`)."""
        return True

    def check(self, case: Any, values: Mapping[str, Any]) -> None:
        """`case`: the case, or its `status` and `opened_on` as attributes."""
        ensure_open(case)
        not_before_opening(case, **{name: values.get(name) for name in self.dates})

    def clause(self, case: Any, values: Mapping[str, Any]) -> ColumnElement[bool]:
        """`case`: the case's columns (`status`, `opened_on`); `values`: the new row's
        (bind parameters or values). A date left empty is not checked, as by `check`."""
        return and_(
            case.status != CaseStatus.closed.value,
            *(or_(values[name].is_(None), values[name] >= case.opened_on) for name in self.dates),
        )


def location(case: Case, collection: str, record_id: uuid.UUID) -> str:
    return f"{API_V1}/cases/{case.id}/{collection}/{record_id}"
