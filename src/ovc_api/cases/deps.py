"""Load-or-404 dependencies for a case and everything under /cases/{case_id}/...

A case the caller may not see (another organisation's, or for a caseworker one not assigned
to them) answers 404 exactly like a missing one; sub-resource routes build on these. Only the
case record itself is shared through an accepted referral (read by `GET /cases/{id}`, `CASE_ROWS`):
its notes, assessments, plan, history and logs never are.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from ovc_api.auth.principal import CaseApprover, CasesReader, CasesWriter
from ovc_api.cases.models import Case
from ovc_api.cases.service import case_in_scope
from ovc_api.db import Session


async def case_for_read(case_id: uuid.UUID, session: Session, principal: CasesReader) -> Case:
    """A case of the caller's own organisation: for its sub-resources, history and logs."""
    return await case_in_scope(session, principal, case_id)


async def case_for_write(case_id: uuid.UUID, session: Session, principal: CasesWriter) -> Case:
    return await case_in_scope(session, principal, case_id)


async def case_for_approval(case_id: uuid.UUID, session: Session, principal: CaseApprover) -> Case:
    return await case_in_scope(session, principal, case_id)


CaseForRead = Annotated[Case, Depends(case_for_read)]
CaseForWrite = Annotated[Case, Depends(case_for_write)]
CaseForApproval = Annotated[Case, Depends(case_for_approval)]
