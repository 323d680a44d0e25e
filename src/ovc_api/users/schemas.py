from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ovc_api.auth.scopes import Role
from ovc_api.schemas_common import OwnedRecordRead


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=256)
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Network administrator only: the organisation of a new org_admin. "
        "Others always create users in their own organisation.",
    )


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    active: bool | None = Field(
        default=None, description="false deactivates: logins and live tokens stop"
    )


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class UserRead(OwnedRecordRead):
    email: str
    full_name: str
    role: Role
    active: bool
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MeRead(UserRead):
    scopes: list[str]
    password_reset_by_network_at: datetime | None = Field(
        default=None,
        description="When the network administrator last reset your password (null: never)",
    )


class PasswordResetResult(BaseModel):
    temporary_password: str | None = Field(
        description="Shown once (null when it was e-mailed to the user). The user must change "
        "it at next login: until then it allows nothing else; their sessions ended."
    )
    delivery: Literal["response", "email"] = Field(
        description="`email` when SMTP is configured (the password went to the user's address)"
    )
