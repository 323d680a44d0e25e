from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from ovc_api.models_base import (
    RevisionedRecord,
    Versioned,
    id_field,
    json_list,
    optional_text,
    organisation_fk,
    text_field,
    user_ref,
)


class CaseConference(RevisionedRecord, table=True):
    """A meeting of partners about a case, organised by the case's organisation.

    Participating member organisations read the conference record and their own action
    items, never the rest of the case."""

    __tablename__ = "case_conferences"
    __table_args__ = (Index("ix_case_conferences_org_held", "organisation_id", "held_on", "id"),)

    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    held_on: date
    location: str | None = optional_text(300)
    agenda: str | None = Field(default=None, sa_column=Column(Text))
    decisions: str | None = Field(default=None, sa_column=Column(Text))
    # Named people from outside the network: commune officials, local businesses...
    external_participants: list[dict[str, Any]] = json_list()
    created_by: uuid.UUID | None = user_ref()


class ConferenceParticipant(SQLModel, table=True):
    """A member organisation taking part; carries the organiser so policies stay simple."""

    __tablename__ = "conference_participants"
    __table_args__ = (Index("ix_conference_participants_org", "organisation_id", "conference_id"),)

    conference_id: uuid.UUID = Field(foreign_key="case_conferences.id", primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", primary_key=True)
    organiser_organisation_id: uuid.UUID = Field(foreign_key="organisations.id")


class ConferenceAction(Versioned, table=True):
    """An action item assigned to a participating organisation (`organisation_id`)."""

    __tablename__ = "conference_actions"
    __table_args__ = (
        Index("ix_conference_actions_org_due", "organisation_id", "done_on", "due_on"),
        Index("ix_conference_actions_conference", "conference_id", "due_on", "id"),
    )
    __revisioned__ = True

    id: uuid.UUID = id_field()
    conference_id: uuid.UUID = Field(foreign_key="case_conferences.id")
    organisation_id: uuid.UUID = organisation_fk()
    organiser_organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    description: str = text_field(2000)
    due_on: date
    done_on: date | None = Field(default=None)
