"""The HTTP end of every handler, written once: ETag, Location, status, idempotent replay
memory and the keyset page with its read audit.

A route calls one service operation (which decides, changes rows and writes the audit) and
then one of these; nothing here knows a business rule. The replay side of idempotency is the
first line of a POST handler: `if (replayed := await idempotency.replay(principal, body))`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar, cast

from fastapi import Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.engine import Row
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import (
    audit_binds,
    audited_page,
    list_read_values,
    record_owner_reads,
    record_read,
)
from ovc_api.auth.principal import Principal
from ovc_api.concurrency import set_etag
from ovc_api.idempotency import Idempotency
from ovc_api.pagination import (
    Page,
    PageParams,
    Sort,
    cursor_binds,
    decode_cursor,
    fetch_page,
    finish_page,
    keyset,
)
from ovc_api.prepared import built, caller_shape, caller_values, stand_in

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


async def multi_status(
    response: Response, idempotency: Idempotency, result: ReadModel
) -> ReadModel:
    """207 of a batch whose rows succeed or fail one by one, remembered for a retry."""
    response.status_code = 207
    await idempotency.remember(207, result, response)
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


JSON = "application/json"
# Headers of the sub-response FastAPI injects that a returned Response must not copy.
_BODY_HEADERS = frozenset({"content-length", "content-type"})


def json_response(body: bytes, response: Response, status_code: int = 200) -> Response:
    """Serialized JSON as the answer, with the headers set on the injected `response`
    (Link, ETag, ...): FastAPI does not merge them into a Response a handler returns."""
    headers = {k: v for k, v in response.headers.items() if k not in _BODY_HEADERS}
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


async def rows_page(
    session: AsyncSession,
    principal: Principal,
    build: Callable[[Principal], Select[Any]],
    shape: Callable[[Row[Any]], Any],
    adapter: TypeAdapter[Any],
    pagination: PageParams,
    sort: Sort,
    request: Request,
    response: Response,
    *,
    audit_as: str,
    shape_key: Hashable | None,
    case_id: uuid.UUID | None = None,
    via: Callable[[Any], uuid.UUID | None] | None = None,
) -> Response:
    """A keyset page straight from Core rows into JSON: the hot lists' path.

    `build` gives the list's statement for a caller: labelled columns (`id` and the sort
    keys by their names). It is built once per shape (`ovc_api.prepared`: `shape_key` names
    the list and whatever else changes its SQL; None when the statement carries values of
    its own, e.g. filters) for a stand-in caller whose ids, like the cursor's values and
    the audit row's, are bind parameters. `shape` turns a row into the response item's
    fields (or a model built for the caller), validated once by `adapter` (over
    `Page[ReadModel]`) and serialized once; no ORM objects, no second validation. On
    PostgreSQL the page and its list-read audit row are one statement (a data-modifying
    CTE, see `audited_page`); on SQLite the audit row is added to the session as elsewhere.
    Rows of other organisations (a widening; rows with an `organisation_id` column) are
    also written in their owners' logs, as `page` does (`via`: the referral each was
    reached through), in the same transaction. The route's declared response model
    documents the body (OpenAPI).
    """
    postgres = bool(session.info.get("is_postgres"))
    key, build_statement, params = page_statement(
        principal,
        build,
        pagination,
        sort,
        audit_as=audit_as,
        shape_key=shape_key,
        case_id=case_id,
        postgres=postgres,
    )
    statement = built(key, build_statement)
    connection = await session.connection()
    rows = (await connection.execute(statement, params)).all()
    if not postgres:
        shown = rows[: pagination.limit]
        ids = [row._mapping["id"] for row in shown]
        record_read(session, principal, audit_as, ids, case_id=case_id, single=False)
    record_owner_reads(
        session, principal, audit_as, rows[: pagination.limit], single=False, via=via
    )
    return page_response(rows, shape, adapter, pagination, sort, request, response)


def page_statement(
    principal: Principal,
    build: Callable[[Principal], Select[Any]],
    pagination: PageParams,
    sort: Sort,
    *,
    audit_as: str,
    shape_key: Hashable | None,
    case_id: uuid.UUID | None,
    postgres: bool,
) -> tuple[Hashable | None, Callable[[], Select[Any]], dict[str, Any]]:
    """`rows_page`'s statement: its shape key (`ovc_api.prepared.built`), how to build it and
    this request's values (the caller's ids, the cursor's, the audit row's). A malformed
    cursor is a 422 (`decode_cursor`)."""
    limit = pagination.limit
    after = decode_cursor(pagination.cursor, sort.name, sort.keys) if pagination.cursor else None
    params = caller_values(principal)
    after_binds: list[Any] | None = None
    if after is not None:
        after_binds, cursor_values = cursor_binds(sort.keys, after)
        params.update(cursor_values)
    audit_values = list_read_values(principal, audit_as, case_id=case_id) if postgres else {}
    binds, audit_params = audit_binds(audit_values)
    params.update(audit_params)
    key = None
    if shape_key is not None:
        nulls = None if after is None else tuple(value is None for value in after)
        key = (shape_key, caller_shape(principal), sort.name, limit, nulls, postgres, *binds)

    def build_statement() -> Select[Any]:
        statement = keyset(build(stand_in(principal)), sort, limit, after_binds)
        return audited_page(statement, sort.order_on, limit, binds) if postgres else statement

    return key, build_statement, params


def page_response(
    rows: Sequence[Any],
    shape: Callable[[Any], Any],
    adapter: TypeAdapter[Any],
    pagination: PageParams,
    sort: Sort,
    request: Request,
    response: Response,
) -> Response:
    """A page's JSON (validated once by `adapter`) from `page_statement`'s rows, with its
    Link header when there is a next page."""
    shown, next_cursor = finish_page(
        rows,
        pagination,
        sort.keys,
        sort_name=sort.name,
        key_values=sort.labelled_values,
        request=request,
        response=response,
    )
    items = [shape(row) for row in shown]
    page = adapter.validate_python({"items": items, "next_cursor": next_cursor})
    return json_response(adapter.dump_json(page), response)
