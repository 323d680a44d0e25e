"""Consent-scoped sharing through referrals, as visibility rules.

The receiver's case managers see the referral itself (to accept, decline or complete it);
a caseworker sees the referrals of the cases assigned to them. While the referral is
accepted, the receiver may read, one record at a time, the referred child, their family (and
its members) and the case: never list, change or go beyond them. The sender sees the
services the receiver records under its referrals. Row-level security repeats these rules
(migration 0004) between organisations.

The caseworker narrowing holds inside these widenings too (issue 10, section 6): whoever
sees only assigned cases (a caseworker, a key without `cases:all`) sees the receiver's
services only under referrals of the cases assigned to them, and on the receiving side,
where it cannot see the referral, it reads nothing the referral shares.

"Accepted by the caller's organisation" is written once, in `sharing.access`: the same
condition admits a shared read and names the referral behind it for the audit log.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from ovc_api.auth.principal import Principal
from ovc_api.cases.models import Case, CaseConcern
from ovc_api.cases.visibility import my_case_ids, sees_all_cases
from ovc_api.children.models import Child
from ovc_api.families.models import Family, FamilyMember
from ovc_api.services.models import ServiceDelivery
from ovc_api.sharing.access import ThroughAcceptedReferral
from ovc_api.sharing.models import Referral
from ovc_api.tenancy import VisibilityRules


def _received(principal: Principal) -> ColumnElement[bool] | None:
    """Incoming referrals are triaged by those who see all the organisation's cases."""
    if not sees_all_cases(principal):
        return None
    return col(Referral.receiving_organisation_id) == principal.organisation_id


def _sent_for_my_cases(principal: Principal) -> ColumnElement[bool] | None:
    if sees_all_cases(principal):
        return None
    return col(Referral.case_id).in_(my_case_ids(principal))


def _services_under_my_referrals(principal: Principal) -> ColumnElement[bool]:
    sent = select(col(Referral.id)).where(
        col(Referral.organisation_id) == principal.organisation_id
    )
    if not sees_all_cases(principal):
        sent = sent.where(col(Referral.case_id).in_(my_case_ids(principal)))
    return col(ServiceDelivery.referral_id).in_(sent)


def _shared(key: object, referred: object) -> ThroughAcceptedReferral:
    """Shared with those who see the received referral itself (`_received`)."""
    return ThroughAcceptedReferral(key, referred, reader=sees_all_cases)


REFERRED_FAMILY_MEMBERS = _shared(FamilyMember.family_id, Referral.family_id)


def add_rules(rules: VisibilityRules) -> None:
    rules.narrow(Referral, _sent_for_my_cases)
    rules.widen(Referral, _received)
    rules.widen(ServiceDelivery, _services_under_my_referrals)
    rules.share_for_reading(Child, _shared(Child.id, Referral.child_id))
    rules.share_for_reading(Family, _shared(Family.id, Referral.family_id))
    rules.share_for_reading(Case, _shared(Case.id, Referral.case_id))
    rules.share_for_reading(CaseConcern, _shared(CaseConcern.case_id, Referral.case_id))
    # Members are only ever listed under a family already loaded in scope.
    rules.widen(FamilyMember, REFERRED_FAMILY_MEMBERS.clause)
