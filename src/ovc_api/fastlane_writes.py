"""The hot write, `POST /api/v1/cases/{case_id}/notes`, served ahead of FastAPI's router,
with the other records of a case made by one `NewRecord` statement: its plan's goals, its
assessments and its follow-ups.

A request of the common kind (PostgreSQL, a person's bearer token, a JSON body the kind's
schema admits, no Idempotency-Key) costs here one round trip for its statements and one
for the COMMIT: libpq's pipeline mode (`ovc_api.wire`) sends BEGIN, the credential check
that binds the tenant (the very statement `ovc_api.auth.principal` runs, synchronous
commit on, as for any write) and the kind's one statement that finds the case in the
caller's scope for writing, inserts the record when the rules hold and writes its audit
row and its change-feed event (the very statement `NewRecord.insert` runs through the
session, `NewRecord.statement`, compiled once per shape). What the credential check finds
is then checked as `authenticate` and `current_principal` check it; the rate limit is
counted as there, after the credential and before anything else is answered; the answer
(201, its Location and ETag, the record as the response model serializes it) is the
documented route's (`record_routes.created_from_row`).

Anything else is *declined*: the transaction (record, audit row and event with it) is
rolled back and the request, its body replayed, goes on to the documented FastAPI route,
which answers it exactly as before: a body the schema refuses or that is not JSON, an
Idempotency-Key (its replay memory is the route's), an API key, a revoked login, a role
changed since the token was issued, a temporary password, a case missing or not the
caller's to write to (404), a closed case (409), a date before the case opened (422),
SQLite. A spent rate limit answers 429 here as there, and a database error fails as the
route's statements would, nothing written either way.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from ovc_api import API_V1
from ovc_api.auth.principal import _JWT_PRINCIPAL_PG, Principal
from ovc_api.auth.scopes import Scope as Needed
from ovc_api.casework import routes, service
from ovc_api.errors import ProblemError
from ovc_api.fastlane import (
    DECLINED,
    Compiled,
    Declined,
    FastCaseRead,
    FastRows,
    Lease,
    _Template,
    check_credential,
    lent,
    person,
)
from ovc_api.prepared import built
from ovc_api.record_routes import created_from_row

_UUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class WriteKind:
    """A case's record created by one statement, as the fast lane answers it: its route's
    path template (logs, metrics), its `NewRecord`, its body's schema, its response model
    and the columns that answer returns, and its Location."""

    template: str
    new: service.NewRecord
    body: TypeAdapter[Any]
    answer: TypeAdapter[Any]
    returning: tuple[str, ...]
    location: Callable[[Any], str]


def write_kinds() -> dict[str, WriteKind]:
    """The kinds by their collection's name in the path (`notes`...): those whose route
    creates in one statement (`record_routes.Under`), with the route's own schemas."""
    kinds = {
        "notes": (routes.NOTES, service.NEW_NOTE),
        "goals": (routes.GOALS, service.NEW_GOAL),
        "assessments": (routes.ASSESSMENTS, service.NEW_ASSESSMENT),
        "follow-ups": (routes.FOLLOW_UPS, service.NEW_FOLLOW_UP),
    }
    return {
        collection: WriteKind(
            template=f"{API_V1}{kind.path}",
            new=new,
            body=TypeAdapter(kind.create),
            answer=TypeAdapter(kind.read),
            returning=tuple(kind.read.model_fields),
            location=kind.location,
        )
        for collection, (kind, new) in kinds.items()
    }


def _plain_json(scope: Scope) -> None:
    """Decline all but a plain JSON body (`Content-Type: application/json`, a
    `Content-Length`, no Idempotency-Key, no query): anything else is the route's."""
    if scope.get("query_string"):
        raise Declined
    length: int | None = None
    json_body = False
    for name, value in scope["headers"]:
        if name == b"content-type":
            if json_body:
                raise Declined  # twice
            media = value.split(b";", 1)[0].strip().lower()
            json_body = media == b"application/json"
            if not json_body:
                raise Declined
        elif name == b"content-length":
            if length is not None or not value.isdigit():
                raise Declined
            length = int(value)
        elif name in (b"idempotency-key", b"transfer-encoding"):
            raise Declined
    if not json_body or not length:
        raise Declined


async def _read_body(receive: Receive, received: list[Message]) -> bytes:
    """The request's body, every message kept in `received` (replayed to the route if
    the request is declined)."""
    chunks = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            raise Declined  # the client left: the route sees it as it would have
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """A receive that hands over the messages already read, then reads on."""
    pending = list(received)

    async def replaying_receive() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying_receive


class FastCaseCreate(FastCaseRead):
    """`POST /api/v1/cases/{case_id}/<notes|goals|assessments|follow-ups>` for the common
    request, ahead of the router (see the module's docstring)."""

    path = path_format = f"{API_V1}/cases/{{case_id}}/notes"

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app)
        self.kinds = write_kinds()
        names = "|".join(re.escape(name) for name in self.kinds)
        self.pattern = re.compile(rf"^{re.escape(API_V1)}/cases/({_UUID})/({names})$")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == "POST" and DECLINED not in scope:
            found = self.pattern.match(scope["path"])
            if found:
                return Match.FULL, {"route": _Template(self.kinds[found.group(2)].template)}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        received: list[Message] = []
        try:
            response = await self._create(scope, receive, received)
        except Declined:
            scope[DECLINED] = True
            await scope["router"].app(scope, _replaying(received, receive), send)
            return
        await response(scope, receive, send)

    async def _create(self, scope: Scope, receive: Receive, received: list[Message]) -> Response:
        database = self.fastapi.state.database
        if not database.is_postgres:
            raise Declined
        found = self.pattern.match(scope["path"])
        if found is None:
            raise Declined
        kind = self.kinds[found.group(2)]
        case_id = uuid.UUID(found.group(1))
        _plain_json(scope)
        principal, credential_values = person(
            self.fastapi, scope, Needed.cases_write, read_only=False
        )
        body = await _read_body(receive, received)
        try:
            # As FastAPI reads and validates a JSON body (`json.loads`, then the schema).
            data = kind.body.validate_python(json.loads(body), from_attributes=True)
        except (ValueError, ValidationError):
            raise Declined from None  # the route's 422 (or 400)
        values = kind.new.values(principal, data)
        if not kind.new.rules.admissible(values):
            raise Declined  # refused whatever the case: the route says why
        key, build, params = kind.new.statement(principal, case_id, values, kind.returning)
        engine = database.engine
        statement = built(("fastlane", key), lambda: Compiled.of(build(), engine))
        if self.credential is None:
            self.credential = Compiled.of(_JWT_PRINCIPAL_PG, engine)
        statements = [(self.credential, credential_values), (statement, params)]
        async with lent(engine) as lease:
            return await self._write(scope, lease, statements, principal, kind, values)

    async def _write(
        self,
        scope: Scope,
        lease: Lease,
        statements: list[tuple[Compiled, dict[str, Any]]],
        principal: Principal,
        kind: WriteKind,
        values: Mapping[str, Any],
    ) -> Response:
        """The credential check and the kind's statement in one round trip, checked, the
        rate limit counted, COMMIT: the answer (or Declined, everything rolled back)."""
        try:
            checked, rows = await self._run(lease, statements)
        except DBAPIError as exc:
            # Raised as the route's statements raise it (a conflict is run again by
            # RequestContextMiddleware, an outage is a 503), nothing left behind.
            if not exc.connection_invalidated:
                await self._rollback(lease)
            raise
        try:
            check_credential(checked, principal)
            await self.fastapi.state.rate_limiter.check(Request(scope), principal)
            response = self._answer_row(kind, rows, values)
        except BaseException:
            await self._rollback(lease)
            raise
        await self._commit(lease)
        return response

    def _answer_row(self, kind: WriteKind, rows: FastRows, values: Any) -> Response:
        try:
            row = kind.new.inserted(rows[0] if rows else None, values)
        except (ProblemError, RuntimeError):
            raise Declined from None  # 404, 409, 422: the route's answer
        return created_from_row(Response(), row, kind.answer, kind.location(row))


def install(app: FastAPI) -> None:
    """Put the fast create ahead of every route (it declines to them what it does not
    serve)."""
    app.router.routes.insert(0, FastCaseCreate(app))
    app.router._mark_routes_changed()
