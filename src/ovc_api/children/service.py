"""The rules of children's records: recorded once (likely duplicates are refused until
confirmed), corrected or archived with history, every read and change audited.

A likely duplicate's 409 shows each candidate's id, initials and birth year only, and each
candidate shown is audited (`child.duplicate_shown`) in its owner's log: it is a read.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api import service_kit
from ovc_api.auth.principal import Principal
from ovc_api.children.models import Child
from ovc_api.children.placements import first_placement
from ovc_api.children.queries import likely_duplicates
from ovc_api.children.schemas import ChildCreate, ChildUpdate, DuplicateCandidate
from ovc_api.clock import local_today, recording_moment
from ovc_api.concurrency import apply_changes
from ovc_api.db import utcnow
from ovc_api.errors import Conflict, Unprocessable
from ovc_api.tenancy import resolve_foreign_key
from ovc_api.text import search_key

RESOURCE = "child"
NAME_FIELDS = ("given_name_latin", "family_name_latin", "given_name_khmer", "family_name_khmer")
PLACE_FIELDS = ("province", "district", "commune", "village")
# What describes the child: a referral receiver's copy takes these, an import row fills them.
DESCRIPTION_FIELDS = (
    *NAME_FIELDS,
    *("sex", "date_of_birth", "birth_date_estimated", "birth_registration", "disability"),
    *("schooling_status", "care_arrangement", *PLACE_FIELDS),
)


def search_text(names: Any) -> str:
    """The search key of a child's names (`names` has the NAME_FIELDS attributes)."""
    return search_key(*(getattr(names, f) for f in NAME_FIELDS))


CHILDREN = service_kit.Records(Child, RESOURCE)
child_in_scope = CHILDREN.in_scope
read_child = CHILDREN.read_shared
revisions = CHILDREN.revisions


async def record_child(session: AsyncSession, principal: Principal, data: ChildCreate) -> Child:
    """A new child's record; a likely duplicate is a 409 naming the candidates, unless the
    caller confirmed it is a different child."""
    if data.family_id is not None:
        await resolve_foreign_key(session, principal, Child.family_id, data.family_id, "family_id")
    if not data.confirm_not_duplicate:
        duplicates = await likely_duplicates(session, principal, data)
        if duplicates:
            for duplicate in duplicates:
                service_kit.audit(
                    session,
                    principal,
                    RESOURCE,
                    "duplicate_shown",
                    duplicate.id,
                    owner_organisation_id=duplicate.organisation_id,
                )
            raise Conflict(
                "This child may already be recorded: check `duplicates`, then resend with "
                "confirm_not_duplicate=true to record a different child",
                extra={"duplicates": [candidate(d).model_dump(mode="json") for d in duplicates]},
                keep_changes=True,
            )
    child = Child(
        **service_kit.stored(data, exclude={"confirm_not_duplicate"}),
        organisation_id=principal.organisation_id,
        created_by=principal.user_id,
        search_text=search_text(data),
    )
    await service_kit.insert(session, principal, child, resource=RESOURCE)
    # As of the day it is recorded (a replayed recording: that day).
    moment = recording_moment()
    await first_placement(session, principal, child, moment.date() if moment else local_today())
    return child


def initials(child: Child) -> str:
    """`S. C.`: the first letter of each name part, in Latin script if it has one."""
    latin = (child.given_name_latin, child.family_name_latin)
    khmer = (child.given_name_khmer, child.family_name_khmer)
    parts = latin if any(latin) else khmer
    return " ".join(f"{part[0].upper()}." for part in parts if part)


def candidate(child: Child) -> DuplicateCandidate:
    """A likely duplicate as the 409 shows it (its disclosure is audited by the caller)."""
    born = child.date_of_birth
    return DuplicateCandidate(
        id=child.id, initials=initials(child), birth_year=born.year if born else None
    )


async def correct_child(
    session: AsyncSession,
    principal: Principal,
    child: Child,
    data: ChildUpdate,
    *,
    if_match: str | None,
) -> Child:
    """Correct or archive (never delete) the record; the replaced values are kept."""
    required = {"sex", "care_arrangement", "province", "birth_registration"}
    changes = service_kit.stored(data, sent_only=True, exclude={"archived"}, not_null=required)
    arrangement = changes.pop("care_arrangement", None)
    if arrangement is not None and arrangement != child.care_arrangement:
        raise Unprocessable.field(
            ["body", "care_arrangement"],
            "derived from the child's current placement: record a placement instead "
            f"(POST /api/v1/children/{child.id}/placements)",
        )
    if changes.get("family_id") is not None:
        await resolve_foreign_key(
            session, principal, Child.family_id, changes["family_id"], "family_id"
        )
    if data.archived is not None and data.archived != (child.archived_at is not None):
        changes["archived_at"] = utcnow() if data.archived else None
    if any(name in changes for name in NAME_FIELDS):
        merged = {name: changes.get(name, getattr(child, name)) for name in NAME_FIELDS}
        if not (merged["given_name_latin"] or merged["given_name_khmer"]):
            raise Unprocessable.field(["body", "given_name_latin"], "a given name is required")
        changes["search_text"] = search_key(*merged.values())
    changed = await apply_changes(session, child, changes, if_match, principal)
    if changed:
        archiving = "archived_at" in changed and child.archived_at is not None
        service_kit.audit(
            session,
            principal,
            RESOURCE,
            "archive" if archiving else "update",
            child.id,
            changed_fields=[f for f in changed if f != "search_text"],
        )
    return child
