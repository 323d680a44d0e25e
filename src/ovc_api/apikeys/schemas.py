"""API keys as the API shows them: never their secret, except once when created."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ovc_api.auth.scopes import Scope


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=120)
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    expires_at: AwareDatetime | None = Field(default=None, description="Optional; in the future")


class ApiKeyHandOver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responsible_user_id: uuid.UUID = Field(
        description="An active user of the organisation who holds every scope of the key"
    )


class ResponsibleUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    full_name: str
    active: bool = Field(description="false: the key is suspended until handed over")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    label: str = Field(description="The service account's name")
    prefix: str
    scopes: list[Scope]
    effective_scopes: list[Scope] = Field(
        description="What the key may do now: its scopes that its responsible user still holds "
        "(none while that user is deactivated)"
    )
    created_by: uuid.UUID
    responsible: ResponsibleUser = Field(description="The person who answers for the key")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown only in this response: store it now")
