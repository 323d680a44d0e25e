"""Case conferences: partners meet about a case; participants see the record, not the case."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col, select

from ovc_api import API_V1
from ovc_api.audit.service import record
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.clock import local_today
from ovc_api.concurrency import IfMatch, apply_changes, set_etag
from ovc_api.conferences.models import CaseConference, ConferenceAction, ConferenceParticipant
from ovc_api.conferences.schemas import (
    ActionItemCreate,
    ActionItemRead,
    ActionItemUpdate,
    ConferenceCreate,
    ConferenceRead,
    ConferenceUpdate,
    ExternalParticipant,
)
from ovc_api.db import Session
from ovc_api.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.identity.models import Organisation
from ovc_api.pagination import Page, Pagination, fetch_page, parse_date, sort_options
from ovc_api.tenancy import get_visible_or_404, resolve_reference, scoped

router = APIRouter(prefix=f"{API_V1}/case-conferences", tags=["case-conferences"])
RESOURCE = "case_conference"
SORTS = sort_options(col(CaseConference.id), held_on=(col(CaseConference.held_on), parse_date))
ConferenceSort = Literal["held_on", "-held_on"]
MAX_PLANNING_AHEAD = timedelta(days=366)


async def conference_for_read(
    conference_id: uuid.UUID, session: Session, principal: CasesReader
) -> CaseConference:
    return await get_visible_or_404(session, principal, CaseConference, conference_id)


async def conference_for_write(
    conference_id: uuid.UUID, session: Session, principal: CasesWriter
) -> CaseConference:
    return await get_visible_or_404(session, principal, CaseConference, conference_id)


ConferenceForRead = Annotated[CaseConference, Depends(conference_for_read)]
ConferenceForWrite = Annotated[CaseConference, Depends(conference_for_write)]


def _organiser(conference: CaseConference, principal: Principal) -> bool:
    return conference.organisation_id == principal.organisation_id


def _require_organiser(conference: CaseConference, principal: Principal) -> None:
    if not _organiser(conference, principal):
        raise Forbidden("Only the organising organisation changes the conference record")


async def _present(
    session: Session, principal: Principal, conference: CaseConference, response: Response | None
) -> ConferenceRead:
    participants = (
        await session.exec(
            select(ConferenceParticipant.organisation_id).where(
                col(ConferenceParticipant.conference_id) == conference.id
            )
        )
    ).all()
    actions = (
        await session.exec(
            scoped(select(ConferenceAction), principal, ConferenceAction)
            .where(col(ConferenceAction.conference_id) == conference.id)
            .order_by(col(ConferenceAction.due_on), col(ConferenceAction.id))
        )
    ).all()
    if response is not None:
        set_etag(response, conference)
    return ConferenceRead(
        id=conference.id,
        organisation_id=conference.organisation_id,
        case_id=conference.case_id if _organiser(conference, principal) else None,
        held_on=conference.held_on,
        location=conference.location,
        agenda=conference.agenda,
        decisions=conference.decisions,
        participant_organisation_ids=sorted(participants),
        external_participants=[
            ExternalParticipant.model_validate(p) for p in conference.external_participants
        ],
        action_items=[ActionItemRead.model_validate(a) for a in actions],
        created_at=conference.created_at,
        updated_at=conference.updated_at,
    )


def _check_held_on(held_on: date, case: Case) -> None:
    if held_on < case.opened_on or held_on > local_today() + MAX_PLANNING_AHEAD:
        raise Unprocessable.field(
            ["body", "held_on"], "must be between the case's opening and a year from today"
        )


async def _add_action(
    session: Session,
    principal: Principal,
    conference: CaseConference,
    members: set[uuid.UUID],
    item: ActionItemCreate,
    loc: list[str | int],
) -> ConferenceAction:
    if item.organisation_id not in members:
        raise Unprocessable.field(
            [*loc, "organisation_id"], "must be the organiser or a participating organisation"
        )
    if item.due_on < conference.held_on:
        raise Unprocessable.field([*loc, "due_on"], "cannot be before the conference")
    action = ConferenceAction(
        conference_id=conference.id,
        organisation_id=item.organisation_id,
        organiser_organisation_id=principal.organisation_id,
        description=item.description,
        due_on=item.due_on,
    )
    session.add(action)
    return action


async def _members(session: Session, conference: CaseConference) -> set[uuid.UUID]:
    rows = await session.exec(
        select(ConferenceParticipant.organisation_id).where(
            col(ConferenceParticipant.conference_id) == conference.id
        )
    )
    return {conference.organisation_id, *rows.all()}


@router.post(
    "",
    summary="Record a case conference with participants, decisions and action items",
    status_code=201,
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_case_conference(
    body: ConferenceCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    idempotency: IdempotencyDep,
) -> Any:
    if (replayed := await idempotency.replay(principal, body)) is not None:
        return replayed
    case = await resolve_reference(session, principal, Case, body.case_id, "case_id")
    if case.status == CaseStatus.closed.value:
        raise Conflict("The case is closed")
    _check_held_on(body.held_on, case)
    for index, organisation_id in enumerate(body.participant_organisation_ids):
        organisation = await session.get(Organisation, organisation_id)
        if (
            organisation is None
            or not organisation.active
            or organisation_id == case.organisation_id
        ):
            raise Unprocessable.field(
                ["body", "participant_organisation_ids", index],
                "no such member organisation (the organiser takes part anyway)",
            )
    conference = CaseConference(
        organisation_id=principal.organisation_id,
        case_id=case.id,
        held_on=body.held_on,
        location=body.location,
        agenda=body.agenda,
        decisions=body.decisions,
        external_participants=[p.model_dump() for p in body.external_participants],
        created_by=principal.user_id,
    )
    session.add(conference)
    await session.flush()
    for organisation_id in body.participant_organisation_ids:
        session.add(
            ConferenceParticipant(
                conference_id=conference.id,
                organisation_id=organisation_id,
                organiser_organisation_id=principal.organisation_id,
            )
        )
    members = {principal.organisation_id, *body.participant_organisation_ids}
    for index, item in enumerate(body.action_items):
        await _add_action(
            session, principal, conference, members, item, ["body", "action_items", index]
        )
    await session.flush()
    record(
        session,
        principal,
        "case_conference.create",
        resource_type=RESOURCE,
        resource_id=conference.id,
        case_id=case.id,
    )
    response.headers["Location"] = f"{API_V1}/case-conferences/{conference.id}"
    result = await _present(session, principal, conference, response)
    await idempotency.remember(201, result, response)
    return result


@router.get(
    "",
    summary="Case conferences you organised or take part in",
    response_model=Page[ConferenceRead],
    responses=error_responses(401, 403, 422),
)
async def list_case_conferences(
    request: Request,
    response: Response,
    session: Session,
    principal: CasesReader,
    pagination: Pagination,
    case_id: uuid.UUID | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
    role: Literal["organiser", "participant"] | None = None,
    sort: ConferenceSort = "-held_on",
) -> Page[ConferenceRead]:
    if held_from and held_to and held_from > held_to:
        raise Unprocessable.field(["query", "held_from"], "must not be after held_to")
    statement = scoped(select(CaseConference), principal, CaseConference)
    own = col(CaseConference.organisation_id) == principal.organisation_id
    if case_id is not None:
        statement = statement.where(own, col(CaseConference.case_id) == case_id)
    if role == "organiser":
        statement = statement.where(own)
    elif role == "participant":
        statement = statement.where(~own)
    if held_from is not None:
        statement = statement.where(col(CaseConference.held_on) >= held_from)
    if held_to is not None:
        statement = statement.where(col(CaseConference.held_on) <= held_to)
    items, next_cursor = await fetch_page(
        session, statement, pagination, SORTS[sort], request, response
    )
    record(
        session,
        principal,
        f"{RESOURCE}.list",
        resource_type=RESOURCE,
        record_ids=[c.id for c in items],
    )
    return Page(
        items=[await _present(session, principal, c, None) for c in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/{conference_id}",
    summary="Read a case conference (participants see their own action items)",
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 404, 422),
)
async def get_case_conference(
    conference: ConferenceForRead, response: Response, session: Session, principal: CasesReader
) -> ConferenceRead:
    record(
        session,
        principal,
        f"{RESOURCE}.read",
        resource_type=RESOURCE,
        resource_id=conference.id,
        case_id=conference.case_id if _organiser(conference, principal) else None,
    )
    return await _present(session, principal, conference, response)


@router.patch(
    "/{conference_id}",
    summary="Correct a conference record (organiser only; If-Match required)",
    response_model=ConferenceRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_case_conference(
    conference: ConferenceForWrite,
    body: ConferenceUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ConferenceRead:
    _require_organiser(conference, principal)
    changes = body.model_dump(exclude_unset=True)
    if "held_on" in changes:
        if changes["held_on"] is None:
            changes.pop("held_on")
        else:
            case = await session.get(Case, conference.case_id)
            assert case is not None
            _check_held_on(changes["held_on"], case)
    if changes.get("external_participants") is None:
        changes.pop("external_participants", None)
    changed = await apply_changes(session, conference, changes, if_match, principal)
    if changed:
        record(
            session,
            principal,
            f"{RESOURCE}.update",
            resource_type=RESOURCE,
            resource_id=conference.id,
            case_id=conference.case_id,
            changed_fields=changed,
        )
    return await _present(session, principal, conference, response)


@router.post(
    "/{conference_id}/actions",
    summary="Add an action item to a conference (organiser only)",
    status_code=201,
    response_model=ActionItemRead,
    responses=error_responses(401, 403, 404, 422),
)
async def create_conference_action(
    conference: ConferenceForWrite,
    body: ActionItemCreate,
    response: Response,
    session: Session,
    principal: CasesWriter,
) -> ActionItemRead:
    _require_organiser(conference, principal)
    members = await _members(session, conference)
    action = await _add_action(session, principal, conference, members, body, ["body"])
    await session.flush()
    record(
        session,
        principal,
        "conference_action.create",
        resource_type="conference_action",
        resource_id=action.id,
        case_id=conference.case_id,
    )
    set_etag(response, action)
    return ActionItemRead.model_validate(action)


@router.patch(
    "/{conference_id}/actions/{conference_action_id}",
    summary="Update an action item: its organisation marks it done; the organiser edits it",
    response_model=ActionItemRead,
    responses=error_responses(401, 403, 404, 412, 422, 428),
)
async def update_conference_action(
    conference: ConferenceForWrite,
    conference_action_id: uuid.UUID,
    body: ActionItemUpdate,
    response: Response,
    session: Session,
    principal: CasesWriter,
    if_match: IfMatch = None,
) -> ActionItemRead:
    action = await get_visible_or_404(session, principal, ConferenceAction, conference_action_id)
    if action.conference_id != conference.id:
        raise NotFound()
    changes = body.model_dump(exclude_unset=True)
    if not _organiser(conference, principal) and set(changes) - {"done_on"}:
        raise Forbidden("A participant only marks its own action items done")
    if changes.get("done_on") is not None and changes["done_on"] > local_today():
        raise Unprocessable.field(["body", "done_on"], "cannot be in the future")
    for required in ("description", "due_on"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    changed = await apply_changes(session, action, changes, if_match, principal)
    if changed:
        record(
            session,
            principal,
            "conference_action.update",
            resource_type="conference_action",
            resource_id=action.id,
            changed_fields=changed,
            case_id=conference.case_id if _organiser(conference, principal) else None,
        )
    set_etag(response, action)
    return ActionItemRead.model_validate(action)
