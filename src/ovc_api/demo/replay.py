"""Recording the generated cases THROUGH the services, as their caseworkers and managers
would over the API: so the demo obeys every rule (a closure is approved by someone other
than its requester, nothing is added to a closed case, no date in the future...) and leaves
the audit trail the API would. Each operation is stamped with the moment the plan gives
it (`clock.recording_at`), so histories and audit logs read as months of work.

`builder.py` plans the rows (deterministic, testable without a database); this module reads
that plan, one case at a time, and turns each row into the typed input of a service
operation, in the order the work happens: household, child, case, its moves along the
workflow, its casework, and last its closure.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Role
from ovc_api.cases import service as cases
from ovc_api.cases.models import (
    Case,
    CaseConcern,
    CaseStatus,
    CaseStatusChange,
    ClosureRequest,
    ClosureRequestStatus,
)
from ovc_api.cases.schemas import (
    CaseCreate,
    ClosureApproval,
    ClosureRequestCreate,
    TransitionCreate,
)
from ovc_api.casework import service as casework
from ovc_api.casework.models import Assessment, CaseNote, CasePlanAction, CasePlanGoal, FollowUp
from ovc_api.casework.schemas import (
    ActionCreate,
    AssessmentCreate,
    FollowUpCreate,
    GoalCreate,
    NoteCreate,
)
from ovc_api.children import service as children
from ovc_api.children.models import Child
from ovc_api.children.schemas import ChildCreate
from ovc_api.clock import recording_at
from ovc_api.families import service as families
from ovc_api.families.models import Family, FamilyMember
from ovc_api.families.schemas import FamilyCreate, MemberCreate
from ovc_api.identity.models import User

Input = TypeVar("Input", bound=BaseModel)


def acting_as(user: User) -> Principal:
    """The principal a request of this person would carry."""
    return Principal.of_person(Role(user.role), user.organisation_id, user.id)


def typed(schema: type[Input], row: SQLModel, **values: Any) -> Input:
    """The create input of `schema` holding what the planned row says (and `values`)."""
    fields = {
        name: getattr(row, name)
        for name in schema.model_fields
        if getattr(row, name, None) is not None
    }
    return schema.model_validate({**fields, **values})


class Plan:
    """The planned rows, grouped by what they belong to."""

    def __init__(self, rows: list[SQLModel]) -> None:
        self.families = {row.id: row for row in rows if isinstance(row, Family)}
        self.children = {row.id: row for row in rows if isinstance(row, Child)}
        self.cases = [row for row in rows if isinstance(row, Case)]
        self.members: dict[uuid.UUID, list[FamilyMember]] = defaultdict(list)
        self.of_case: dict[uuid.UUID, list[SQLModel]] = defaultdict(list)
        for row in rows:
            if isinstance(row, FamilyMember):
                self.members[row.family_id].append(row)
            elif case_id := getattr(row, "case_id", None):
                self.of_case[case_id].append(row)

    def under(self, case: Case, kind: type[SQLModel]) -> list[Any]:
        return [row for row in self.of_case[case.id] if isinstance(row, kind)]


async def record_cases(
    session: AsyncSession,
    rows: list[SQLModel],
    users: dict[uuid.UUID, User],
    approvers: dict[uuid.UUID, tuple[User, User]],
) -> list[Case]:
    """Record every planned case through the services; the cases as recorded, in plan order.

    `approvers`: per organisation, its case manager, and who approves the closures the case
    manager requested (the organisation's administrator).
    """
    plan = Plan(rows)
    family_ids: dict[uuid.UUID, uuid.UUID] = {}
    recorded: list[Case] = []
    for planned in plan.cases:
        assert planned.assigned_to is not None  # every demo case has its caseworker
        worker = users[planned.assigned_to]
        principal = acting_as(worker)
        child = plan.children[planned.child_id]
        intake = plan.under(planned, CaseStatusChange)[0]  # the history's first step
        with recording_at(intake.changed_at):
            case = await _open(session, principal, plan, planned, child, family_ids)
        await _casework(session, principal, plan, planned, case)
        await _closure(session, principal, plan, planned, case, approvers[case.organisation_id])
        recorded.append(case)
        await session.flush()  # written; then keep the unit of work small (cheap flushes)
        session.expunge_all()
    return recorded


async def _open(
    session: AsyncSession,
    principal: Principal,
    plan: Plan,
    planned: Case,
    child: Child,
    family_ids: dict[uuid.UUID, uuid.UUID],
) -> Case:
    """The household (once for siblings), the child and the case, in intake."""
    family_id = None
    if child.family_id is not None:
        if child.family_id not in family_ids:
            family = plan.families[child.family_id]
            members = [typed(MemberCreate, m) for m in plan.members[family.id]]
            household = typed(FamilyCreate, family, members=members)
            recorded_family = await families.record_family(session, principal, household)
            family_ids[family.id] = recorded_family.id
        family_id = family_ids[child.family_id]
    record = typed(ChildCreate, child, family_id=family_id, confirm_not_duplicate=True)
    child_id = (await children.record_child(session, principal, record)).id
    concerns = [c.concern for c in plan.under(planned, CaseConcern)]
    opening = typed(CaseCreate, planned, child_id=child_id, family_id=family_id, concerns=concerns)
    case, _ = await cases.open_case(session, principal, opening)
    return case


async def _casework(
    session: AsyncSession, principal: Principal, plan: Plan, planned: Case, case: Case
) -> None:
    """The workflow up to (not including) closing, then the case's record."""
    for change in plan.under(planned, CaseStatusChange)[1:]:
        if change.to_status != CaseStatus.closed.value:
            move = TransitionCreate(to_status=change.to_status, note=change.note)
            with recording_at(change.changed_at):
                await cases.transition(session, principal, case, move)
    for assessment in plan.under(planned, Assessment):
        scored = typed(AssessmentCreate, assessment)
        with recording_at(assessment.created_at):
            await casework.record_assessment(session, principal, case, scored)
    goal_ids: dict[uuid.UUID, uuid.UUID] = {}
    for goal in plan.under(planned, CasePlanGoal):
        with recording_at(goal.created_at):
            added = await casework.add_goal(session, principal, case, typed(GoalCreate, goal))
        goal_ids[goal.id] = added.id
    for action in plan.under(planned, CasePlanAction):
        step = typed(ActionCreate, action, goal_id=goal_ids[action.goal_id])
        with recording_at(action.created_at):
            await casework.add_action(session, principal, case, step)
    for note in plan.under(planned, CaseNote):
        with recording_at(note.created_at):
            await casework.write_note(session, principal, case, typed(NoteCreate, note))
    for follow_up in plan.under(planned, FollowUp):
        contact = typed(FollowUpCreate, follow_up)
        with recording_at(follow_up.created_at):
            await casework.add_follow_up(session, principal, case, contact)


async def _closure(
    session: AsyncSession,
    principal: Principal,
    plan: Plan,
    planned: Case,
    case: Case,
    approvers: tuple[User, User],
) -> None:
    """A closure request, approved by someone who did not request it."""
    closing = [c for c in plan.under(planned, CaseStatusChange) if c.to_status == "closed"]
    for request in plan.under(planned, ClosureRequest):
        with recording_at(request.created_at):
            asked = await cases.request_closure(
                session, principal, case, typed(ClosureRequestCreate, request)
            )
        if request.status == ClosureRequestStatus.approved.value:
            manager, admin = approvers
            deciding = manager if manager.id != principal.user_id else admin
            decision = ClosureApproval(comment=request.decision_comment)
            with recording_at(closing[-1].changed_at):  # the history's last step
                await cases.approve_closure(session, acting_as(deciding), case, asked.id, decision)
