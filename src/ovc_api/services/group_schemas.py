"""Shapes of a group service event (one distribution or campaign, many deliveries)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

from ovc_api.schemas_common import StrictBody
from ovc_api.services.models import ServiceType
from ovc_api.services.schemas import _ServiceFields

MAX_GROUP_ROWS = 500


class GroupRow(StrictBody):
    """Who was served: a case's child, a family, or a child (its open case, if any)."""

    case_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    child_id: uuid.UUID | None = None
    quantity: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_target(self) -> GroupRow:
        if sum(x is not None for x in (self.case_id, self.family_id, self.child_id)) != 1:
            raise ValueError("name exactly one of case_id, family_id or child_id")
        return self


class GroupEvent(StrictBody, _ServiceFields):
    service_type: ServiceType
    delivered_on: date
    rows: list[GroupRow] = Field(
        min_length=1,
        max_length=MAX_GROUP_ROWS,
        description=f"At most {MAX_GROUP_ROWS} deliveries per call; split larger events",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GroupEvent:
        if (self.service_type is ServiceType.other) != (self.other_description is not None):
            raise ValueError("other_description is required for `other`, and only for it")
        if (self.cost is None) != (self.currency is None):
            raise ValueError("cost and currency go together")
        return self


class RowResult(BaseModel):
    index: int = Field(description="The row's position in `rows`, from 0")
    status: int = Field(description="201 recorded; 404 not found; 422 refused")
    service_id: uuid.UUID | None = None
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class GroupResult(BaseModel):
    """207 Multi-Status: which rows were recorded and which failed, and why."""

    service_type: ServiceType
    delivered_on: date
    recorded: int
    failed: int
    results: list[RowResult]
