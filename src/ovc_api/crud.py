"""The steps every audited record repeats on create, list, read and update.

Each domain keeps its own rules (validation, scope, side effects); these helpers do the
common epilogue the same way everywhere: audit row, ETag, Location, idempotent replay,
keyset page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import record, record_read
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import apply_changes, set_etag
from ovc_api.idempotency import Idempotency
from ovc_api.pagination import Page, PageParams, Sort, fetch_page

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Audited(Generic[R]):
    """A kind of record: its audit name (`case_note`) and how the API shows it."""

    name: str
    read_model: type[R]

    def present(self, item: Any, response: Response) -> R:
        set_etag(response, item)
        return self.read_model.model_validate(item)

    async def created(
        self,
        session: AsyncSession,
        principal: Principal,
        item: Any,
        response: Response,
        idempotency: Idempotency,
        *,
        location: str,
        case_id: uuid.UUID | None = None,
    ) -> R:
        """Insert, audit, answer 201 with Location and ETag, and remember it for retries."""
        session.add(item)
        await session.flush()
        record(
            session,
            principal,
            f"{self.name}.create",
            resource_type=self.name,
            resource_id=item.id,
            case_id=case_id,
        )
        response.headers["Location"] = location
        result = self.present(item, response)
        await idempotency.remember(201, result, response)
        return result

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        statement: Select[Any],
        pagination: PageParams,
        sort: Sort,
        request: Request,
        response: Response,
        *,
        case_id: uuid.UUID | None = None,
    ) -> Page[R]:
        """One keyset page, audited with the ids it returns."""
        items, next_cursor = await fetch_page(
            session, statement, pagination, sort, request, response
        )
        record_read(
            session, principal, self.name, [i.id for i in items], case_id=case_id, single=False
        )
        return Page(
            items=[self.read_model.model_validate(i) for i in items], next_cursor=next_cursor
        )

    def read(
        self,
        session: AsyncSession,
        principal: Principal,
        item: Any,
        response: Response,
        *,
        case_id: uuid.UUID | None = None,
    ) -> R:
        record_read(session, principal, self.name, [item.id], case_id=case_id)
        return self.present(item, response)

    async def updated(
        self,
        session: AsyncSession,
        principal: Principal,
        item: Any,
        changes: dict[str, Any],
        if_match: str | None,
        response: Response,
        *,
        case_id: uuid.UUID | None = None,
    ) -> R:
        """Apply a client's changes (If-Match checked, history kept) and audit field names."""
        changed = await apply_changes(session, item, changes, if_match, principal)
        if changed:
            record(
                session,
                principal,
                f"{self.name}.update",
                resource_type=self.name,
                resource_id=item.id,
                changed_fields=changed,
                case_id=case_id,
            )
        return self.present(item, response)
