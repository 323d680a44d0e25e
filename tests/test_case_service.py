"""The cases service called without HTTP (as a job, the CLI or the demo would): the rules
hold there too, not only behind the routes."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ovc_api.cases import service
from ovc_api.cases.models import CaseStatus, ClosureReason, ClosureRequestStatus
from ovc_api.cases.schemas import ClosureApproval, ClosureRequestCreate
from ovc_api.errors import Conflict

from .conftest import Factory, Tenant


async def _closure_requested_by(
    factory: Factory, tenant: Tenant, role: str
) -> tuple[uuid.UUID, uuid.UUID]:
    actor = tenant[role]
    case_id = await factory.case(tenant.organisation_id, assigned_to=actor.user_id)
    async with factory.as_service(actor) as (session, principal):
        case = await service.case_in_scope(session, principal, case_id)
        request = ClosureRequestCreate(
            reason=ClosureReason.reunified_with_family, closed_on=date(2026, 3, 1)
        )
        closure = await service.request_closure(session, principal, case, request)
    return case_id, closure.id


async def test_a_service_call_refuses_approving_ones_own_closure_request(
    factory: Factory, tenant_a: Tenant
) -> None:
    case_id, closure_id = await _closure_requested_by(factory, tenant_a, "case_manager")
    async with factory.as_service(tenant_a["case_manager"]) as (session, principal):
        case = await service.case_in_scope(session, principal, case_id)
        with pytest.raises(Conflict, match="another case manager must approve"):
            await service.approve_closure(session, principal, case, closure_id, ClosureApproval())
    async with factory.as_service(tenant_a["org_admin"]) as (session, principal):
        case = await service.case_in_scope(session, principal, case_id)
        closure = await service.approve_closure(
            session, principal, case, closure_id, ClosureApproval()
        )
        assert closure.status == ClosureRequestStatus.approved
        assert case.status == CaseStatus.closed
