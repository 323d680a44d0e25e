"""Group service events over HTTP: one call, many deliveries, a 207 with a result per row.
HTTP only: the rules are in `services/group.py`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesWriter
from ovc_api.db import Session
from ovc_api.errors import Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.services import group
from ovc_api.services.group_schemas import MAX_GROUP_ROWS, GroupEvent, GroupResult

router = APIRouter(prefix=API_V1, tags=["services"])


@router.post(
    "/services/group-events",
    summary="Record one service delivered to many children or families (a distribution, a "
    "campaign)",
    description=f"Each row becomes a normal service record with its own audit event. The "
    f"answer is 207 with a result per row: 201 recorded, 404 not found (another "
    f"organisation's record reads exactly like a missing one), 422 refused. At most "
    f"{MAX_GROUP_ROWS} rows per call (422 beyond; bodies over the size limit are 413). An "
    f"`Idempotency-Key` is required, so a retried upload records nothing twice.",
    status_code=207,
    response_model=GroupResult,
    responses=error_responses(401, 403, 413, 422),
)
async def record_group_event(
    body: GroupEvent,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if idempotency.key is None:
        raise Unprocessable.field(
            ["header", "Idempotency-Key"], "required: a retried group event must not repeat"
        )
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    results = await group.record_group_event(session, principal, body)
    recorded = sum(1 for r in results if r.status == 201)
    result = GroupResult(
        service_type=body.service_type,
        delivered_on=body.delivered_on,
        recorded=recorded,
        failed=len(results) - recorded,
        results=results,
    )
    return await http.multi_status(response, idempotency, result)
