"""Request/response pieces shared by the case-data domains."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ovc_api.geography import Province

MAX_TEXT = 4000
MAX_NOTE_TEXT = 10_000


class StrictBody(BaseModel):
    """Request bodies: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(BaseModel):
    province: Province
    district: str | None = Field(default=None, max_length=100)
    commune: str | None = Field(default=None, max_length=100)
    village: str | None = Field(default=None, max_length=100)
