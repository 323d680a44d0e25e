"""The routes of one kind of a case's sub-record, written once: create, list, read, correct
(and, where kept, the revisions), all under /cases/{case_id}/<collection>.

Assessments, goals, actions, notes and follow-ups differ only in their models, their list
filters and sorts, the service operations they call and the words of their summaries; a
`SubRecord` says those and `add_routes` registers the handlers with the names, parameters and
answers each kind always had.

No `from __future__ import annotations` here: FastAPI reads the handlers' annotations, some
of which are filled in per kind.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement

from ovc_api import http_epilogue as http
from ovc_api.auth.principal import CasesReader, CasesWriter, Principal
from ovc_api.cases.deps import CaseForRead, CaseForWrite
from ovc_api.cases.models import Case
from ovc_api.casework import service
from ovc_api.casework.common import in_case, location
from ovc_api.concurrency import IfMatch
from ovc_api.db import Session
from ovc_api.errors import error_responses
from ovc_api.idempotency import IdempotencyDep
from ovc_api.pagination import Page, Pagination, Sort
from ovc_api.revisions import RevisionRead

Add = Callable[[Any, Principal, Case, Any], Awaitable[Any]]
Filters = Callable[..., list[ColumnElement[bool]]]
READ_ERRORS = error_responses(401, 403, 404, 422)


@dataclass(frozen=True)
class SubRecord:
    """One kind of a case's sub-record, as its routes need it."""

    name: str  # operation names: create_<name>, list_<name>s, get_<name>, update_<name>
    collection: str  # the path segment under /cases/{case_id}/
    id_param: str  # the path parameter naming one record
    model: Any
    read: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]
    resource: str  # what the audit calls it
    add: Add
    correct: Callable[..., Awaitable[Any]]
    sorts: Mapping[str, Sort]
    sort_type: Any  # the Literal of the sort codes
    default_sort: str
    filters: Filters  # the list's query parameters -> its conditions
    summaries: tuple[str, str, str, str]  # create, list, read, correct


def _loader(kind: SubRecord, *, write: bool) -> Any:
    """The dependency loading one record of the case in scope (404 otherwise)."""

    async def load(**values: Any) -> Any:
        session, principal, case = values["session"], values["principal"], values["case"]
        return await in_case(session, principal, kind.model, case, values[kind.id_param])

    load.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            _param(kind.id_param, uuid.UUID),
            _param("case", CaseForWrite if write else CaseForRead),
            _param("session", Session),
            _param("principal", CasesWriter if write else CasesReader),
        ]
    )
    return Annotated[kind.model, Depends(load)]


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def add_routes(router: APIRouter, kind: SubRecord) -> Any:
    """Register the kind's create, list, read and correct routes; returns the dependency that
    loads one record for reading (for any further route of the kind)."""
    for_read, for_write = _loader(kind, write=False), _loader(kind, write=True)
    path = f"/cases/{{case_id}}/{kind.collection}"
    one = f"{path}/{{{kind.id_param}}}"
    create_summary, list_summary, read_summary, correct_summary = kind.summaries

    async def create(
        case: CaseForWrite,
        body: BaseModel,
        response: Response,
        session: Session,
        principal: CasesWriter,
        idempotency: IdempotencyDep,
    ) -> Any:
        if (replayed := await idempotency.replay(principal, body)) is not None:
            return replayed
        row = await kind.add(session, principal, case, body)
        where = location(case, kind.collection, row.id)
        result = kind.read.model_validate(row)
        return await http.created(response, idempotency, row, result, location=where)

    create.__annotations__["body"] = kind.create
    router.add_api_route(
        path,
        create,
        methods=["POST"],
        name=f"create_{kind.name}",
        summary=create_summary,
        status_code=201,
        response_model=kind.read,
        responses=error_responses(401, 403, 404, 409, 422),
    )

    async def list_(**values: Any) -> Any:
        case: Case = values["case"]
        principal: Principal = values["principal"]
        filters = {name: values[name] for name in _filter_params(kind)}
        conditions = kind.filters(**filters)
        statement = service.of_case(principal, kind.model, case).where(*conditions)
        return await http.page(
            values["session"],
            principal,
            statement,
            kind.read,
            values["pagination"],
            kind.sorts[values["sort"]],
            values["request"],
            values["response"],
            audit_as=kind.resource,
            case_id=case.id,
        )

    list_.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            _param("case", CaseForRead),
            _param("request", Request),
            _param("response", Response),
            _param("session", Session),
            _param("principal", CasesReader),
            _param("pagination", Pagination),
            *_filter_params(kind).values(),
            _param("sort", kind.sort_type, kind.default_sort),
        ]
    )
    router.add_api_route(
        path,
        list_,
        methods=["GET"],
        name=f"list_{kind.name}s",
        summary=list_summary,
        response_model=Page[kind.read],  # type: ignore[name-defined]
        responses=READ_ERRORS,
    )

    async def get(
        case: CaseForRead, row: Any, response: Response, session: Session, principal: CasesReader
    ) -> Any:
        service.read(session, principal, row, kind.resource)
        return http.shown(response, row, kind.read.model_validate(row))

    get.__annotations__["row"] = for_read
    router.add_api_route(
        one,
        get,
        methods=["GET"],
        name=f"get_{kind.name}",
        summary=read_summary,
        response_model=kind.read,
        responses=READ_ERRORS,
    )

    async def update(
        case: CaseForWrite,
        row: Any,
        body: BaseModel,
        response: Response,
        session: Session,
        principal: CasesWriter,
        if_match: IfMatch = None,
    ) -> Any:
        await kind.correct(session, principal, case, row, body, if_match=if_match)
        return http.shown(response, row, kind.read.model_validate(row))

    update.__annotations__.update(row=for_write, body=kind.update)
    router.add_api_route(
        one,
        update,
        methods=["PATCH"],
        name=f"update_{kind.name}",
        summary=correct_summary,
        response_model=kind.read,
        responses=error_responses(401, 403, 404, 409, 412, 422, 428),
    )
    return for_read


def add_revisions_route(
    router: APIRouter,
    kind: SubRecord,
    for_read: Any,
    revisions: Callable[[Any, Principal, Any], Awaitable[list[RevisionRead]]],
    summary: str,
) -> None:
    """The earlier versions of a corrected record of the kind, newest first."""

    async def list_revisions(
        case: CaseForRead, row: Any, session: Session, principal: CasesReader
    ) -> list[RevisionRead]:
        return await revisions(session, principal, row)

    list_revisions.__annotations__["row"] = for_read
    router.add_api_route(
        f"/cases/{{case_id}}/{kind.collection}/{{{kind.id_param}}}/revisions",
        list_revisions,
        methods=["GET"],
        name=f"list_{kind.name}_revisions",
        summary=summary,
        response_model=list[RevisionRead],
        responses=READ_ERRORS,
    )


def _filter_params(kind: SubRecord) -> dict[str, inspect.Parameter]:
    """The list's own query parameters, as the kind's filter function declares them."""
    parameters = inspect.signature(kind.filters, eval_str=True).parameters
    return {name: p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for name, p in parameters.items()}
