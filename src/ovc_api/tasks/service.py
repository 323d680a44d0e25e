"""The rules of the work list: `mine` needs a person (an API key has no assigned cases),
`organisation` needs cases:all; the cases it names are audited as read.

`work_list` never commits and knows nothing of HTTP.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import list_read_values, record_read
from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Scope
from ovc_api.clock import local_today
from ovc_api.errors import Forbidden, Unprocessable
from ovc_api.tasks.queries import Window, task_sections
from ovc_api.tasks.schemas import TaskList, TaskScope
from ovc_api.tasks.sharing import conference_actions, incoming_referrals


async def work_list(
    session: AsyncSession,
    principal: Principal,
    scope: TaskScope,
    *,
    days_ahead: int,
    no_contact_days: int,
) -> TaskList:
    """What is overdue or coming up in the caller's (or all open) cases, plus referrals
    received and conference actions given to the organisation."""
    if scope is TaskScope.organisation and not principal.has(Scope.cases_all):
        raise Forbidden("scope=organisation needs the scope cases:all")
    if scope is TaskScope.mine and principal.user_id is None:
        raise Unprocessable.field(
            ["query", "scope"], "an API key has no assigned cases: use scope=organisation"
        )
    window = Window(
        principal=principal,
        mine=scope is TaskScope.mine,
        today=local_today(),
        days_ahead=days_ahead,
        no_contact_days=no_contact_days,
    )
    # PostgreSQL: the sections and their read's audit row are one statement.
    postgres = bool(session.info.get("is_postgres"))
    audit = list_read_values(principal, "task") if postgres else {}
    sections = await task_sections(session, window, audit=audit)
    if not postgres:
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
