"""Consent-scoped sharing through referrals, registered with the one tenancy mechanism.

The receiver's case managers see the referral itself (to accept, decline or complete it);
a caseworker sees the referrals of the cases assigned to them. While the
referral is accepted, the receiver may read, one record at a time, the referred child, their
family (and its members) and the case: never list, change or go beyond them. The sender sees
the services the receiver records under its referrals. Row-level security repeats these
rules (migration 0004).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern
from ovc_api.cases.visibility import my_case_ids, sees_all_cases
from ovc_api.children.models import Child
from ovc_api.families.models import Family, FamilyMember
from ovc_api.referrals.models import Referral, ReferralStatus
from ovc_api.services.models import ServiceDelivery
from ovc_api.tenancy import narrow_visibility, widen_visibility


def accepted_for(principal: Principal, column: Any) -> Any:
    """Ids (of the given referral column) of referrals accepted by the caller's organisation."""
    return select(column).where(
        col(Referral.receiving_organisation_id) == principal.organisation_id,
        col(Referral.status) == ReferralStatus.accepted.value,
    )


def _received(principal: Principal) -> ColumnElement[bool] | None:
    """Incoming referrals are triaged by those who see all the organisation's cases."""
    if not sees_all_cases(principal):
        return None
    return col(Referral.receiving_organisation_id) == principal.organisation_id


def _sent_for_my_cases(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    return col(Referral.case_id).in_(my_case_ids(principal))


def _referred_child(principal: Principal) -> ColumnElement[bool]:
    return col(Child.id).in_(accepted_for(principal, Referral.child_id))


def _referred_family(principal: Principal) -> ColumnElement[bool]:
    return col(Family.id).in_(accepted_for(principal, Referral.family_id))


def _referred_family_members(principal: Principal) -> ColumnElement[bool]:
    return col(FamilyMember.family_id).in_(accepted_for(principal, Referral.family_id))


def _referred_case(principal: Principal) -> ColumnElement[bool]:
    return col(Case.id).in_(accepted_for(principal, Referral.case_id))


def _referred_case_concerns(principal: Principal) -> ColumnElement[bool]:
    return col(CaseConcern.case_id).in_(accepted_for(principal, Referral.case_id))


def _services_under_my_referrals(principal: Principal) -> ColumnElement[bool]:
    sent = select(col(Referral.id)).where(
        col(Referral.organisation_id) == principal.organisation_id
    )
    return col(ServiceDelivery.referral_id).in_(sent)


narrow_visibility(Referral, _sent_for_my_cases)
widen_visibility(Referral, _received)
widen_visibility(ServiceDelivery, _services_under_my_referrals)
widen_visibility(Child, _referred_child, single_reads_only=True)
widen_visibility(Family, _referred_family, single_reads_only=True)
# Members are only ever listed under a family already loaded in scope.
widen_visibility(FamilyMember, _referred_family_members)
widen_visibility(Case, _referred_case, single_reads_only=True)
widen_visibility(CaseConcern, _referred_case_concerns, single_reads_only=True)
