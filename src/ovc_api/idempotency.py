"""`Idempotency-Key` on POST: a retry gets the first response back, not a second record.

The key is remembered per organisation and caller for 24 hours with a digest of the request
body; the same key with a different body is a client error (422). A retry that arrives while
the first request is still in flight gets 409 with `Retry-After`: resent after that delay, it
gets the first response.

A replay is a read of the record the first response showed: it is answered only while the
caller may still see that record (a case reassigned since, a role changed: 404, exactly like
a missing record) and it is audited as a read of it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Column, Index, String, Text, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from ovc_api.audit.service import record_read
from ovc_api.db import Session, utcnow
from ovc_api.errors import Conflict, NotFound, Unprocessable
from ovc_api.models_base import JSONType, created_field, id_field, organisation_fk
from ovc_api.tenancy import get_visible, model_of_table

RETENTION = timedelta(hours=24)
IN_PROGRESS_RETRY_AFTER_SECONDS = 1
REPLAYED_HEADERS = ("etag", "location")


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("uq_idempotency_keys_caller_key", "organisation_id", "caller_id", "key", unique=True),
    )

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = organisation_fk()
    caller_id: uuid.UUID
    key: str = Field(sa_type=String(200))
    method: str = Field(sa_type=String(8))
    path: str = Field(sa_type=String(500))
    request_digest: str = Field(sa_type=String(64))
    status_code: int
    body: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    # The record the response shows: a replay re-checks that the caller may still read it.
    resource_type: str | None = Field(default=None, sa_type=String(40))
    resource_table: str | None = Field(default=None, sa_type=String(64))
    resource_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = created_field()


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A unique string (e.g. a UUID): a retry with the same key gets the first "
        "response back",
    ),
]


@dataclass
class Idempotency:
    key: str | None
    request: Request
    session: Any

    async def replay(self, principal: Any, body: BaseModel | None) -> JSONResponse | None:
        """The stored response of an earlier request with this key, or None to proceed."""
        if self.key is None:
            return None
        self._principal = principal
        self._digest = _digest(self.request, body)
        stored = (
            await self.session.exec(
                select(IdempotencyRecord).where(
                    col(IdempotencyRecord.organisation_id) == principal.organisation_id,
                    col(IdempotencyRecord.caller_id) == _caller(principal),
                    col(IdempotencyRecord.key) == self.key,
                    col(IdempotencyRecord.created_at) > utcnow() - RETENTION,
                )
            )
        ).first()
        if stored is None:
            return None
        if stored.request_digest != self._digest:
            raise Unprocessable.field(
                ["header", "Idempotency-Key"],
                "this key was used with a different request: use a new key for a new request",
            )
        await _read_again(self.session, principal, stored)
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return JSONResponse(
            json.loads(stored.body), status_code=stored.status_code, headers=headers
        )

    async def remember(
        self,
        status_code: int,
        result: BaseModel,
        response: Response,
        *,
        row: Any = None,
        resource: str | None = None,
    ) -> None:
        """Keep the response for a retry, with the record it shows (`row`, audited as
        `resource`), which a replay reads again. A batch's result (207) names no one record:
        its replay shows the stored per-row outcomes (ids and statuses) as they were."""
        if self.key is None:
            return
        # Keep the table bounded: this caller's expired keys go as it stores a new one.
        await self.session.exec(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.organisation_id) == self._principal.organisation_id,
                col(IdempotencyRecord.caller_id) == _caller(self._principal),
                col(IdempotencyRecord.created_at) <= utcnow() - RETENTION,
            )
        )
        record = IdempotencyRecord(
            organisation_id=self._principal.organisation_id,
            caller_id=_caller(self._principal),
            key=self.key,
            method=self.request.method,
            path=self.request.url.path,
            request_digest=self._digest,
            status_code=status_code,
            body=result.model_dump_json(),
            headers={k: v for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS},
            resource_type=resource,
            resource_table=None if row is None else type(row).__tablename__,
            resource_id=None if row is None else row.id,
        )
        self.session.add(record)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            # Another request with this key committed first (it was in flight when this one
            # looked): resending after a moment gets its stored response.
            raise Conflict(
                "A request with this Idempotency-Key is already being processed: "
                "retry after the delay in Retry-After to get its response",
                headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)},
            ) from exc


async def _read_again(session: Any, principal: Any, stored: IdempotencyRecord) -> None:
    """The remembered record, in the caller's scope now (404 if no longer), read audited."""
    if stored.resource_table is None or stored.resource_id is None:
        return  # remembered before replays named their record (gone within 24 hours)
    row = await get_visible(
        session, principal, model_of_table(stored.resource_table), stored.resource_id
    )
    if row is None:
        raise NotFound()
    # A service under a referral names the sender's case: not in the receiver's terms.
    case_id = None if getattr(row, "referral_id", None) else getattr(row, "case_id", None)
    if stored.resource_table == "cases":
        case_id = row.id
    record_read(
        session, principal, stored.resource_type or stored.resource_table, [row.id], case_id=case_id
    )


def _caller(principal: Any) -> uuid.UUID:
    return principal.user_id or principal.api_key_id  # type: ignore[no-any-return]


def _digest(request: Request, body: BaseModel | None) -> str:
    payload = {
        "method": request.method,
        "path": request.url.path,
        "query": str(request.url.query),
        "body": body.model_dump(mode="json") if body is not None else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def get_idempotency(
    request: Request, session: Session, key: IdempotencyKeyHeader = None
) -> Idempotency:
    return Idempotency(key=key, request=request, session=session)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
