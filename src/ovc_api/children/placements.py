"""A child's placements: its care history as periods, one open at a time. The child's
`care_arrangement` is derived from the open placement; the rules of recording placements
are in `care/service.py`, the first one (as found when the child is recorded) here."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, text
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.children.models import CareArrangement, Child
from ovc_api.models_base import Versioned, enum_field, id_field, organisation_fk


class PlacementType(StrEnum):
    parents = "parents"
    single_parent = "single_parent"
    kinship_care = "kinship_care"
    foster_care = "foster_care"
    guardianship = "guardianship"
    residential_care = "residential_care"
    group_home = "group_home"
    supported_independent_living = "supported_independent_living"
    other = "other"


RESIDENTIAL = frozenset({PlacementType.residential_care, PlacementType.group_home})
FAMILY_BASED = frozenset(
    {
        PlacementType.parents,
        PlacementType.single_parent,
        PlacementType.kinship_care,
        PlacementType.foster_care,
        PlacementType.guardianship,
    }
)

# The child's care arrangement as derived from its current placement's type, and back.
ARRANGEMENT_OF: dict[PlacementType, CareArrangement] = {
    PlacementType.parents: CareArrangement.parents,
    PlacementType.single_parent: CareArrangement.single_parent,
    PlacementType.kinship_care: CareArrangement.kinship_care,
    PlacementType.foster_care: CareArrangement.foster_care,
    PlacementType.guardianship: CareArrangement.other,
    PlacementType.residential_care: CareArrangement.residential_care,
    PlacementType.group_home: CareArrangement.residential_care,
    PlacementType.supported_independent_living: CareArrangement.independent_living,
    PlacementType.other: CareArrangement.other,
}
PLACEMENT_OF: dict[CareArrangement, PlacementType] = {
    CareArrangement.parents: PlacementType.parents,
    CareArrangement.single_parent: PlacementType.single_parent,
    CareArrangement.kinship_care: PlacementType.kinship_care,
    CareArrangement.foster_care: PlacementType.foster_care,
    CareArrangement.residential_care: PlacementType.residential_care,
    CareArrangement.independent_living: PlacementType.supported_independent_living,
    CareArrangement.other: PlacementType.other,
}


class Placement(Versioned, table=True):
    """One period of a child's care. At most one open period per child (a partial unique
    index on both databases); periods never overlap (checked by the service, and on
    PostgreSQL by an exclusion constraint as well)."""

    __tablename__ = "placements"
    __table_args__ = (
        Index("ix_placements_org_child", "organisation_id", "child_id", "started_on"),
        Index(
            "uq_placements_one_open",
            "child_id",
            unique=True,
            sqlite_where=text("ended_on IS NULL"),
            postgresql_where=text("ended_on IS NULL"),
        ),
        CheckConstraint("ended_on IS NULL OR ended_on > started_on", name="period_not_reversed"),
    )
    __revisioned__ = True

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    child_id: uuid.UUID = Field(foreign_key="children.id", index=True)
    placement_type: str = enum_field(40)
    facility_id: uuid.UUID | None = Field(
        default=None, foreign_key="care_facilities.id", index=True
    )
    caregiver: str | None = Field(default=None, sa_type=String(200))
    started_on: date
    ended_on: date | None = Field(default=None)
    reason: str | None = Field(default=None, sa_type=String(1000))
    end_reason: str | None = Field(default=None, sa_type=String(1000))
    decision_reference: str | None = Field(default=None, sa_type=String(100))
    recorded_at_intake: bool = Field(default=False)
    gatekeeping_decided_by: str | None = enum_field(24, default=None, nullable=True)
    gatekeeping_decided_on: date | None = Field(default=None)
    gatekeeping_tracing_id: uuid.UUID | None = Field(
        default=None, foreign_key="tracing_attempts.id"
    )
    family_care_not_possible_reason: str | None = Field(default=None, sa_type=String(2000))
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")


async def first_placement(
    session: AsyncSession, principal: Principal, child: Child, started_on: date
) -> Placement:
    """The care a child is in when first recorded: as found at intake, no decision behind it."""
    placement = Placement(
        organisation_id=child.organisation_id,
        child_id=child.id,
        placement_type=PLACEMENT_OF[CareArrangement(child.care_arrangement)].value,
        started_on=started_on,
        recorded_at_intake=True,
        recorded_by=principal.user_id,
    )
    return await service_kit.insert(session, principal, placement, resource="placement")
