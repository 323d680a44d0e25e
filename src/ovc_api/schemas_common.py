"""Request/response pieces shared by the case-data domains.

A rule every body applies the same way lives here once: unknown fields refused, dates not in
the future, PATCH fields that may be left out but not emptied with null, lists without
repeats, text NFC-normalised; and the read models' common head (`id`, its owner or case).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ovc_api.clock import local_today
from ovc_api.geography import Province
from ovc_api.text import nfc

MAX_TEXT = 4000
MAX_NOTE_TEXT = 10_000

T = TypeVar("T")
DateT = TypeVar("DateT", bound=date | None)
ListT = TypeVar("ListT", bound=Sequence[Any] | None)


def not_in_future(value: DateT) -> DateT:
    """Something recorded as done cannot have happened after today (the network's day)."""
    if value is not None and value > local_today():
        raise ValueError("cannot be in the future")
    return value


def not_null(value: T) -> T:
    """PATCH: a field may be left out, but a required one cannot be emptied with null."""
    if value is None:
        raise ValueError("cannot be null: omit the field to leave it unchanged")
    return value


def each_once(message: str) -> Callable[[ListT], ListT]:
    """A validator refusing a list that names an item twice, with `message`."""

    def check(value: ListT) -> ListT:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(message)
        return value

    return check


# Field types carrying those rules: `done_on: PastDate | None`, `kind: Patch[FollowUpKind]`,
# `summary: Nfc[str | None]`. Nfc wraps the whole field (`Nfc[Patch[str]]`, not the other way
# round), so a field's length limits are checked on the text as sent, then it is normalised.
PastDate = Annotated[date, AfterValidator(not_in_future)]
Patch = Annotated[T | None, AfterValidator(not_null)]
Nfc = Annotated[T, AfterValidator(nfc)]


class StrictBody(BaseModel):
    """Request bodies: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(BaseModel):
    province: Province
    district: str | None = Field(default=None, max_length=100)
    commune: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)


class RecordRead(BaseModel):
    """A stored record as the API shows it, read from its row."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID


class OwnedRecordRead(RecordRead):
    organisation_id: uuid.UUID


class CaseRecordRead(RecordRead):
    case_id: uuid.UUID
