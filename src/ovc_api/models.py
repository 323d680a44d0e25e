"""Imports every domain's table models, so Alembic and tests see the whole schema."""

from ovc_api.audit.models import AuditEvent
from ovc_api.auth.models import AuthSession, LoginThrottle, RefreshToken
from ovc_api.care.models import (
    CareFacility,
    CareSettings,
    MonitoringVisit,
    Placement,
    ReintegrationPlan,
    TracingAttempt,
)
from ovc_api.cases.models import Case, CaseConcern, CaseStatusChange, ClosureRequest
from ovc_api.casework.models import Assessment, CaseNote, CasePlanAction, CasePlanGoal, FollowUp
from ovc_api.children.models import Child
from ovc_api.conferences.models import CaseConference, ConferenceAction, ConferenceParticipant
from ovc_api.families.models import Family, FamilyMember
from ovc_api.idempotency import IdempotencyRecord
from ovc_api.identity.models import ApiKey, Organisation, User
from ovc_api.imports.models import ImportJob
from ovc_api.outbox import Event
from ovc_api.revisions import Revision
from ovc_api.services.models import OrganisationService, ServiceDelivery
from ovc_api.sharing.models import Referral
from ovc_api.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "Assessment",
    "AuditEvent",
    "AuthSession",
    "CareFacility",
    "CareSettings",
    "Case",
    "CaseConcern",
    "CaseConference",
    "CaseNote",
    "CasePlanAction",
    "CasePlanGoal",
    "CaseStatusChange",
    "Child",
    "ClosureRequest",
    "ConferenceAction",
    "ConferenceParticipant",
    "Event",
    "Family",
    "FamilyMember",
    "FollowUp",
    "IdempotencyRecord",
    "ImportJob",
    "LoginThrottle",
    "MonitoringVisit",
    "Organisation",
    "OrganisationService",
    "Placement",
    "Referral",
    "RefreshToken",
    "ReintegrationPlan",
    "Revision",
    "ServiceDelivery",
    "TracingAttempt",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
