"""Hot statements built once per shape and run with each request's values.

Building a SQLAlchemy statement (dozens of labelled columns, a CTE, the visibility rules)
and computing its cache key cost more CPU than the database spends answering it. The hot
reads (the case list, one case) are therefore built for a *stand-in* caller whose ids are
bind parameters, kept per shape (the caller's role, scopes and which ids it has, the sort,
the page size, the database), and executed with the request's values. What the statement
selects and which rows it admits are exactly what the same builder gives for the real
caller: only where the values come from changes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any, TypeVar, cast

from sqlalchemy import Uuid, bindparam

from ovc_api.auth.principal import Principal
from ovc_api.tenancy import rules_in_force

T = TypeVar("T")
ORGANISATION = bindparam("caller_organisation", type_=Uuid())
USER = bindparam("caller_user", type_=Uuid())
API_KEY = bindparam("caller_api_key", type_=Uuid())
RECORD = bindparam("record_id", type_=Uuid())  # the one record a statement reads
MAX_SHAPES = 512
_built: dict[Hashable, Any] = {}


def caller_shape(principal: Principal) -> Hashable:
    """What of the caller decides a statement's SQL (never an id)."""
    return (
        principal.role,
        principal.scopes,
        principal.user_id is None,
        principal.api_key_id is None,
        principal.read_only,
    )


def stand_in(principal: Principal) -> Principal:
    """The caller with its ids replaced by bind parameters (see `caller_values`)."""
    return replace(
        principal,
        organisation_id=cast(Any, ORGANISATION),
        user_id=None if principal.user_id is None else cast(Any, USER),
        api_key_id=None if principal.api_key_id is None else cast(Any, API_KEY),
        session_id=None,
        client_ip=None,
        request_id=None,
    )


def caller_values(principal: Principal) -> dict[str, Any]:
    """The values of `stand_in`'s bind parameters for this caller."""
    return {
        ORGANISATION.key: principal.organisation_id,
        USER.key: principal.user_id,
        API_KEY.key: principal.api_key_id,
    }


def built(key: Hashable | None, build: Callable[[], T]) -> T:
    """The statement of this shape, built on first use; `key` None: built every time (a
    statement with values of its own, e.g. filters). Installing other visibility rules
    (or none: `VisibilityRulesMissing` is raised as by any scoped query) builds afresh."""
    if key is None:
        return build()
    generation, _rules = rules_in_force()
    found = _built.get((generation, key))
    if found is None:
        if len(_built) >= MAX_SHAPES:
            _built.clear()
        found = _built[(generation, key)] = build()
    return cast(T, found)


def driver_values(compiled: Any) -> Callable[[Mapping[str, Any] | None], dict[str, Any]]:
    """A compiled statement's bind values as the driver takes them (SQLAlchemy's bind
    processors applied, as `Connection.execute` applies them), from a request's values (None:
    those bound in the statement): for statements sent without SQLAlchemy's execution (the
    fast lane's pipeline, the exports' COPY)."""
    processors: dict[str, Any] = dict(compiled._bind_processors)

    def values_of(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        bound = dict(compiled.construct_params(values))
        for name, process in processors.items():
            if name in bound:
                bound[name] = process(bound[name])
        return bound

    return values_of
