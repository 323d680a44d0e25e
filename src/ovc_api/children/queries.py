"""Finding likely duplicates before a child is recorded twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.children.models import Child
from ovc_api.children.schemas import ChildCreate
from ovc_api.tenancy import scoped
from ovc_api.text import search_pattern

MAX_CANDIDATES = 5


def _name_match(given: str | None, family: str | None) -> Any:
    parts = [p for p in (given, family) if p]
    if not parts:
        return None
    return and_(*(col(Child.search_text).like(search_pattern(p), escape="\\") for p in parts))


async def likely_duplicates(
    session: AsyncSession, principal: Principal, body: ChildCreate
) -> list[Child]:
    """Same names (in either script), birth within a year, same commune (or province)."""
    names = [
        clause
        for clause in (
            _name_match(body.given_name_latin, body.family_name_latin),
            _name_match(body.given_name_khmer, body.family_name_khmer),
        )
        if clause is not None
    ]
    statement = scoped(select(Child), principal, Child).where(
        or_(*names), col(Child.archived_at).is_(None)
    )
    if body.date_of_birth is not None:
        window = timedelta(days=366)
        statement = statement.where(
            or_(
                col(Child.date_of_birth).is_(None),
                col(Child.date_of_birth).between(
                    body.date_of_birth - window, body.date_of_birth + window
                ),
            )
        )
    if body.commune:
        statement = statement.where(func.lower(col(Child.commune)) == body.commune.lower())
    else:
        statement = statement.where(col(Child.province) == body.province.value)
    return list((await session.exec(statement.limit(MAX_CANDIDATES))).all())
