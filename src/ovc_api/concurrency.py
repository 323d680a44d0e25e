"""ETags and If-Match: a write based on a stale read is refused, never silently applied."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Header, Response
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.auth.principal import Principal
from ovc_api.db import utcnow
from ovc_api.errors import PreconditionFailed, PreconditionRequired
from ovc_api.revisions import Revision, jsonable


def etag_of(record: Any) -> str:
    return f'"{record.id.hex}.{record.version}"'


def set_etag(response: Response, record: Any) -> None:
    response.headers["ETag"] = etag_of(record)


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version being edited; required, stale values get 412.",
    ),
]


def check_if_match(if_match: str | None, record: Any) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last read, so concurrent edits are not lost"
        )
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in candidates and etag_of(record) not in candidates:
        raise PreconditionFailed(
            "The record changed since you read it: fetch it again and reapply your change"
        )


async def apply_changes(
    session: AsyncSession,
    record: Any,
    changes: dict[str, Any],
    if_match: str | None,
    actor: Principal | None = None,
    *,
    also_changed: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write `changes` only if the row is still at the version the client saw.

    The version check happens in the UPDATE itself, so two concurrent writers cannot both win.
    Revisioned records (case data) keep the replaced values in `revisions`.
    `also_changed` names values kept outside the row (a case's concerns, rows of their own)
    that the caller changes under the same version: name -> previous value, stored in the
    same revision; the caller writes them once this returns.
    Returns the names of the fields that really changed.
    """
    check_if_match(if_match, record)
    changed = {k: v for k, v in changes.items() if getattr(record, k) != v}
    also = dict(also_changed or {})
    if not changed and not also:
        return []
    model = type(record)
    expected = record.version
    now = utcnow()
    result = await session.exec(
        update(model)
        .where(model.id == record.id, model.version == expected)
        .values(**changed, version=expected + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise PreconditionFailed("The record changed since you read it: fetch it again")
    if getattr(model, "__revisioned__", False):
        session.add(
            Revision(
                organisation_id=record.organisation_id,
                resource_type=model.__tablename__,
                resource_id=record.id,
                version=expected,
                changed_by_user=actor.user_id if actor else None,
                changed_by_api_key=actor.api_key_id if actor else None,
                changed_at=now,
                previous={**{k: jsonable(getattr(record, k)) for k in changed}, **also},
            )
        )
    # The row is written: mirror it on the object without queueing a second UPDATE.
    for key, value in {**changed, "version": expected + 1, "updated_at": now}.items():
        set_committed_value(record, key, value)
    return sorted([*changed, *also])
