"""Queries of the cases domain: reading cases with their child and concerns in bulk, the
concerns set under the case's version, assignees, and the case's access log."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Text,
    and_,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    true,
    type_coerce,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.audit.models import UUID_BYTES, AuditEvent
from ovc_api.auth.principal import Principal
from ovc_api.auth.scopes import Role
from ovc_api.cases.models import Case, CaseConcern, ProtectionConcern
from ovc_api.cases.schemas import CASE_COLUMNS, CaseRead, ChildSummary, ordered_concerns
from ovc_api.children.models import Child
from ovc_api.errors import NotFound, Unprocessable
from ovc_api.identity.models import User
from ovc_api.json_items import json_row, row_json
from ovc_api.row_reads import RowReads
from ovc_api.tenancy import get_visible, resolve_reference, scoped, visible

CASE_ASSIGNEE_ROLES = frozenset({Role.caseworker.value, Role.case_manager.value})
# List reads whose `record_ids` are case ids: the case list and the work list (/tasks).
CASE_LIST_READ_ACTIONS = ("case.list", "task.list")


CHILD_COLUMNS = tuple(ChildSummary.model_fields)


def case_rows(
    principal: Principal,
    *,
    is_postgres: bool,
    single_read: bool = False,
    child_lateral: bool = False,
) -> Any:
    """Cases the caller may see, each with its child and its concerns (comma-separated), in
    one query of labelled columns (Core rows, no ORM objects): the case's columns by their
    names and its `version`, the child's as `child__<name>`, and `concerns`. The list's
    base; `single_read` (GET of one case) also admits a case shared through a referral.
    `child_lateral` (PostgreSQL, a list without filters): the child joined as
    `child_of_case` says, for the plan along the organisation's index."""
    aggregate = func.string_agg if is_postgres else func.group_concat
    concerns = (
        select(aggregate(col(CaseConcern.concern), ","))
        .where(
            col(CaseConcern.case_id) == col(Case.id),
            visible(principal, CaseConcern, single_read=single_read),
        )
        .scalar_subquery()
        .label("concerns")
    )
    columns: list[Any] = [col(getattr(Case, name)).label(name) for name in CASE_COLUMNS]
    columns.append(col(Case.version).label("version"))
    if child_lateral:
        child = child_of_case(principal, single_read=single_read)
        columns += [child.c[name].label(f"child__{name}") for name in CHILD_COLUMNS]
        return (
            core_select(*columns, concerns)
            .select_from(Case)
            .join(child, true())
            .where(visible(principal, Case, single_read=single_read))
        )
    columns += [col(getattr(Child, name)).label(f"child__{name}") for name in CHILD_COLUMNS]
    statement = (
        core_select(*columns, concerns)
        .select_from(Case)
        .join(Child, col(Child.id) == col(Case.child_id))
        .where(visible(principal, Case, single_read=single_read))
    )
    if single_read:
        statement = statement.where(visible(principal, Child, single_read=True))
    return statement


def case_item(row: Any) -> dict[str, Any]:
    """A `case_rows` row shaped as `CaseRead`'s fields."""
    fields = row._mapping
    concerns = fields["concerns"]
    return {
        **{name: fields[name] for name in CASE_COLUMNS},
        "concerns": ordered_concerns(concerns.split(",") if concerns else []),
        "child": {name: fields[f"child__{name}"] for name in CHILD_COLUMNS},
    }


# The concerns' order in a response (`ordered_concerns`), for the database.
CONCERN_POSITIONS: ColumnElement[Any] = literal_column(
    "ARRAY[" + ",".join(f"'{concern.value}'" for concern in ProtectionConcern) + "]::text[]"
)
assert all(concern.value.isidentifier() for concern in ProtectionConcern)  # safe literals
# The columns a JSON row carries besides its item: the audit's, the owner, the ETag's.
JSON_ROW_COLUMNS = ("id", "organisation_id", "version")


def child_of_case(principal: Principal, *, single_read: bool) -> Any:
    """PostgreSQL: the case's child as a `LATERAL (... OFFSET 0)` sub-query of the outer
    statement's case (its `CHILD_COLUMNS`), for a statement that lists cases along
    `ix_cases_org_opened` (the plain list, `case_json_rows`).

    As a plain join the planner charges the start-up of the row-level security policies'
    hashed sub-plan (`receiver_reads_referred`, about 530) to every probe of the child's
    index and reads and sorts all of an organisation's cases instead (360-630 ms for 60,000
    cases, against 7 ms; bench/README.md); OFFSET 0 keeps the sub-query from being
    flattened into that join. The `children` table is then not in the outer statement, so a
    condition naming its columns (the list's `province`, `district`, `q` filters) must not
    be added to one: it would join `children` a second time, unconstrained."""
    found: Any = core_select(
        *(col(getattr(Child, name)).label(name) for name in CHILD_COLUMNS)
    ).where(col(Child.id) == col(Case.child_id))
    if single_read:
        found = found.where(visible(principal, Child, single_read=True))
    return found.offset(literal_column("0")).correlate(Case).lateral("child")


def case_json_rows(
    principal: Principal, *, single_read: bool = False, keys: Sequence[str] = ()
) -> Any:
    """PostgreSQL: `case_rows`' cases with each one's `CaseRead` JSON written by the
    database (`ovc_api.json_items`) as `item` (text), besides `JSON_ROW_COLUMNS` and the
    case's columns `keys` (a list's sort keys; each column costs a conversion per row):
    the fast lane's read of one case and of the plain list, no per-row work in Python.

    The child is joined as a `LATERAL (... OFFSET 0)` sub-query (which PostgreSQL does not
    flatten), so the page is read along `ix_cases_org_opened` with one probe of the child
    per row: as a plain join, the planner charges the start-up of the row-level security
    policies' hashed sub-plan (`receiver_reads_referred`) to every probe and prefers to
    read and sort all of the organisation's cases (bench/README.md). The `children` table
    is therefore not in the outer statement: no list filter (they name its columns)
    applies to this one (see `child_of_case`)."""
    concern = col(CaseConcern.concern)
    listed = func.string_agg(
        cast(func.to_json(concern), Text),
        postgresql.aggregate_order_by(
            literal_column("','"), func.array_position(CONCERN_POSITIONS, concern)
        ),
    )
    concerns = (
        core_select(
            cast(func.concat(literal_column("'['"), listed, literal_column("']'")), postgresql.JSON)
        )
        .where(
            col(CaseConcern.case_id) == col(Case.id),
            visible(principal, CaseConcern, single_read=single_read),
        )
        .correlate(Case)  # the outer statement's case, through the LATERAL row
        .scalar_subquery()
    )
    child = child_of_case(principal, single_read=single_read)
    shown = json_row(ChildSummary, {name: child.c[name] for name in CHILD_COLUMNS}, "child_item")
    fields: dict[str, Any] = {name: col(getattr(Case, name)) for name in CASE_COLUMNS}
    fields.update(concerns=concerns, child=row_json(shown))
    item = json_row(CaseRead, fields, "case_item")
    names = dict.fromkeys([*JSON_ROW_COLUMNS, *keys])
    columns: list[Any] = [col(getattr(Case, name)).label(name) for name in names]
    return (
        core_select(*columns, cast(row_json(item), Text).label("item"))
        .select_from(Case)
        .join(child, true())
        .join(shown, true())
        .join(item, true())
        .where(visible(principal, Case, single_read=single_read))
    )


# The case list and one case as Core rows (`ovc_api.row_reads`); a GET of one case also
# admits a case a referral shares, and its audit row names the case.
CASE_ROWS = RowReads(
    name="case",
    model=Case,
    read=CaseRead,
    listed=CaseRead,
    build=lambda caller, single_read, postgres: case_rows(
        caller, is_postgres=postgres, single_read=single_read
    ),
    item=case_item,
    shared=True,
    from_record={"case_id": "id"},
)
# The list without filters on PostgreSQL: its child joined as `child_of_case` says.
PLAIN_CASE_ROWS = RowReads(
    name="case.plain",
    model=Case,
    read=CaseRead,
    listed=CaseRead,
    build=lambda caller, single_read, postgres: case_rows(
        caller, is_postgres=postgres, single_read=single_read, child_lateral=postgres
    ),
    item=case_item,
    shared=True,
    from_record={"case_id": "id"},
)


async def concerns_of(
    session: AsyncSession, principal: Principal, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The concerns of many cases in one query."""
    found: dict[uuid.UUID, list[str]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return found
    statement = select(col(CaseConcern.case_id), col(CaseConcern.concern)).where(
        visible(principal, CaseConcern, single_read=principal.read_only),
        col(CaseConcern.case_id).in_(case_ids),
    )
    for case_id, concern in (await session.exec(statement)).all():
        found[case_id].append(concern)
    return found


async def case_reads(
    session: AsyncSession, principal: Principal, rows: Sequence[tuple[Case, Child]]
) -> list[CaseRead]:
    """Response models for (case, child) rows: one more query, for all their concerns."""
    concerns = await concerns_of(session, principal, [case.id for case, _ in rows])
    return [
        CaseRead.model_validate(
            {
                **{name: getattr(case, name) for name in CASE_COLUMNS},
                "concerns": ordered_concerns(concerns[case.id]),
                "child": ChildSummary.model_validate(child),
            }
        )
        for case, child in rows
    ]


async def case_read(session: AsyncSession, principal: Principal, case: Case) -> CaseRead:
    """One case (already loaded in scope) as the API shows it."""
    # The case is already authorised; its child comes with it, shared cases included.
    child = await get_visible(session, principal, Child, case.child_id, shared=principal.read_only)
    if child is None:  # pragma: no cover - a visible case's child is always visible
        raise NotFound()
    return (await case_reads(session, principal, [(case, child)]))[0]


async def resolve_assignee(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID
) -> uuid.UUID:
    """An active caseworker or case manager of the caller's organisation (422 otherwise)."""
    user = await resolve_reference(session, principal, User, user_id, "assigned_to")
    if not user.active or user.role not in CASE_ASSIGNEE_ROLES:
        raise Unprocessable.field(
            ["body", "assigned_to"], "must be an active caseworker or case manager"
        )
    return user.id


def add_concerns(session: AsyncSession, case: Case, concerns: Iterable[str]) -> None:
    for concern in concerns:
        session.add(
            CaseConcern(case_id=case.id, concern=concern, organisation_id=case.organisation_id)
        )


async def update_case(
    session: AsyncSession,
    case: Case,
    changes: dict[str, Any],
    concerns: list[ProtectionConcern] | None,
    if_match: str | None,
    principal: Principal,
) -> Case:
    """`service_kit.correct` (audited as `case.update`), with the concerns set (rows of their
    own) under the same version.

    When the set changes, the version is bumped once and the previous set is stored in the
    same revision row as the replaced column values.
    """
    current = (await concerns_of(session, principal, [case.id]))[case.id]
    wanted = {c.value for c in concerns} if concerns is not None else set(current)
    previous = [concern.value for concern in ordered_concerns(current)]
    replaced = {} if wanted == set(current) else {"concerns": previous}
    await service_kit.correct(
        session,
        principal,
        case,
        changes,
        if_match=if_match,
        resource="case",
        case_id=case.id,
        also_changed=replaced,
    )
    if replaced:
        await session.exec(
            delete(CaseConcern).where(
                col(CaseConcern.case_id) == case.id,
                col(CaseConcern.concern).not_in(wanted),
            )
        )
        add_concerns(session, case, sorted(wanted - set(current)))
    return case


def _listed_in(session: AsyncSession, case_id: uuid.UUID) -> ColumnElement[bool]:
    """A list read's `record_ids` contains this case's id.

    PostgreSQL: `uuid[] @> ARRAY[id]`. SQLite: the 16 bytes of the id at an id boundary of
    the packed ids (instr finds the first occurrence; a misaligned one before an aligned one
    would need 16 bytes straddling two random ids to equal it).
    """
    ids = col(AuditEvent.record_ids)
    if session.info.get("is_postgres"):
        uuids = postgresql.ARRAY(postgresql.UUID(as_uuid=True))
        return type_coerce(ids, uuids).contains(type_coerce([case_id], uuids))
    position = func.instr(type_coerce(ids, LargeBinary), literal(case_id.bytes, LargeBinary))
    return and_(position > 0, position % UUID_BYTES == 1)


def access_log(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Any:
    """Audit events about the case, and the list reads whose response contained it."""
    return scoped(select(AuditEvent), principal, AuditEvent).where(
        or_(
            col(AuditEvent.case_id) == case_id,
            and_(col(AuditEvent.action).in_(CASE_LIST_READ_ACTIONS), _listed_in(session, case_id)),
        )
    )
