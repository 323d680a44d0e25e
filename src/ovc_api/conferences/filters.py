"""The list filters of case conferences (then their order)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import ColumnElement
from sqlmodel import col

from ovc_api.auth.principal import Principal
from ovc_api.conferences.models import CaseConference
from ovc_api.filtering import ListFilters, check_order, within


@dataclass(frozen=True)
class ConferenceListQuery(ListFilters):
    """A case's conferences are its organiser's (`case_id` names one of the caller's cases);
    `role` tells the organiser's from the participant's."""

    case_id: uuid.UUID | None = None
    held_from: date | None = None
    held_to: date | None = None
    role: Literal["organiser", "participant"] | None = None
    sort: Literal["held_on", "-held_on"] = "-held_on"

    def __post_init__(self) -> None:
        check_order(self.held_from, self.held_to, "held_from", "held_to")

    def clauses(self, principal: Principal) -> list[ColumnElement[bool]]:
        own = col(CaseConference.organisation_id) == principal.organisation_id
        clauses = within(CaseConference.held_on, self.held_from, self.held_to)
        if self.case_id is not None:
            clauses += [own, col(CaseConference.case_id) == self.case_id]
        if self.role is not None:
            clauses.append(own if self.role == "organiser" else ~own)
        return clauses
