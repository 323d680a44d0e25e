"""The rules of a case's record: assessments, the case plan (goals and actions), notes and
follow-ups. A closed case's record is final, nothing happens before the case opened, a plan
action points at a goal of the same case and an active member organisation, a done
follow-up moves the case's last contact forward; every read and change is audited with the
case id. Each operation takes the case already loaded in the caller's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Row as CoreRow
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case
from ovc_api.casework.common import NewRecordRules, ensure_open, in_case, not_before_opening
from ovc_api.casework.models import (
    Assessment,
    CaseNote,
    CasePlanAction,
    CasePlanGoal,
    FollowUp,
    FollowUpStatus,
)
from ovc_api.casework.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    AssessmentCreate,
    AssessmentUpdate,
    CasePlanRead,
    FollowUpCreate,
    FollowUpUpdate,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    NoteCreate,
    NoteUpdate,
    PlanGoalRead,
)
from ovc_api.concurrency import check_if_match
from ovc_api.errors import NotFound, Unprocessable
from ovc_api.identity.models import Organisation
from ovc_api.revisions import RevisionRead
from ovc_api.tenancy import get_visible_or_404, scoped, visible

ASSESSMENT = "assessment"
NOTE = "case_note"
GOAL = "case_plan_goal"
ACTION = "case_plan_action"
FOLLOW_UP = "follow_up"
DONE = FollowUpStatus.done.value
PLAN_GOALS_LIMIT = 200
# The column naming who wrote a record, for the kinds that keep it.
AUTHOR: dict[Any, str] = {Assessment: "assessed_by", CaseNote: "author_id", FollowUp: "created_by"}
PLAN_ACTIONS_LIMIT = 1000


class CaseRecord(Protocol):
    """A row of a case's record: it names its case, which its audit rows carry."""

    id: uuid.UUID
    case_id: uuid.UUID


Record = TypeVar("Record", bound=CaseRecord)


def of_case(principal: Principal, model: Any, case: Case) -> Any:
    """A case's sub-records of one kind (a list's base statement)."""
    return scoped(select(model), principal, model).where(col(model.case_id) == case.id)


def read(session: AsyncSession, principal: Principal, row: Record, resource: str) -> Record:
    """Audit a single read of a case's sub-record."""
    return service_kit.read(session, principal, row, resource=resource, case_id=row.case_id)


def _writable_case(principal: Principal) -> Any:
    """The cases the caller may add records to (as `CaseForWrite` loads them): the columns
    the rules of a new record read."""
    return select(col(Case.id), col(Case.status), col(Case.opened_on)).where(
        visible(principal, Case)
    )


class CaseTouch(Protocol):
    """Derived data of the case a new record changes (its last contact), written with it."""

    async def apply(self, session: AsyncSession, case: Case, values: dict[str, Any]) -> None:
        """Through the session, before the record is inserted."""

    def ctes(self, written: Any, values: Mapping[str, Any]) -> list[Any]:
        """The same as data-modifying CTEs of the insert's statement (`written`: the
        inserted row; `values`: its values' bind parameters)."""


@dataclass(frozen=True)
class NewRecord:
    """How a kind's new record is made from a request body: its model, its audit name, the
    rules it respects (`NewRecordRules`) and the values it computes from the body (stored
    as `computed` gives them rather than as the body has them); who wrote it is recorded
    where the kind keeps that (`AUTHOR`)."""

    model: Any
    resource: str
    rules: NewRecordRules = field(default_factory=NewRecordRules)
    computed: Callable[[Any], dict[str, Any]] | None = None
    # What else the record changes (the case's last contact): before the insert through
    # the session, and as CTEs of the insert's statement
    touches: CaseTouch | None = None

    def values(self, principal: Principal, data: BaseModel) -> dict[str, Any]:
        """The row's columns the body gives, and its author."""
        values = service_kit.stored(data)
        if self.computed is not None:
            values.update(self.computed(data))
        if self.model in AUTHOR:
            values[AUTHOR[self.model]] = principal.user_id
        return values

    async def add(
        self, session: AsyncSession, principal: Principal, case: Case, data: BaseModel
    ) -> Any:
        """The new record of the loaded case, through the session (inserted and audited)."""
        values = self.values(principal, data)
        self.rules.check(case, values)
        if self.touches is not None:
            await self.touches.apply(session, case, values)
        return await _create(session, principal, case, self.model, data, self.resource, **values)

    def statement(
        self,
        principal: Principal,
        case_id: uuid.UUID,
        values: Mapping[str, Any],
        returning: Collection[str],
    ) -> tuple[Hashable, Callable[[], Select[Any]], dict[str, Any]]:
        """`insert`'s one statement (`service_kit.insert_statement`) for `values` the rules
        admit (`values`, `rules.admissible`), for whatever runs it: the session (`insert`)
        or the fast lane's pipeline (`ovc_api.fastlane_writes`); `inserted` answers its
        row."""
        return service_kit.insert_statement(
            principal,
            self.model,
            {**values, "organisation_id": principal.organisation_id},
            parent=_writable_case,
            parent_model=Case,
            parent_id=case_id,
            parent_column="case_id",
            allowed=self.rules.clause,
            returning={"id", "version", "case_id", *returning},
            resource=self.resource,
            shape_key=f"{self.resource}.create",
            from_record={"case_id": "case_id"},
            also=None if self.touches is None else self.touches.ctes,
        )

    def inserted(self, row: Any, values: Mapping[str, Any]) -> Any:
        """The statement's row (a Core row, or the fast lane's), or why there is none: 404
        (no case the caller may write to), the rules' refusal read on the case's columns
        (409, 422)."""
        if row is None:
            raise NotFound()
        case = SimpleNamespace(status=row.parent_status, opened_on=row.parent_opened_on)
        self.rules.check(case, values)  # the answer when the statement refused the row
        if row.id is None:  # pragma: no cover - the clause and the check disagree
            raise RuntimeError(f"{self.resource}: the statement refused a row its rules admit")
        return row

    async def insert(
        self,
        session: AsyncSession,
        principal: Principal,
        case_id: uuid.UUID,
        data: BaseModel,
        returning: Collection[str],
    ) -> CoreRow[Any]:
        """PostgreSQL: the same in one statement (`statement`), the case found in the
        caller's scope for writing (404 otherwise) and the rules checked in it; the
        record's `returning` columns as a Core row."""
        values = self.values(principal, data)
        if not self.rules.admissible(values):  # refused whatever the case: as `add` says
            self.rules.check(await get_visible_or_404(session, principal, Case, case_id), values)
            raise RuntimeError(f"{self.resource}: rules admitted what they refuse")
        statement = self.statement(principal, case_id, values, returning)
        row: CoreRow[Any] = self.inserted(await service_kit.insert_row(session, statement), values)
        return row


async def _create(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    kind: Callable[..., Record],
    data: BaseModel,
    resource: str,
    /,
    **values: Any,
) -> Record:
    """A new record of the case: the body's fields as stored, `values` added or replacing
    (any column name, the body's `kind` too), and who wrote it where the kind records
    that."""
    if kind in AUTHOR:
        values[AUTHOR[kind]] = principal.user_id
    row = kind(
        **{**service_kit.stored(data), **values},
        organisation_id=principal.organisation_id,
        case_id=case.id,
    )
    return await service_kit.insert(session, principal, row, resource=resource, case_id=case.id)


def _changes(case: Case, row: Any, data: BaseModel, if_match: str | None) -> dict[str, Any]:
    """Where every correction starts: the case still open, the version the client saw, the
    fields the PATCH sets."""
    ensure_open(case)
    check_if_match(if_match, row)
    return service_kit.stored(data, sent_only=True)


async def _correct(
    session: AsyncSession,
    principal: Principal,
    row: Record,
    changes: dict[str, Any],
    resource: str,
    if_match: str | None,
) -> Record:
    return await service_kit.correct(
        session, principal, row, changes, if_match=if_match, resource=resource, case_id=row.case_id
    )


# --- assessments -----------------------------------------------------------------------------


def _domains(data: AssessmentCreate) -> dict[str, Any]:
    """The CSI domains as stored (JSON)."""
    return {"domains": data.model_dump(mode="json")["domains"]}


NEW_ASSESSMENT = NewRecord(Assessment, ASSESSMENT, NewRecordRules(("assessed_on",)), _domains)


async def record_assessment(
    session: AsyncSession, principal: Principal, case: Case, data: AssessmentCreate
) -> Assessment:
    return await NEW_ASSESSMENT.add(session, principal, case, data)  # type: ignore[no-any-return]


async def correct_assessment(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    assessment: Assessment,
    data: AssessmentUpdate,
    *,
    if_match: str | None,
) -> Assessment:
    changes = _changes(case, assessment, data, if_match)
    if "domains" in changes:
        changes["domains"] = data.model_dump(mode="json", include={"domains"})["domains"]
    not_before_opening(case, assessed_on=changes.get("assessed_on"))
    return await _correct(session, principal, assessment, changes, ASSESSMENT, if_match)


# --- notes -----------------------------------------------------------------------------------


NEW_NOTE = NewRecord(CaseNote, NOTE, NewRecordRules(("noted_on",)))


async def write_note(
    session: AsyncSession, principal: Principal, case: Case, data: NoteCreate
) -> CaseNote:
    return await NEW_NOTE.add(session, principal, case, data)  # type: ignore[no-any-return]


async def correct_note(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    note: CaseNote,
    data: NoteUpdate,
    *,
    if_match: str | None,
) -> CaseNote:
    """A correction; the earlier text stays in the note's revisions."""
    changes = _changes(case, note, data, if_match)
    not_before_opening(case, noted_on=changes.get("noted_on"))
    return await _correct(session, principal, note, changes, NOTE, if_match)


async def note_revisions(
    session: AsyncSession, principal: Principal, note: CaseNote
) -> list[RevisionRead]:
    return await service_kit.revisions(
        session, principal, note, resource=NOTE, case_id=note.case_id
    )


# --- the case plan: goals and actions --------------------------------------------------------


async def _resolve_goal(
    session: AsyncSession, principal: Principal, case: Case, goal_id: uuid.UUID
) -> None:
    """A body's goal_id must be a goal of the same case."""
    try:
        await in_case(session, principal, CasePlanGoal, case, goal_id)
    except NotFound as exc:
        raise Unprocessable.field(["body", "goal_id"], "no such goal in this case") from exc


async def _resolve_organisation(session: AsyncSession, organisation_id: uuid.UUID) -> None:
    """Any active member of the network may be responsible for an action."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not organisation.active:
        raise Unprocessable.field(
            ["body", "responsible_organisation_id"], "no such active member organisation"
        )


NEW_GOAL = NewRecord(CasePlanGoal, GOAL)


async def add_goal(
    session: AsyncSession, principal: Principal, case: Case, data: GoalCreate
) -> CasePlanGoal:
    return await NEW_GOAL.add(session, principal, case, data)  # type: ignore[no-any-return]


async def correct_goal(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    goal: CasePlanGoal,
    data: GoalUpdate,
    *,
    if_match: str | None,
) -> CasePlanGoal:
    changes = _changes(case, goal, data, if_match)
    return await _correct(session, principal, goal, changes, GOAL, if_match)


async def add_action(
    session: AsyncSession, principal: Principal, case: Case, data: ActionCreate
) -> CasePlanAction:
    ensure_open(case)
    not_before_opening(case, due_on=data.due_on, done_on=data.done_on)
    await _resolve_goal(session, principal, case, data.goal_id)
    responsible = data.responsible_organisation_id or principal.organisation_id
    await _resolve_organisation(session, responsible)
    return await _create(
        session,
        principal,
        case,
        CasePlanAction,
        data,
        ACTION,
        responsible_organisation_id=responsible,
    )


async def correct_action(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    action: CasePlanAction,
    data: ActionUpdate,
    *,
    if_match: str | None,
) -> CasePlanAction:
    changes = _changes(case, action, data, if_match)
    not_before_opening(case, due_on=changes.get("due_on"), done_on=changes.get("done_on"))
    if "goal_id" in changes and changes["goal_id"] != action.goal_id:
        await _resolve_goal(session, principal, case, changes["goal_id"])
    responsible = changes.get("responsible_organisation_id")
    if responsible is not None and responsible != action.responsible_organisation_id:
        await _resolve_organisation(session, responsible)
    return await _correct(session, principal, action, changes, ACTION, if_match)


async def read_plan(session: AsyncSession, principal: Principal, case: Case) -> CasePlanRead:
    """The plan at a glance (its goals, each with its actions), its reading audited with every
    goal and action shown."""

    async def first(model: Any, order: Any, limit: int) -> list[Any]:
        """Up to `limit` + 1 of the case's records of a kind, in order (one more: cut)."""
        statement = of_case(principal, model, case).order_by(order, col(model.id)).limit(limit + 1)
        return list((await session.exec(statement)).all())

    goals = await first(CasePlanGoal, col(CasePlanGoal.created_at), PLAN_GOALS_LIMIT)
    actions = await first(CasePlanAction, col(CasePlanAction.due_on), PLAN_ACTIONS_LIMIT)
    truncated = len(goals) > PLAN_GOALS_LIMIT or len(actions) > PLAN_ACTIONS_LIMIT
    goals, actions = goals[:PLAN_GOALS_LIMIT], actions[:PLAN_ACTIONS_LIMIT]
    by_goal: dict[uuid.UUID, list[ActionRead]] = {g.id: [] for g in goals}
    for action in actions:
        if action.goal_id in by_goal:
            by_goal[action.goal_id].append(ActionRead.model_validate(action))
    listed = [
        PlanGoalRead(**GoalRead.model_validate(g).model_dump(), actions=by_goal[g.id])
        for g in goals
    ]
    service_kit.audit(
        session,
        principal,
        "case_plan",
        "read",
        case_id=case.id,
        record_ids=[g.id for g in listed] + [a.id for g in listed for a in g.actions],
    )
    return CasePlanRead(case_id=case.id, goals=listed, truncated=truncated)


# --- follow-ups ------------------------------------------------------------------------------


def _check_follow_up(
    case: Case,
    status: str,
    final_done_on: date | None,
    *,
    scheduled_on: date | None,
    done_on: date | None,
) -> None:
    """Status and done_on agree once stored (after a PATCH, the merged values); the dates sent
    are not before the case opened."""
    if status == DONE and final_done_on is None:
        raise Unprocessable.field(["body", "done_on"], "required when status is done")
    if status != DONE and final_done_on is not None:
        raise Unprocessable.field(
            ["body", "done_on"], "only a done follow-up has a done_on: send null"
        )
    if scheduled_on is not None and scheduled_on < case.opened_on:
        raise Unprocessable.field(
            ["body", "scheduled_on"],
            f"a follow-up before the case opened ({case.opened_on.isoformat()})",
        )
    not_before_opening(case, done_on=done_on)


async def _record_contact(session: AsyncSession, case: Case, on: date) -> None:
    """Move the case's last contact forward. Derived data: the case's version/ETag stay."""
    await session.exec(
        update(Case)
        .where(
            col(Case.id) == case.id,
            or_(col(Case.last_contact_on).is_(None), col(Case.last_contact_on) < on),
        )
        .values(last_contact_on=on)
        .execution_options(synchronize_session=False)
    )
    if case.last_contact_on is None or case.last_contact_on < on:
        set_committed_value(case, "last_contact_on", on)


@dataclass(frozen=True)
class _FollowUpRules(NewRecordRules):
    """A new follow-up's rules (`_check_follow_up`): its status and done_on agree, it is
    not scheduled nor done before the case opened."""

    dates: tuple[str, ...] = ("done_on",)

    def admissible(self, values: Mapping[str, Any]) -> bool:
        return bool((values["status"] == DONE) == (values.get("done_on") is not None))

    def check(self, case: Any, values: Mapping[str, Any]) -> None:
        ensure_open(case)
        done_on = values.get("done_on")
        _check_follow_up(
            case, values["status"], done_on, scheduled_on=values["scheduled_on"], done_on=done_on
        )

    def clause(self, case: Any, values: Mapping[str, Any]) -> Any:
        return and_(super().clause(case, values), values["scheduled_on"] >= case.opened_on)


class _LastContact:
    """A follow-up recorded done moves the case's last contact forward (`_record_contact`)."""

    async def apply(self, session: AsyncSession, case: Case, values: dict[str, Any]) -> None:
        if values.get("done_on") is not None:
            await _record_contact(session, case, values["done_on"])

    def ctes(self, written: Any, values: Mapping[str, Any]) -> list[Any]:
        done_on = values["done_on"]
        moved = (
            update(Case)
            .where(
                col(Case.id) == written.c.case_id,
                done_on.is_not(None),
                or_(col(Case.last_contact_on).is_(None), col(Case.last_contact_on) < done_on),
            )
            .values(last_contact_on=done_on)
        )
        return [moved.cte("contact")]


NEW_FOLLOW_UP = NewRecord(FollowUp, FOLLOW_UP, _FollowUpRules(), touches=_LastContact())


async def add_follow_up(
    session: AsyncSession, principal: Principal, case: Case, data: FollowUpCreate
) -> FollowUp:
    """Schedule a follow-up, or record one already done (the case's latest contact)."""
    return await NEW_FOLLOW_UP.add(session, principal, case, data)  # type: ignore[no-any-return]


async def correct_follow_up(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    follow_up: FollowUp,
    data: FollowUpUpdate,
    *,
    if_match: str | None,
) -> FollowUp:
    """Record it done, missed or cancelled, or correct it."""
    changes = _changes(case, follow_up, data, if_match)
    _check_follow_up(
        case,
        changes.get("status", follow_up.status),
        changes.get("done_on", follow_up.done_on),
        scheduled_on=changes.get("scheduled_on"),
        done_on=changes.get("done_on"),
    )
    await _correct(session, principal, follow_up, changes, FOLLOW_UP, if_match)
    if follow_up.status == DONE and follow_up.done_on is not None:
        await _record_contact(session, case, follow_up.done_on)  # keeps the latest contact
    return follow_up
