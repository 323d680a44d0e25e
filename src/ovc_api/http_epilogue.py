"""The HTTP end of every handler, written once: ETag, Location, status, idempotent replay
memory and the keyset page with its read audit.

A route calls one service operation (which decides, changes rows and writes the audit) and
then one of these; nothing here knows a business rule. The replay side of idempotency is the
first line of a POST handler: `if (replayed := await idempotency.replay(principal, body))`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import record_owner_reads, record_read
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import set_etag
from ovc_api.idempotency import Idempotency
from ovc_api.pagination import Page, PageParams, Sort, fetch_page

ReadModel = TypeVar("ReadModel", bound=BaseModel)
Presenter = (
    type[ReadModel]
    | Callable[[Sequence[Any]], list[ReadModel]]
    | Callable[[Sequence[Any]], Awaitable[list[ReadModel]]]
)


def shown(response: Response, row: Any, result: ReadModel) -> ReadModel:
    """One resource as read or corrected: the ETag of the row it shows."""
    set_etag(response, row)
    return result


async def created(
    response: Response,
    idempotency: Idempotency | None,
    row: Any,
    result: ReadModel,
    *,
    location: str,
    resource: str,
) -> ReadModel:
    """201 with Location and the ETag of `row`, remembered for a retry with the same
    Idempotency-Key (operations without one pass None); a retry reads `row` again, audited
    as a read of `resource`."""
    response.headers["Location"] = location
    set_etag(response, row)
    if idempotency is not None:
        await idempotency.remember(201, result, response, row=row, resource=resource)
    return result


async def done(
    idempotency: Idempotency,
    result: ReadModel,
    *,
    row: Any,
    resource: str,
    response: Response | None = None,
) -> ReadModel:
    """200 of an action (POST) on `row`, remembered for a retry (which reads `row` again,
    audited as `resource`); with `response`, the row's ETag is sent too."""
    headers = response if response is not None else Response()
    if response is not None:
        set_etag(headers, row)
    await idempotency.remember(200, result, headers, row=row, resource=resource)
    return result


async def present(presenter: Presenter[ReadModel], rows: Sequence[Any]) -> list[ReadModel]:
    """A page's rows as the API shows them: a read model, or a function of all the rows
    (which may need one more query for the whole page)."""
    if isinstance(presenter, type) and issubclass(presenter, BaseModel):
        return [presenter.model_validate(row) for row in rows]
    shown = cast(Callable[[Sequence[Any]], Any], presenter)(rows)
    return await shown if inspect.isawaitable(shown) else cast(list[ReadModel], shown)


async def page(
    session: AsyncSession,
    principal: Principal,
    statement: Select[Any],
    presenter: Presenter[ReadModel],
    pagination: PageParams,
    sort: Sort,
    request: Request,
    response: Response,
    *,
    audit_as: str | None = None,
    case_id: uuid.UUID | None = None,
    via: Callable[[Any], uuid.UUID | None] | None = None,
) -> Page[ReadModel]:
    """One keyset page (Link header for the next), shown by `presenter`.

    `audit_as` names the resource of a list read, recorded with the ids it returns; lists
    whose read is audited once per request (history, logs) leave it out, their service
    having recorded it. Rows of other organisations (a widening) are also written in their
    owners' logs, `via` naming the referral each was reached through.
    """
    rows, next_cursor = await fetch_page(session, statement, pagination, sort, request, response)
    items = await present(presenter, rows)
    if audit_as is not None:
        ids = [cast(Any, item).id for item in items]
        record_read(session, principal, audit_as, ids, case_id=case_id, single=False)
        record_owner_reads(session, principal, audit_as, rows, single=False, via=via)
    return Page(items=items, next_cursor=next_cursor)
