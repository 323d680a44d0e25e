from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from ovc_api.children.models import BirthRegistration, CareArrangement, Disability, Schooling, Sex
from ovc_api.geography import Province
from ovc_api.schemas_common import Location, Nfc, OwnedRecordRead, StrictBody, not_in_future

NAME = Field(default=None, min_length=1, max_length=100)
EARLIEST_BIRTH = date(1990, 1, 1)


def _check_birth_date(value: date | None) -> date | None:
    value = not_in_future(value)
    if value is not None and value < EARLIEST_BIRTH:
        raise ValueError(f"cannot be before {EARLIEST_BIRTH.isoformat()}")
    return value


class ChildNames(BaseModel):
    given_name_latin: Nfc[str | None] = NAME
    family_name_latin: Nfc[str | None] = NAME
    given_name_khmer: Nfc[str | None] = NAME
    family_name_khmer: Nfc[str | None] = NAME


class ChildCreate(StrictBody, ChildNames, Location):
    sex: Sex
    date_of_birth: date | None = Field(default=None, description="Exact, or an estimate (flag it)")
    birth_date_estimated: bool = False
    birth_registration: BirthRegistration = BirthRegistration.unknown
    disability: Disability = Disability.none
    schooling_status: Schooling = Schooling.unknown
    care_arrangement: CareArrangement = Field(
        description="The care the child is in when recorded: becomes its first placement"
    )
    family_id: uuid.UUID | None = None
    confirm_not_duplicate: bool = Field(
        default=False,
        description="Create even though likely duplicates were reported (409 `duplicates`)",
    )

    _birth = field_validator("date_of_birth")(_check_birth_date)

    @model_validator(mode="after")
    def _needs_a_name(self) -> ChildCreate:
        if not (self.given_name_latin or self.given_name_khmer):
            raise ValueError("a given name in Latin or Khmer script is required")
        return self


class ChildUpdate(StrictBody, ChildNames):
    sex: Sex | None = None
    date_of_birth: date | None = None
    birth_date_estimated: bool | None = None
    birth_registration: BirthRegistration | None = None
    disability: Disability | None = None
    schooling_status: Schooling | None = None
    care_arrangement: CareArrangement | None = Field(
        default=None,
        description="Read-only (derived from the current placement): only the current value "
        "is accepted; record a placement to change it",
    )
    province: Province | None = None
    district: str | None = Field(default=None, max_length=100)
    commune: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)
    family_id: uuid.UUID | None = None
    archived: bool | None = Field(default=None, description="Archive (or restore); never deleted")

    _birth = field_validator("date_of_birth")(_check_birth_date)


class ChildRead(OwnedRecordRead):
    family_id: uuid.UUID | None
    given_name_latin: str | None
    family_name_latin: str | None
    given_name_khmer: str | None
    family_name_khmer: str | None
    sex: Sex
    date_of_birth: date | None
    birth_date_estimated: bool
    birth_registration: BirthRegistration
    disability: Disability
    schooling_status: Schooling
    care_arrangement: CareArrangement = Field(
        description="Derived from the current placement (see /children/{id}/placements)"
    )
    province: Province
    district: str | None
    commune: str | None
    village: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DuplicateCandidate(BaseModel):
    """A likely duplicate as the 409 shows it: enough to decide, not the record itself.

    The id (whoever may see the child reads it, or its cases with `GET /cases?child_id=`,
    under their own scope and audit), the initials of its names and its birth year. Names,
    the exact birth date and the address stay out of the answer.
    """

    id: uuid.UUID
    initials: str = Field(description="First letters of the names, e.g. `S. C.`")
    birth_year: int | None
