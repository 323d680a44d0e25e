"""Children: recorded once (duplicates are flagged), read and corrected with an audit trail.

HTTP only: the rules and the audit are in `children/service.py`; answers go through
`http_epilogue`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import col

from ovc_api import API_V1
from ovc_api.auth.principal import CasesReader, CasesWriter
from ovc_api.children import service
from ovc_api.children.filters import ChildListQuery
from ovc_api.children.models import Child
from ovc_api.children.schemas import ChildCreate, ChildRead, ChildUpdate
from ovc_api.db import Session
from ovc_api.pagination import parse_date, parse_datetime, sort_options
from ovc_api.record_routes import RecordKind, add_revisions_route, add_routes
from ovc_api.row_reads import table_reads

router = APIRouter(prefix=f"{API_V1}/children", tags=["children"])
RESOURCE = service.RESOURCE
SORTS = sort_options(
    col(Child.id),
    created_at=(col(Child.created_at), parse_datetime),
    updated_at=(col(Child.updated_at), parse_datetime),
    date_of_birth=(col(Child.date_of_birth), parse_date),
)


async def child_for_read(child_id: uuid.UUID, session: Session, principal: CasesReader) -> Child:
    return await service.child_in_scope(session, principal, child_id)


async def shared_child_for_read(
    child_id: uuid.UUID, session: Session, principal: CasesReader
) -> Child:
    """The child's record itself, which an accepted referral also shares (read-only)."""
    return await service.child_in_scope(session, principal, child_id, shared=True)


async def child_for_write(child_id: uuid.UUID, session: Session, principal: CasesWriter) -> Child:
    return await service.child_in_scope(session, principal, child_id)


ChildForRead = Annotated[Child, Depends(child_for_read)]
SharedChildForRead = Annotated[Child, Depends(shared_child_for_read)]
ChildForWrite = Annotated[Child, Depends(child_for_write)]


CHILDREN = RecordKind(
    name="child",
    plural="children",
    path="",
    model=Child,
    read=ChildRead,
    create=ChildCreate,
    update=ChildUpdate,
    query=ChildListQuery,
    sorts=SORTS,
    resource=RESOURCE,
    for_read=ChildForRead,
    for_write=ChildForWrite,
    shared_read=SharedChildForRead,
    add=service.record_child,
    audit_read=service.read_child,
    correct=service.correct_child,
    location=lambda child: f"{API_V1}/children/{child.id}",
    rows=table_reads("child", Child, ChildRead, shared=True),
    create_description=(
        "A likely duplicate (same names in either script, birth within a year, same commune "
        "or province), among the children the caller may see, answers 409 with "
        "`duplicates`: for each candidate only its `id`, `initials` (e.g. `S. C.`) and "
        "`birth_year`, never its names, birth date or address. That is enough to decide: "
        "open the candidate (`GET /children/{id}`, or its cases with `GET /cases?child_id=`) "
        "under your own scope, or resend with `confirm_not_duplicate: true`. Each candidate "
        "shown is recorded in its organisation's audit log (`child.duplicate_shown`)."
    ),
    summaries=(
        "Record a child (likely duplicates answer 409 unless confirmed)",
        "List children, filtered; `q` searches any name part in either script",
        "Read a child's record",
        "Correct or archive a child's record (If-Match required; history is kept)",
    ),
)
add_routes(router, CHILDREN)
add_revisions_route(
    router,
    CHILDREN,
    service.revisions,
    "Earlier values of a child's corrected fields, newest first",
)
