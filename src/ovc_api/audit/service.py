"""Recording audit events, in the same transaction as the change they describe."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.models import AuditEvent
from ovc_api.auth.principal import Principal
from ovc_api.db import new_id, utcnow
from ovc_api.outbox import Event, emit_for_audit


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    changed_fields: Iterable[str] | None = None,
    via_referral_id: uuid.UUID | None = None,
    detail: str | None = None,
    case_id: uuid.UUID | None = None,
    record_ids: Iterable[uuid.UUID] | None = None,
    owner_organisation_id: uuid.UUID | None = None,
) -> None:
    """`owner_organisation_id`: access through a referral lands in the data owner's log.

    A write of a record is also announced (change feed, webhooks) in the same transaction:
    the audit log is where every change passes, so nothing changes unannounced.
    """
    session.add(
        AuditEvent(
            organisation_id=owner_organisation_id or principal.organisation_id,
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            changed_fields=sorted(changed_fields) if changed_fields is not None else None,
            via_referral_id=via_referral_id,
            case_id=case_id,
            record_ids=list(record_ids) if record_ids is not None else None,
            request_id=principal.request_id,
            client_ip=principal.client_ip,
            detail=detail,
            at=utcnow(),
        )
    )
    emit_for_audit(session, principal.organisation_id, action, resource_type, resource_id, case_id)


def record_read(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    record_ids: Iterable[uuid.UUID],
    *,
    case_id: uuid.UUID | None = None,
    single: bool = True,
    via_referral: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> None:
    """Reads of children's records: one row per request, naming every record returned.

    `via_referral` (referral id, owning organisation) marks a read through a referral; it is
    recorded in the owner's log, so the organisation that shared the record sees who read it.
    """
    ids = list(record_ids)
    record(
        session,
        principal,
        f"{resource_type}.read" if single else f"{resource_type}.list",
        resource_type=resource_type,
        resource_id=ids[0] if single and ids else None,
        case_id=case_id,
        record_ids=None if single else ids,
        via_referral_id=via_referral[0] if via_referral else None,
        owner_organisation_id=via_referral[1] if via_referral else None,
    )


def record_owner_reads(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    rows: Iterable[Any],
    *,
    single: bool = True,
    via: Callable[[Any], uuid.UUID | None] | None = None,
) -> None:
    """Reads of other organisations' records through a widening (a referral's sender reading
    the services its receiver recorded, a participant reading a conference, a receiver its
    referral): besides the reader's own row, one row per such record in its owner's log, so
    the owner sees who read it (as reads through a referral's share already are).

    `via` names the referral a record was reached through (the second wall admits the
    owner's row on that ground). Rows of the caller's own organisation are skipped.
    """
    for row in rows:
        owner = getattr(row, "organisation_id", None)
        if owner is None or owner == principal.organisation_id:
            continue
        record(
            session,
            principal,
            f"{resource_type}.read" if single else f"{resource_type}.list",
            resource_type=resource_type,
            resource_id=row.id,
            via_referral_id=via(row) if via is not None else None,
            owner_organisation_id=owner,
        )


def record_anonymous(
    session: AsyncSession,
    action: str,
    *,
    organisation_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    request_id: str | None,
    client_ip: str | None,
    detail: str | None = None,
) -> None:
    """Events before a principal exists: logins, refreshes, failures."""
    session.add(
        AuditEvent(
            organisation_id=organisation_id,
            actor_user_id=user_id,
            action=action,
            resource_type="user" if user_id else None,
            resource_id=user_id,
            request_id=request_id,
            client_ip=client_ip,
            detail=detail,
            at=utcnow(),
        )
    )


def list_read_values(
    principal: Principal, resource_type: str, *, case_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """The columns of a list read's audit row but its `record_ids` (what `record_read`
    with `single=False` writes), for statements that insert the row themselves."""
    values: dict[str, Any] = {
        "id": new_id(),
        "organisation_id": principal.organisation_id,
        "actor_user_id": principal.user_id,
        "actor_api_key_id": principal.api_key_id,
        "action": f"{resource_type}.list",
        "resource_type": resource_type,
        "case_id": case_id,
        "request_id": principal.request_id,
        "client_ip": principal.client_ip,
        "at": utcnow(),
    }
    return {name: value for name, value in values.items() if value is not None}


def audit_binds(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bind parameters (`audit_<column>`) standing for an audit row's values, and the values
    to execute them with: a statement built once per shape (`ovc_api.prepared`) carries the
    former, each request the latter."""
    return dict(_audit_binds_of(tuple(values))), {
        f"audit_{name}": value for name, value in values.items()
    }


@functools.lru_cache(maxsize=64)
def _audit_binds_of(names: tuple[str, ...]) -> Mapping[str, Any]:
    """The bind parameters of these audit columns, made once (a statement is built once per
    shape; each request only needs the shape's key and its values)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    return MappingProxyType(
        {name: bindparam(f"audit_{name}", type_=table.c[name].type) for name in names}
    )


def audited_page(
    page: Select[Any],
    order: Callable[[Any], list[Any]],
    limit: int,
    values: dict[str, Any],
) -> Select[Any]:
    """PostgreSQL: one statement that reads a keyset page and writes its list-read audit row.

    `page` selects labelled columns, one of them `id`, at most `limit + 1` rows (the extra
    one only tells there is a next page); `order` gives its ORDER BY terms on a collection
    of those columns (`Sort.order_on`); `values` the audit row's columns but `record_ids`
    (`list_read_values`, as values or as `audit_binds`). The audit row names the ids of
    the first `limit` rows in page order; it is written by a data-modifying CTE, which
    PostgreSQL runs exactly once and to completion whatever the outer query reads, in the
    statement's (the request's) transaction.
    """

    def listed(rows: Any) -> Any:
        shown = select(rows).order_by(*order(rows.c)).limit(limit).subquery("shown")
        return select(ids_in_order(shown.c.id, *order(shown.c)))

    statement = audited_rows(page, listed, values)
    return statement.order_by(*order(statement.selected_columns))


def audited_rows(
    statement: Select[Any], listed: Callable[[Any], Select[Any]], values: dict[str, Any]
) -> Select[Any]:
    """PostgreSQL: one statement that reads `statement`'s rows and writes one audit row
    naming the records they list: `listed`, given the rows (a CTE), selects that row's
    `record_ids` (`ids_in_order`); `values` its other columns (`list_read_values`, as values
    or as `audit_binds`). The insert is a data-modifying CTE, which PostgreSQL runs exactly
    once and to completion whatever the outer query reads, in the statement's transaction.
    The caller orders the result (on `selected_columns`, which name the CTE's columns)."""
    rows = statement.cte("page")
    ids = listed(rows).scalar_subquery()
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    names = list(values)
    columns = [_expression(values[name], table.c[name].type).label(name) for name in names]
    logged = (
        insert(table)
        .from_select([*names, "record_ids"], select(*columns, ids.label("record_ids")))
        .cte("logged")
    )
    return select(rows).add_cte(logged)


def ids_in_order(column: Any, *order: Any) -> ColumnElement[Any]:
    """PostgreSQL: the ids of a (sub-)query's rows as `uuid[]` in that order, `{}` if none."""
    return func.coalesce(
        func.array_agg(postgresql.aggregate_order_by(column, *order)),
        literal([], postgresql.ARRAY(postgresql.UUID(as_uuid=True))),
    )


def single_read_values(principal: Principal, resource_type: str) -> dict[str, Any]:
    """The columns of a single read's audit row but the record's ids (what `record_read`
    writes for the caller's own record)."""
    values = list_read_values(principal, resource_type)
    values["action"] = f"{resource_type}.read"
    return values


def audited_read(
    statement: Select[Any],
    values: dict[str, Any],
    owner: Any,
    *,
    from_record: Mapping[str, str],
) -> Select[Any]:
    """PostgreSQL: one statement that reads one record (labelled columns, `id` and
    `organisation_id` among them) and writes its read's audit row when the record is
    `owner`'s (the caller's organisation's); a record read through a share is audited by
    the caller in the owner's log (`shared_read_source`). `from_record` names the audit
    columns taken from the record (audit column -> record column: `case_id` -> `id` for a
    case itself, -> `case_id` for a record of a case)."""
    found = statement.cte("found")
    names, columns = _record_audit_columns(values, found, from_record)
    own = select(*columns).where(found.c.organisation_id == owner)
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    logged = insert(table).from_select(names, own).cte("logged")
    return select(found).add_cte(logged)


def _record_audit_columns(
    values: dict[str, Any], record: Any, from_record: Mapping[str, str]
) -> tuple[list[str], list[ColumnElement[Any]]]:
    """The audit row's column names and expressions for one record (a CTE's row): `values`,
    then `resource_id` and the columns `from_record` takes (audit column -> record column)."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    names = list(values)
    columns: list[ColumnElement[Any]] = [
        _expression(values[name], table.c[name].type).label(name) for name in names
    ]
    names.append("resource_id")
    columns.append(record.c.id)
    for name, column in from_record.items():
        names.append(name)
        columns.append(record.c[column])
    return names, columns


def write_values(
    principal: Principal, resource_type: str, verb: str, *, case_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """The columns of the audit row `record` writes for `<resource_type>.<verb>` of one of
    the caller's own records, but its `resource_id` (and `case_id` when not given), for
    statements that insert the row themselves."""
    values = list_read_values(principal, resource_type, case_id=case_id)
    values["action"] = f"{resource_type}.{verb}"
    return values


def logged_write(
    written: Any,
    values: dict[str, Any],
    event: dict[str, Any] | None,
    *,
    from_record: Mapping[str, str],
) -> list[Any]:
    """PostgreSQL: the CTEs that audit a write and announce it, as `record` (and the
    outbox's `emit_for_audit`) would, in the statement that writes it. `written` is the
    CTE of the written row (`INSERT ... RETURNING`: `id`, `version` and the columns
    `from_record` names; no row, nothing is written); `values` the audit row's other
    columns (`write_values`), `event` the announcement's (`outbox.own_event_values`; None:
    nothing announced), as values or as `audit_binds`-like bind parameters. `from_record`:
    audit column -> column of the row (`case_id`), also the event's `case_id`.
    Data-modifying CTEs run exactly once and to completion, in the statement's (the
    request's) transaction; add them to the statement with `add_cte`."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    names, columns = _record_audit_columns(values, written, from_record)
    ctes = [insert(table).from_select(names, select(*columns)).cte("logged")]
    if event is not None:
        events = Event.__table__  # type: ignore[attr-defined]
        names = list(event)
        columns = [_expression(event[name], events.c[name].type).label(name) for name in names]
        names += ["resource_id", "version"]
        columns += [written.c.id, written.c.version]
        if "case_id" in from_record:
            names.append("case_id")
            columns.append(written.c[from_record["case_id"]])
        ctes.append(insert(events).from_select(names, select(*columns)).cte("announced"))
    return ctes


def _expression(value: Any, type_: Any) -> ColumnElement[Any]:
    """A value as a typed SQL literal; a bind parameter (or any expression) as it is."""
    if isinstance(value, ColumnElement):
        return value
    return literal(value, type_)
