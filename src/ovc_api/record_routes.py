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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, get_args, get_type_hints

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlmodel import col, select

from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.concurrency import IfMatch, set_etag
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import (
    Page,
    Pagination,
    Sort,
    parse_date,
    parse_datetime,
    parse_str,
    sort_options,
)
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
    # (session, principal, parent id) -> the parent as `for_write` loads it (404 outside the
    # caller's scope): for a kind's create that loads it itself (`RecordKind.inserts`)
    load: Callable[..., Awaitable[Any]] | None = None


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
    # Under a parent: the create as one statement on PostgreSQL, `inserts(session,
    # principal, parent id, body, returning)` -> a Core row (see `add_create`'s `under`)
    inserts: Callable[..., Awaitable[Any]] | None = None


def add_routes(router: APIRouter, kind: RecordKind) -> None:
    """Register the kind's create, list, read and correct routes, in that order."""
    id_name = _id_param(kind)
    one = f"{kind.path}/{{{id_name}}}"
    parent = kind.parent
    fast = kind.rows if parent is None else None  # kinds under a parent: the ORM path
    create_summary, list_summary, read_summary, correct_summary = kind.summaries
    near = (404,) if parent else ()  # under a parent, a parent outside the scope is a 404

    def lead(write: bool) -> list[Lead]:
        if parent is None:
            return []
        return [("parent", parent.for_write if write else parent.for_read)]

    async def present(session: Any, principal: Principal, row: Any) -> Any:
        if kind.present is None:
            return kind.read.model_validate(row)
        return await _maybe_await(kind.present(session, principal, row))

    under = None
    if parent is not None and kind.inserts is not None:
        if parent.load is None or kind.present is not None:
            raise ValueError(
                f"{kind.name}: a create in one statement needs its parent's load, and answers "
                "the row as `read` validates it (no `present`)"
            )
        under = Under(_dependency_param(parent.for_write), parent.load, kind.inserts)
    add_create(
        router,
        kind.path,
        f"create_{kind.name}",
        create_summary,
        kind.read,
        error_responses(401, 403, *near, 409, 422),
        CasesWriter,
        lead(True) if under is None else [],
        kind.create,
        kind.add,
        present,
        kind.location,
        kind.resource,
        description=kind.create_description,
        under=under,
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
        [_param(*p) for p in lead(False)],
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
        [_param(*p) for p in lead(False)],
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

    async def correct(session: Any, principal: Principal, *leads: Any, if_match: Any) -> Any:
        """The kind's correction, answering with the row it corrected."""
        *parents_and_row, body = leads
        await kind.correct(session, principal, *parents_and_row, body, if_match=if_match)
        return parents_and_row[-1]

    conflict = (409,) if kind.conflicts else ()
    add_correct(
        router,
        one,
        f"update_{kind.name}",
        correct_summary,
        kind.read,
        error_responses(401, 403, 404, *conflict, 412, 422, 428),
        CasesWriter,
        [*lead(True), ("row", kind.for_write)],
        kind.update,
        correct,
        present,
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
    return _dependency_param(kind.for_read)


def _dependency_param(annotated: Any) -> str:
    """The first parameter of an `Annotated[..., Depends(load)]`'s `load` (its path id)."""
    loader = annotated.__metadata__[0].dependency
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


# --- the shapes other domains repeat -------------------------------------------------------
#
# Routes that are not a whole `RecordKind`: a record loaded for reading or writing, a create
# answering 201 with Location, a correction under If-Match, a state-changing action
# (POST .../accept), a read with its ETag, a call answered as it is. Each takes, in this
# order: the router, the path, the operation's name, summary, response model and error
# responses (as OpenAPI shows them), its leading parameters (`Lead`: a loaded record, a path
# id, the request), then the body and the service's operation (which gets the session, the
# caller, the leads and the body, in that order) and how to present its row. The handler
# keeps to HTTP (replay, ETag, Location) through `http_epilogue`.

Lead = tuple[str, Any]  # (parameter name, annotation)
Presenter = Callable[[Any, Any, Any], Any]  # (session, principal, row) -> read model


def loaders(
    load: Callable[..., Awaitable[Any]],
    id_param: str,
    *,
    parent: tuple[Any, Any] | None = None,
    reader: Any = CasesReader,
    writer: Any = CasesWriter,
) -> tuple[Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]]:
    """The dependencies loading one record to read and to write (404 outside the caller's
    scope), for `Annotated[Model, Depends(...)]`: `load(session, principal, [parent,]
    record_id)`. Under a parent, its pair of dependencies (read, write) loads it first."""

    def dependency(principal: Any, parent_dependency: Any) -> Callable[..., Awaitable[Any]]:
        async def load_one(**v: Any) -> Any:
            return await load(v["session"], v["principal"], *_parents(v), v[id_param])

        lead = [_param(id_param, uuid.UUID)]
        if parent_dependency is not None:
            lead.append(_param("parent", parent_dependency))
        _signed(load_one, lead, ("session", Session), ("principal", principal))
        return load_one

    for_read, for_write = parent or (None, None)
    return dependency(reader, for_read), dependency(writer, for_write)


def validated(read: type[BaseModel]) -> Presenter:
    """The presenter of a row as `read` validates it."""
    return lambda _session, _principal, row: read.model_validate(row)


@dataclass(frozen=True)
class Under:
    """A create under a parent record done in one statement on PostgreSQL: `insert(session,
    principal, parent id, body, returning)` finds the parent in the caller's scope for
    writing (404), checks the kind's rules (raising as `add` does), inserts the row, audits
    and announces it, and returns the row's `returning` columns (those of the response
    model, `id` and `version`) as a Core row, answered as it is (validated and serialized
    once, with its Location and ETag). SQLite, and a request with an Idempotency-Key (its
    replay memory), take `add` through the session: the parent loaded by `load(session,
    principal, parent id)`, as its dependency would."""

    id_param: str  # the parent's path parameter
    load: Callable[..., Awaitable[Any]]
    insert: Callable[..., Awaitable[Any]]


def created_from_row(
    response: Response, row: Any, answer: TypeAdapter[Any], location: str
) -> Response:
    """The 201 of a create answered from its Core row (`Under`; the fast lane's too,
    `ovc_api.fastlane_writes`): its Location, its ETag, the headers already set on
    `response`, and the row as `answer` (the response model) validates and serializes it."""
    response.headers["Location"] = location
    set_etag(response, row)
    body = answer.dump_json(answer.validate_python(dict(row._mapping)))
    return http.json_response(body, response, 201)


def add_create(
    router: APIRouter,
    path: str,
    name: str,
    summary: str,
    response_model: Any,
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    body: type[BaseModel],
    add: Callable[..., Awaitable[Any]],
    present: Presenter,
    location: Callable[[Any], str],
    resource: str,
    *,
    description: str | None = None,
    row_of: Callable[[Any], Any] | None = None,
    idempotent: bool = True,
    under: Under | None = None,
) -> None:
    """POST: `add(session, principal, *lead, body)` makes the row (or what `row_of` finds
    it in); 201 with its Location and ETag, replayed for a retry with the same
    Idempotency-Key unless not `idempotent`. `under`: a create under a parent record in
    one statement on PostgreSQL (`Under`; `lead` is then empty: the parent's id is the
    first parameter)."""
    answer: TypeAdapter[Any] | None = None
    returning: tuple[str, ...] = ()
    if under is not None:
        answer, returning = TypeAdapter(response_model), tuple(response_model.model_fields)

    async def create(**v: Any) -> Any:
        session, caller = v["session"], v["principal"]
        leads = _leads(v, lead)
        if under is not None:
            key = v.get("idempotency")
            if session.info.get("is_postgres") and (key is None or key.key is None):
                row = await under.insert(session, caller, v[under.id_param], v["body"], returning)
                assert answer is not None
                return created_from_row(v["response"], row, answer, location(row))
            leads = [await under.load(session, caller, v[under.id_param])]
        if (replayed := await _replay(v)) is not None:
            return replayed
        made = await add(session, caller, *leads, v["body"])
        row = made if row_of is None else row_of(made)
        result = await _maybe_await(present(session, caller, made))
        where = location(row)
        idempotency = v.get("idempotency")
        return await http.created(
            v["response"], idempotency, row, result, location=where, resource=resource
        )

    first = [] if under is None else [_param(under.id_param, uuid.UUID)]
    _signed(
        create,
        [*first, *(_param(*p) for p in lead)],
        ("body", body),
        ("response", Response),
        ("session", Session),
        ("principal", principal),
        *([("idempotency", IdempotencyDep)] if idempotent else []),
    )
    router.add_api_route(
        path,
        create,
        methods=["POST"],
        name=name,
        summary=summary,
        description=description,
        status_code=201,
        response_model=response_model,
        responses=responses,
    )


def add_action(
    router: APIRouter,
    path: str,
    name: str,
    summary: str,
    response_model: Any,
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    body: type[BaseModel],
    act: Callable[..., Awaitable[Any]],
    present: Presenter,
    *,
    resource: str | None = None,
    if_match: Any = None,
    etag: bool = True,
    description: str | None = None,
    status_code: int | None = None,
    row_of: Callable[[Any], Any] | None = None,
) -> None:
    """POST .../<action>: `act(session, principal, *lead, body[, if_match=])` changes the
    row's state and returns it (or what `row_of` finds it in). With a `resource`, the
    answer is remembered for a retry with the same Idempotency-Key (a retry reads the row
    again, audited as `resource`); `etag` sends the row's ETag; `if_match` is the
    annotation of an optional If-Match header."""

    async def action(**v: Any) -> Any:
        if (replayed := await _replay(v)) is not None:
            return replayed
        session, caller = v["session"], v["principal"]
        precondition = {"if_match": v["if_match"]} if if_match is not None else {}
        done = await act(session, caller, *_leads(v, lead), v["body"], **precondition)
        row = done if row_of is None else row_of(done)
        result = await _maybe_await(present(session, caller, done))
        idempotency = v.get("idempotency")
        if idempotency is None or resource is None:
            return http.shown(v["response"], row, result)
        response = v["response"] if etag else None
        return await http.done(idempotency, result, row=row, resource=resource, response=response)

    extra: list[tuple[Any, ...]] = []
    if resource is not None:
        extra.append(("idempotency", IdempotencyDep))
    if if_match is not None:
        extra.append(("if_match", if_match, None))
    _signed(
        action,
        [_param(*p) for p in lead],
        ("body", body),
        ("response", Response),
        ("session", Session),
        ("principal", principal),
        *extra,
    )
    router.add_api_route(
        path,
        action,
        methods=["POST"],
        name=name,
        summary=summary,
        description=description,
        status_code=status_code,
        response_model=response_model,
        responses=responses,
    )


def add_correct(
    router: APIRouter,
    path: str,
    name: str,
    summary: str,
    response_model: Any,
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    body: type[BaseModel],
    correct: Callable[..., Awaitable[Any]],
    present: Presenter,
) -> None:
    """PATCH: `correct(session, principal, *lead, body, if_match=)` applies the client's
    changes (If-Match checked) and returns the row, shown with its new ETag."""

    async def update(**v: Any) -> Any:
        session, caller = v["session"], v["principal"]
        row = await correct(session, caller, *_leads(v, lead), v["body"], if_match=v["if_match"])
        return http.shown(v["response"], row, await _maybe_await(present(session, caller, row)))

    _signed(
        update,
        [_param(*p) for p in lead],
        ("body", body),
        ("response", Response),
        ("session", Session),
        ("principal", principal),
        ("if_match", IfMatch, None),
    )
    router.add_api_route(
        path,
        update,
        methods=["PATCH"],
        name=name,
        summary=summary,
        response_model=response_model,
        responses=responses,
    )


def add_read(
    router: APIRouter,
    path: str,
    name: str,
    summary: str,
    response_model: Any,
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    present: Presenter,
    show: Callable[..., Any] | None = None,
) -> None:
    """GET one: `show(session, principal, *lead)` (may be a coroutine) finds the row and
    audits its read (without it, the first lead is the row, unaudited); shown with its
    ETag. Without a `principal`, the lead's own dependencies are the caller's."""

    async def get(**v: Any) -> Any:
        session, caller, leads = v.get("session"), v.get("principal"), _leads(v, lead)
        row = leads[0] if show is None else await _maybe_await(show(session, caller, *leads))
        return http.shown(v["response"], row, await _maybe_await(present(session, caller, row)))

    own = [] if principal is None else [("session", Session), ("principal", principal)]
    _signed(get, [_param(*p) for p in lead], ("response", Response), *own)
    router.add_api_route(
        path,
        get,
        methods=["GET"],
        name=name,
        summary=summary,
        response_model=response_model,
        responses=responses,
    )


def add_call(
    router: APIRouter,
    method: str,
    path: str,
    name: str,
    summary: str,
    response_model: Any,
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    call: Callable[..., Any],
    body: type[BaseModel] | None = None,
    *,
    description: str | None = None,
    status_code: int | None = None,
) -> None:
    """A route answering what `call(session, principal, *lead[, body])` returns (a list, a
    plan, settings): the service does all of it."""

    async def answer(**v: Any) -> Any:
        data = [v["body"]] if body is not None else []
        return await _maybe_await(call(v["session"], v["principal"], *_leads(v, lead), *data))

    given = [("body", body)] if body is not None else []
    _signed(
        answer, [_param(*p) for p in lead], *given, ("session", Session), ("principal", principal)
    )
    router.add_api_route(
        path,
        answer,
        methods=[method],
        name=name,
        summary=summary,
        description=description,
        status_code=status_code,
        response_model=response_model,
        responses=responses,
    )


def sorts_of(model: Any, query: Any) -> dict[str, Sort]:
    """The orders a list `query` offers (the values of its `sort` field): each a column of
    `model` of that name, its cursor values parsed by the column's type, ties broken by id."""
    names = dict.fromkeys(value.lstrip("-") for value in get_args(get_type_hints(query)["sort"]))
    fields: dict[str, tuple[Any, Callable[[Any], Any]]] = {}
    for name in names:
        column = col(getattr(model, name))
        sql_type = model.__table__.columns[name].type
        kind = getattr(sql_type, "impl", sql_type).python_type  # a TypeDecorator's own type
        parse: Callable[[Any], Any] = parse_str
        if issubclass(kind, datetime):
            parse = parse_datetime
        elif issubclass(kind, date):
            parse = parse_date
        fields[name] = (column, parse)
    return sort_options(col(model.id), **fields)


def scoped_to(model: Any) -> Callable[[Principal], Any]:
    """The statement of the `model` rows a caller may see (its `listed` for `add_page`)."""
    return lambda principal: scoped(select(model), principal, model)


def add_page(
    router: APIRouter,
    path: str,
    name: str,
    summary: str,
    item: type[BaseModel],
    responses: dict[int | str, Any],
    principal: Any,
    lead: Sequence[Lead],
    query: Any,
    listed: Callable[..., Any],
    sort: Sort | Mapping[str, Sort],
    present: Callable[..., Any] | None = None,
    *,
    audit_as: str | None = None,
    case_of: Callable[[Any], uuid.UUID] | None = None,
    description: str | None = None,
) -> None:
    """GET a keyset page of `item`s. `listed(principal, *lead)` is the statement of what the
    caller may list; `query` (a `ListFilters` dataclass, or None) filters it and, with a
    `sort` field, picks the order among `sort` (else `sort` is the order). `present(session,
    principal, rows)` shows the rows when validating each as `item` is not enough. With
    `audit_as` the read is audited with the ids it returns (under the case `case_of` finds in
    the first lead)."""

    async def list_page(**v: Any) -> Any:
        session, caller, leads = v["session"], v["principal"], _leads(v, lead)
        statement = listed(caller, *leads)
        if query is not None:
            statement = v["query"].apply(statement, caller)
        order = sort[v["query"].sort] if isinstance(sort, Mapping) else sort
        shown = item if present is None else partial(present, session, caller)
        return await http.page(
            session,
            caller,
            statement,
            shown,
            v["pagination"],
            order,
            v["request"],
            v["response"],
            audit_as=audit_as,
            case_id=None if case_of is None else case_of(leads[0]),
        )

    filters = [] if query is None else [("query", Annotated[query, Depends()])]
    _signed(
        list_page,
        [_param(*p) for p in lead],
        ("request", Request),
        ("response", Response),
        ("session", Session),
        ("principal", principal),
        *filters,
        ("pagination", Pagination),
    )
    router.add_api_route(
        path,
        list_page,
        methods=["GET"],
        name=name,
        summary=summary,
        description=description,
        response_model=Page[item],  # type: ignore[valid-type]
        responses=responses,
    )


async def _replay(values: dict[str, Any]) -> Any:
    """The answer stored for an earlier request with this Idempotency-Key, or None."""
    idempotency = values.get("idempotency")
    if idempotency is None:
        return None
    return await idempotency.replay(values["principal"], values["body"])


def _leads(values: dict[str, Any], lead: Sequence[Lead]) -> list[Any]:
    return [values[name] for name, *_ in lead]
