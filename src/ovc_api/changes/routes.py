"""GET /api/v1/changes: the change feed, for keeping a copy in sync.

HTTP only: the cursor (opaque; it names a position in commit order), the types, one query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader
from ovc_api.changes.schemas import ChangePage, ChangeRead
from ovc_api.changes.service import changes_after
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.outbox import Event, FeedResource
from ovc_api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SortKey,
    decode_cursor,
    encode_cursor,
)

router = APIRouter(prefix=f"{API_V1}/changes", tags=["changes"])
CURSOR_NAME = "changes"
POSITION = SortKey("position", col(Event.position), int)


@router.get(
    "",
    summary="Every create, update and removal of the records you may see, in commit order",
    description=(
        "Start without `cursor` (from the beginning), then pass `next_cursor` each time: "
        "a change committed after a page was read (even by a transaction that began "
        "before) always comes after that cursor, so nothing is skipped. `has_more: false` "
        "means you are up to date: ask again later with `next_cursor`. Items carry ids and "
        "versions only: fetch each record with your own credentials (audited). `removed`: "
        "the record left your view; drop your copy."
    ),
    response_model=ChangePage,
    responses=error_responses(401, 403, 422),
)
async def list_changes(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
    types: Annotated[
        list[FeedResource] | None,
        Query(description="Only these kinds of record (repeat the parameter for several)"),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, description=f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
) -> ChangePage:
    limit = min(limit, MAX_LIMIT)
    after = decode_cursor(cursor, CURSOR_NAME, [POSITION])[0] if cursor else 0
    kinds = [t.value for t in types] if types else None
    rows = list((await session.exec(changes_after(principal, after, kinds, limit))).all())
    items = rows[:limit]
    last = items[-1].position if items else after
    next_cursor = encode_cursor(CURSOR_NAME, [last])
    has_more = len(rows) > limit
    if has_more:
        next_url = request.url.include_query_params(cursor=next_cursor, limit=limit)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return ChangePage(
        items=[ChangeRead.model_validate(row) for row in items],
        next_cursor=next_cursor,
        has_more=has_more,
    )
