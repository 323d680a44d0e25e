"""The caller's work list: what is overdue or coming up in their (or all open) cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ovc_api import API_V1
from ovc_api.audit.service import record_read
from ovc_api.auth.principal import CasesReader
from ovc_api.auth.scopes import Scope
from ovc_api.clock import local_today
from ovc_api.db import Session
from ovc_api.errors import Forbidden, Unprocessable, error_responses
from ovc_api.settings import Settings
from ovc_api.tasks.queries import Window, task_sections
from ovc_api.tasks.schemas import TaskList, TaskScope
from ovc_api.tasks.sharing import conference_actions, incoming_referrals

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
    if scope is TaskScope.organisation and not principal.has(Scope.cases_all):
        raise Forbidden("scope=organisation needs the scope cases:all")
    if scope is TaskScope.mine and principal.user_id is None:
        raise Unprocessable.field(
            ["query", "scope"], "an API key has no assigned cases: use scope=organisation"
        )
    settings: Settings = request.app.state.settings
    window = Window(
        principal=principal,
        mine=scope is TaskScope.mine,
        today=local_today(),
        days_ahead=days_ahead,
        no_contact_days=settings.no_contact_days,
    )
    sections = await task_sections(session, window)
    case_ids = dict.fromkeys(item.case_id for s in sections.values() for item in s.items)
    record_read(session, principal, "task", list(case_ids), single=False)
    return TaskList(
        as_of=window.today,
        scope=scope,
        days_ahead=days_ahead,
        no_contact_days=window.no_contact_days,
        **sections,
        incoming_referrals=await incoming_referrals(session, principal),
        conference_actions=await conference_actions(session, principal),
    )
