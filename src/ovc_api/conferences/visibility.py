"""Participants of a case conference read it and their own action items; the organiser all.

Within each organisation the caseworker narrowing holds: the organiser's caseworkers see
the conferences of the cases assigned to them, and a participant's conferences are seen by
those who see all its cases (a caseworker has no assigned case there to tie them to).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.cases.visibility import my_case_ids, sees_all_cases
from ovc_api.conferences.models import CaseConference, ConferenceAction, ConferenceParticipant
from ovc_api.tenancy import VisibilityRules


def _participating(principal: Principal) -> ColumnElement[bool] | None:
    if not sees_all_cases(principal):
        return None
    mine = select(col(ConferenceParticipant.conference_id)).where(
        col(ConferenceParticipant.organisation_id) == principal.organisation_id
    )
    return col(CaseConference.id).in_(mine)


def _organised_participants(principal: Principal) -> ColumnElement[bool]:
    return col(ConferenceParticipant.organiser_organisation_id) == principal.organisation_id


def _organised_actions(principal: Principal) -> ColumnElement[bool]:
    return col(ConferenceAction.organiser_organisation_id) == principal.organisation_id


def _my_cases_conferences(principal: Principal) -> ColumnElement[bool] | None:
    """A caseworker sees the conferences about the cases assigned to them."""
    if sees_all_cases(principal):
        return None
    return col(CaseConference.case_id).in_(my_case_ids(principal))


def add_rules(rules: VisibilityRules) -> None:
    rules.narrow(CaseConference, _my_cases_conferences)
    rules.widen(CaseConference, _participating)
    rules.widen(ConferenceParticipant, _organised_participants)
    rules.widen(ConferenceAction, _organised_actions)
