"""The rules of case conferences: an open case's organiser records it (held between the
case's opening and a year from today) with active partner organisations; only the organiser
changes the record; action items go to the organiser or a participant, and a participant
only marks its own done; participants see the record, never the case; every read and change
audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseStatus
from ovc_api.clock import local_today
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
from ovc_api.errors import Conflict, Forbidden, NotFound, Unprocessable
from ovc_api.identity.models import Organisation
from ovc_api.outbox import emit_for_audit
from ovc_api.tenancy import get_visible_or_404, resolve_reference, scoped

RESOURCE = "case_conference"
ACTION = "conference_action"
MAX_PLANNING_AHEAD = timedelta(days=366)


# A conference the caller organised or takes part in (404 otherwise).
conference_in_scope = service_kit.Records(CaseConference, RESOURCE).in_scope


def is_organiser(conference: CaseConference, principal: Principal) -> bool:
    return conference.organisation_id == principal.organisation_id


def _require_organiser(conference: CaseConference, principal: Principal) -> None:
    if not is_organiser(conference, principal):
        raise Forbidden("Only the organising organisation changes the conference record")


async def conference_read(
    session: AsyncSession, principal: Principal, conference: CaseConference
) -> ConferenceRead:
    """The record as the caller may see it: the case id for the organiser only, and the
    action items the caller's scope shows."""
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
    return ConferenceRead(
        id=conference.id,
        organisation_id=conference.organisation_id,
        case_id=conference.case_id if is_organiser(conference, principal) else None,
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


async def conference_reads(
    session: AsyncSession, principal: Principal, conferences: Sequence[CaseConference]
) -> list[ConferenceRead]:
    return [await conference_read(session, principal, c) for c in conferences]


def _check_held_on(held_on: date, case: Case) -> None:
    if held_on < case.opened_on or held_on > local_today() + MAX_PLANNING_AHEAD:
        raise Unprocessable.field(
            ["body", "held_on"], "must be between the case's opening and a year from today"
        )


def _add_action(
    session: AsyncSession,
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
        **service_kit.stored(item),
        conference_id=conference.id,
        organiser_organisation_id=principal.organisation_id,
    )
    session.add(action)
    return action


async def _members(session: AsyncSession, conference: CaseConference) -> set[uuid.UUID]:
    rows = await session.exec(
        select(ConferenceParticipant.organisation_id).where(
            col(ConferenceParticipant.conference_id) == conference.id
        )
    )
    return {conference.organisation_id, *rows.all()}


async def record_conference(
    session: AsyncSession, principal: Principal, data: ConferenceCreate
) -> CaseConference:
    """A conference about an open case, with its participants, decisions and action items."""
    case = await resolve_reference(session, principal, Case, data.case_id, "case_id")
    if case.status == CaseStatus.closed.value:
        raise Conflict("The case is closed")
    _check_held_on(data.held_on, case)
    for index, organisation_id in enumerate(data.participant_organisation_ids):
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
    recorded = ("held_on", "location", "agenda", "decisions", "external_participants")
    conference = CaseConference(
        **service_kit.stored(data, include=recorded),
        organisation_id=principal.organisation_id,
        case_id=case.id,
        created_by=principal.user_id,
    )
    session.add(conference)
    await session.flush()
    for organisation_id in data.participant_organisation_ids:
        session.add(
            ConferenceParticipant(
                conference_id=conference.id,
                organisation_id=organisation_id,
                organiser_organisation_id=principal.organisation_id,
            )
        )
    members = {principal.organisation_id, *data.participant_organisation_ids}
    actions = [
        _add_action(session, principal, conference, members, item, ["body", "action_items", index])
        for index, item in enumerate(data.action_items)
    ]
    await session.flush()
    for action in actions:  # audited with the conference, announced one by one
        emit_for_audit(
            session, principal.organisation_id, f"{ACTION}.create", ACTION, action.id, case.id
        )
    service_kit.audit(session, principal, RESOURCE, "create", conference.id, case_id=case.id)
    return conference


def read_conference(
    session: AsyncSession, principal: Principal, conference: CaseConference
) -> CaseConference:
    """Audit a read; the case is named only in the organiser's log terms. A participant's
    read is in the organiser's log too."""
    return service_kit.read_both_sides(
        session,
        principal,
        conference,
        resource=RESOURCE,
        case_id=conference.case_id if is_organiser(conference, principal) else None,
    )


async def correct_conference(
    session: AsyncSession,
    principal: Principal,
    conference: CaseConference,
    data: ConferenceUpdate,
    *,
    if_match: str | None,
) -> CaseConference:
    _require_organiser(conference, principal)
    not_null = {"held_on", "external_participants"}
    changes = service_kit.stored(data, sent_only=True, not_null=not_null)
    if "held_on" in changes:
        case = await session.get(Case, conference.case_id)
        assert case is not None
        _check_held_on(changes["held_on"], case)
    return await service_kit.correct(
        session,
        principal,
        conference,
        changes,
        if_match=if_match,
        resource=RESOURCE,
        case_id=conference.case_id,
    )


async def add_action_item(
    session: AsyncSession,
    principal: Principal,
    conference: CaseConference,
    data: ActionItemCreate,
) -> ConferenceAction:
    """An action item for the organiser or a participant (the organiser adds them)."""
    _require_organiser(conference, principal)
    members = await _members(session, conference)
    action = _add_action(session, principal, conference, members, data, ["body"])
    await session.flush()
    service_kit.audit(session, principal, ACTION, "create", action.id, case_id=conference.case_id)
    return action


async def update_action_item(
    session: AsyncSession,
    principal: Principal,
    conference: CaseConference,
    action_id: uuid.UUID,
    data: ActionItemUpdate,
    *,
    if_match: str | None,
) -> ConferenceAction:
    """Its organisation marks it done (not in the future); the organiser edits it."""
    action = await get_visible_or_404(session, principal, ConferenceAction, action_id)
    if action.conference_id != conference.id:
        raise NotFound()
    changes = data.model_dump(exclude_unset=True)
    if not is_organiser(conference, principal) and set(changes) - {"done_on"}:
        raise Forbidden("A participant only marks its own action items done")
    if changes.get("done_on") is not None and changes["done_on"] > local_today():
        raise Unprocessable.field(["body", "done_on"], "cannot be in the future")
    for required in ("description", "due_on"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    case_id = conference.case_id if is_organiser(conference, principal) else None
    return await service_kit.correct(
        session, principal, action, changes, if_match=if_match, resource=ACTION, case_id=case_id
    )
