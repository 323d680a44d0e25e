"""The case status workflow on one screen: which status may follow which.

Closing is not a transition: it goes through a closure request that a case manager approves.
Reopening a closed case is a case manager's decision too (POST /cases/{case_id}/reopen).
"""

from __future__ import annotations

import uuid

from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseStatus, CaseStatusChange
from ovc_api.errors import Conflict

TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    #  from              allowed targets
    CaseStatus.intake: (CaseStatus.assessment,),
    CaseStatus.assessment: (CaseStatus.case_plan,),
    CaseStatus.case_plan: (CaseStatus.implementation,),
    CaseStatus.implementation: (CaseStatus.review,),
    CaseStatus.review: (CaseStatus.implementation, CaseStatus.case_plan),
    CaseStatus.closed: (),  # reopen instead
}
REOPEN_TARGETS = (CaseStatus.assessment, CaseStatus.intake)


def allowed_targets(current: str) -> list[str]:
    return [target.value for target in TRANSITIONS[CaseStatus(current)]]


def check_transition(current: str, target: CaseStatus) -> None:
    """409 for a move the workflow does not allow, naming the statuses that would be."""
    allowed = allowed_targets(current)
    if target.value in allowed:
        return
    extra = {"allowed": allowed}
    if target is CaseStatus.closed:
        raise Conflict(
            "A case is closed only through a closure request approved by a case manager: "
            "POST /api/v1/cases/{case_id}/closure-requests",
            extra=extra,
        )
    if current == CaseStatus.closed:
        raise Conflict(
            "The case is closed: a case manager can reopen it "
            "(POST /api/v1/cases/{case_id}/reopen)",
            extra=extra,
        )
    targets = ", ".join(allowed) or "none"
    raise Conflict(
        f"A case in status {current} cannot move to {target.value}; allowed: {targets}",
        extra=extra,
    )


def status_change(
    case: Case,
    principal: Principal,
    from_status: str | None,
    *,
    note: str | None = None,
    changed_by: uuid.UUID | None = None,
    approved_by: uuid.UUID | None = None,
) -> CaseStatusChange:
    """The history row of a change to `case.status` (already applied to the case)."""
    return CaseStatusChange(
        organisation_id=case.organisation_id,
        case_id=case.id,
        from_status=from_status,
        to_status=case.status,
        closure_reason=case.closure_reason if case.status == CaseStatus.closed else None,
        note=note,
        changed_by=changed_by if changed_by is not None else principal.user_id,
        approved_by=approved_by,
    )
