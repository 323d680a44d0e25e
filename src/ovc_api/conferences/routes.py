"""Case conferences: partners meet about a case; participants see the record, not the case.

HTTP only: the rules and the audit are in `conferences/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from ovc_api import API_V1
from ovc_api import record_routes as kit
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.conferences import schemas, service
from ovc_api.conferences.filters import ConferenceListQuery
from ovc_api.conferences.models import CaseConference
from ovc_api.errors import error_responses

router = APIRouter(prefix=f"{API_V1}/case-conferences", tags=["case-conferences"])
SORTS = kit.sorts_of(CaseConference, ConferenceListQuery)
SHOW_ACTION = kit.validated(schemas.ActionItemRead)


conference_for_read, conference_for_write = kit.loaders(
    service.conference_in_scope, "conference_id"
)
ConferenceForWrite = Annotated[CaseConference, Depends(conference_for_write)]
ONE = [("conference", Annotated[CaseConference, Depends(conference_for_read)])]
FOR_WRITE = [("conference", ConferenceForWrite)]

kit.add_create(
    router,
    "",
    "create_case_conference",
    "Record a case conference with participants, decisions and action items",
    schemas.ConferenceRead,
    error_responses(401, 403, 409, 422),
    CasesWriter,
    (),
    schemas.ConferenceCreate,
    service.record_conference,
    service.conference_read,
    lambda conference: f"{API_V1}/case-conferences/{conference.id}",
    service.RESOURCE,
)


kit.add_page(
    router,
    "",
    "list_case_conferences",
    "Case conferences you organised or take part in",
    schemas.ConferenceRead,
    error_responses(401, 403, 422),
    CasesReader,
    (),
    ConferenceListQuery,
    kit.scoped_to(CaseConference),
    SORTS,
    service.conference_reads,
    audit_as=service.RESOURCE,
)
kit.add_read(
    router,
    "/{conference_id}",
    "get_case_conference",
    "Read a case conference (participants see their own action items)",
    schemas.ConferenceRead,
    error_responses(401, 403, 404, 422),
    CasesReader,
    ONE,
    service.conference_read,
    service.read_conference,
)
kit.add_correct(
    router,
    "/{conference_id}",
    "update_case_conference",
    "Correct a conference record (organiser only; If-Match required)",
    schemas.ConferenceRead,
    error_responses(401, 403, 404, 412, 422, 428),
    CasesWriter,
    FOR_WRITE,
    schemas.ConferenceUpdate,
    service.correct_conference,
    service.conference_read,
)
kit.add_action(
    router,
    "/{conference_id}/actions",
    "create_conference_action",
    "Add an action item to a conference (organiser only)",
    schemas.ActionItemRead,
    error_responses(401, 403, 404, 422),
    CasesWriter,
    FOR_WRITE,
    schemas.ActionItemCreate,
    service.add_action_item,
    SHOW_ACTION,
    status_code=201,
)
ACTION_ITEM = [*FOR_WRITE, ("conference_action_id", uuid.UUID)]
kit.add_correct(
    router,
    "/{conference_id}/actions/{conference_action_id}",
    "update_conference_action",
    "Update an action item: its organisation marks it done; the organiser edits it",
    schemas.ActionItemRead,
    error_responses(401, 403, 404, 412, 422, 428),
    CasesWriter,
    ACTION_ITEM,
    schemas.ActionItemUpdate,
    service.update_action_item,
    SHOW_ACTION,
)
