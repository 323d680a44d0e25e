"""A case's history over HTTP: its status changes and its child's family-tracing attempts.

A package of its own because it joins two domains (cases, alternative care) that must not
import each other both ways (tests/test_import_graph.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ovc_api import API_V1
from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader
from ovc_api.case_history import service
from ovc_api.case_history.schemas import CaseHistoryEntry
from ovc_api.cases.deps import CaseForRead
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.pagination import Page, Pagination

router = APIRouter(prefix=f"{API_V1}/cases", tags=["cases"])


@router.get(
    "/{case_id}/history",
    summary="The case's status changes and family-tracing attempts, oldest first",
    description="Each entry's `kind` says which: a status change (`from_status`, "
    "`to_status`, `closure_reason`, `note`, `approved_by`) or a family-tracing attempt for "
    "the case's child (`tracing`: who or where was sought, how, when, and the outcome as it "
    "stands), recorded on this case or on none. `changed_at` is when it was recorded.",
    response_model=Page[CaseHistoryEntry],
    responses=error_responses(401, 403, 404, 422),
)
async def list_case_history(
    case: CaseForRead,
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
) -> Page[CaseHistoryEntry]:
    statement, order = service.timeline(session, principal, case)
    return await http.page(
        session, principal, statement, service.shown, pagination, order, request, response
    )
