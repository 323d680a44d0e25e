"""The caller's work list: what is overdue or coming up in their (or all open) cases.

HTTP only: the rules and the audit are in `tasks/service.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.settings import Settings
from ovc_api.tasks import service
from ovc_api.tasks.schemas import TaskList, TaskScope

router = APIRouter(prefix=API_V1, tags=["tasks"])


@router.get(
    "/tasks",
    summary="My work list: follow-ups, actions, silent cases, referrals and conference actions",
    response_model=TaskList,
    responses=error_responses(401, 403, 422),
)
async def list_tasks(
    request: Request,
    session: Session,
    principal: CasesReader,
    scope: Annotated[
        TaskScope,
        Query(description="`mine`: cases assigned to me; `organisation` needs cases:all"),
    ] = TaskScope.mine,
    days_ahead: Annotated[
        int, Query(ge=1, le=90, description="How far ahead `upcoming_*` look, in days")
    ] = 14,
) -> TaskList:
    settings: Settings = request.app.state.settings
    return await service.work_list(
        session,
        principal,
        scope,
        days_ahead=days_ahead,
        no_contact_days=settings.no_contact_days,
    )
