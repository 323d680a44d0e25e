"""The routes every kind of case record has, written once: create, list, read, correct and,
where kept, the correction history.

Children, households, services delivered and a case's assessments, goals, actions, notes and
follow-ups differ only in their models, their list query, their service operations, their
URLs and the words of their summaries. A `RecordKind` says those; `add_routes` registers the
handlers (HTTP only, through `http_epilogue`) with the operation names, parameters and
answers each kind always had. A kind may live under a `Parent` (a case): its routes then load
the parent first (404 outside the caller's scope) and pass it to the operations.

No `from __future__ import annotations`: FastAPI reads the handlers' signatures, which are
built here from each kind's classes.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlmodel import select

from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.concurrency import IfMatch, set_etag
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, Sort
from ovc_api.revisions import RevisionRead
from ovc_api.row_reads import RowReads, list_rows, read_one
from ovc_api.tenancy import scoped


@dataclass(frozen=True)
class Parent:
    """The record a kind's routes are under: its loading dependencies (for reading, for
    writing) and the statement of its records of a model."""

    for_read: Any
    for_write: Any
    records: Callable[[Principal, Any, Any], Any]  # (principal, model, parent) -> statement


@dataclass(frozen=True)
class RecordKind:
    """One kind of record, as its routes need it."""

    name: str  # operation names: create_<name>, get_<name>, update_<name>
    plural: str  # list_<plural>
    path: str  # the collection's path under the router's prefix
    model: Any
    read: Any  # the response model of one record
    create: type[BaseModel]
    update: type[BaseModel]
    query: Any  # the list's query dataclass: its filters, then `sort`
    sorts: Mapping[str, Sort]
    resource: str  # what the audit calls it (list reads)
    for_read: Any  # the dependency loading one record to read (404 outside the scope)
    for_write: Any
    add: Callable[..., Awaitable[Any]]  # (session, principal, [parent,] body) -> row
    audit_read: Callable[..., Any]  # (session, principal, row); may be a coroutine
    correct: Callable[..., Awaitable[Any]]  # (session, principal, [parent,] row, body, if_match=)
    location: Callable[[Any], str]  # row -> its URL
    summaries: tuple[str, str, str, str]  # create, list, read, correct
    parent: Parent | None = None
    shared_read: Any = None  # GET one: the record as a referral also shares it
    present: Callable[..., Any] | None = None  # (session, principal, row) -> read model
    listed: Any = None  # a list item's model, when not `read`
    conflicts: bool = False  # a correction may answer 409 (a closed case, an archived household)
    via: Callable[[Any], Any] | None = None  # a listed row of another organisation -> referral
    create_description: str | None = None  # the create operation's description (OpenAPI)
    rows: RowReads | None = None  # list and GET one as Core rows (`ovc_api.row_reads`)


def add_routes(router: APIRouter, kind: RecordKind) -> None:
    """Register the kind's create, list, read and correct routes, in that order."""
    id_name = _id_param(kind)
    one = f"{kind.path}/{{{id_name}}}"
    parent = kind.parent
    fast = kind.rows if parent is None else None  # kinds under a parent: the ORM path
    create_summary, list_summary, read_summary, correct_summary = kind.summaries
    near = (404,) if parent else ()  # under a parent, a parent outside the scope is a 404

    def lead(write: bool) -> list[inspect.Parameter]:
        if parent is None:
            return []
        return [_param("parent", parent.for_write if write else parent.for_read)]

    async def present(session: Any, principal: Principal, row: Any) -> Any:
        if kind.present is None:
            return kind.read.model_validate(row)
        return await _maybe_await(kind.present(session, principal, row))

    async def create(**v: Any) -> Any:
        session, principal, body = v["session"], v["principal"], v["body"]
        idempotency = v["idempotency"]
        if (replayed := await idempotency.replay(principal, body)) is not None:
            return replayed
        row = await kind.add(session, principal, *_parents(v), body)
        result = await present(session, principal, row)
        where = kind.location(row)
        return await http.created(
            v["response"], idempotency, row, result, location=where, resource=kind.resource
        )

    _signed(
        create,
        lead(True),
        ("body", kind.create),
        ("response", Response),
        ("session", Session),
        ("principal", CasesWriter),
        ("idempotency", IdempotencyDep),
    )
    router.add_api_route(
        kind.path,
        create,
        methods=["POST"],
        name=f"create_{kind.name}",
        summary=create_summary,
        description=kind.create_description,
        status_code=201,
        response_model=kind.read,
        responses=error_responses(401, 403, *near, 409, 422),
    )

    async def list_(**v: Any) -> Any:
        principal, query = v["principal"], v["query"]
        if fast is not None:
            return await list_rows(
                fast,
                v["session"],
                principal,
                v["pagination"],
                kind.sorts[query.sort],
                v["request"],
                v["response"],
                audit_as=kind.resource,
                where=query.apply,
                # Filters put their values in the statement: such lists are built per request.
                key=None if query.filtered() else (),
                via=kind.via,
            )
        if parent is None:
            statement = scoped(select(kind.model), principal, kind.model)
        else:
            statement = parent.records(principal, kind.model, v["parent"])
        return await http.page(
            v["session"],
            principal,
            query.apply(statement, principal),
            kind.listed or kind.read,
            v["pagination"],
            kind.sorts[query.sort],
            v["request"],
            v["response"],
            audit_as=kind.resource,
            case_id=None if parent is None else v["parent"].id,
            via=kind.via,
        )

    _signed(
        list_,
        lead(False),
        ("request", Request),
        ("response", Response),
        ("session", Session),
        ("principal", CasesReader),
        ("query", Annotated[kind.query, Depends()]),
        ("pagination", Pagination),
    )
    router.add_api_route(
        kind.path,
        list_,
        methods=["GET"],
        name=f"list_{kind.plural}",
        summary=list_summary,
        response_model=Page[kind.listed or kind.read],  # type: ignore[misc]
        responses=error_responses(401, 403, *near, 422),
    )

    async def get(**v: Any) -> Any:
        session, principal, response = v["session"], v["principal"], v["response"]
        if fast is not None:
            # A row the combined statement does not audit goes through the kind's own
            # `audit_read` when it takes Core rows, else is audited as a read through a share.
            audit = kind.audit_read if fast.audits_rows else None
            row = await read_one(
                fast, session, principal, v[id_name], resource=kind.resource, audit=audit
            )
            if kind.present is None:
                set_etag(response, row)
                return http.json_response(fast.dump_one(row), response)
        else:
            row = v["row"]
            await _maybe_await(kind.audit_read(session, principal, row))
        return http.shown(response, row, await present(session, principal, row))

    # The fast GET takes the record's id and reads the row itself (same path parameter as
    # the loading dependency declares, so the operation is documented alike).
    target = ("row", kind.shared_read or kind.for_read)
    _signed(
        get,
        lead(False),
        (id_name, uuid.UUID) if fast is not None else target,
        ("response", Response),
        ("session", Session),
        ("principal", CasesReader),
    )
    router.add_api_route(
        one,
        get,
        methods=["GET"],
        name=f"get_{kind.name}",
        summary=read_summary,
        response_model=kind.read,
        responses=error_responses(401, 403, 404, 422),
    )

    async def update(**v: Any) -> Any:
        session, principal, row = v["session"], v["principal"], v["row"]
        await kind.correct(session, principal, *_parents(v), row, v["body"], if_match=v["if_match"])
        return http.shown(v["response"], row, await present(session, principal, row))

    _signed(
        update,
        lead(True),
        ("row", kind.for_write),
        ("body", kind.update),
        ("response", Response),
        ("session", Session),
        ("principal", CasesWriter),
        ("if_match", IfMatch, None),
    )
    conflict = (409,) if kind.conflicts else ()
    router.add_api_route(
        one,
        update,
        methods=["PATCH"],
        name=f"update_{kind.name}",
        summary=correct_summary,
        response_model=kind.read,
        responses=error_responses(401, 403, 404, *conflict, 412, 422, 428),
    )


def add_revisions_route(
    router: APIRouter,
    kind: RecordKind,
    revisions: Callable[[Any, Principal, Any], Awaitable[list[RevisionRead]]],
    summary: str,
) -> None:
    """The kind's earlier versions of a corrected record, newest first."""

    async def list_revisions(**v: Any) -> list[RevisionRead]:
        return await revisions(v["session"], v["principal"], v["row"])

    lead = [] if kind.parent is None else [_param("parent", kind.parent.for_read)]
    _signed(
        list_revisions,
        lead,
        ("row", kind.for_read),
        ("session", Session),
        ("principal", CasesReader),
    )
    router.add_api_route(
        f"{kind.path}/{{{_id_param(kind)}}}/revisions",
        list_revisions,
        methods=["GET"],
        name=f"list_{kind.name}_revisions",
        summary=summary,
        response_model=list[RevisionRead],
        responses=error_responses(401, 403, 404, 422),
    )


def _id_param(kind: RecordKind) -> str:
    """The path parameter naming one record: the one its loading dependency declares."""
    loader = kind.for_read.__metadata__[0].dependency
    return next(iter(inspect.signature(loader).parameters))


def _parents(values: dict[str, Any]) -> list[Any]:
    return [values["parent"]] if "parent" in values else []


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _signed(
    handler: Callable[..., Any], lead: list[inspect.Parameter], *params: tuple[Any, ...]
) -> None:
    """Give `handler` (which takes **values) the parameters FastAPI is to read:
    (name, annotation) or (name, annotation, default)."""
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*lead, *(_param(*p) for p in params)]
    )
