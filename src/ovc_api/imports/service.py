"""Running an import: check every row, then record every household, child and case through
the families, children and cases services (so each rule, duplicate check and audit row
applies) in ONE transaction: all rows or none. A dry run does the same and rolls the
transaction back, so it finds what only a service knows (a case opened before the child's
birth) and a file it passes commits unless the records changed in between.

The job row is written in short transactions of its own, so its progress is visible to any
worker while the import runs; nothing here knows HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ovc_api.audit.service import record
from ovc_api.auth.principal import Principal
from ovc_api.cases import service as cases
from ovc_api.children import service as children
from ovc_api.children.models import Child
from ovc_api.children.queries import likely_duplicates
from ovc_api.db import Database, set_tenant_context, unique_or_conflict, unit_of_work, utcnow
from ovc_api.errors import ProblemError, Unprocessable
from ovc_api.families import service as families
from ovc_api.families.schemas import FamilyCreate
from ovc_api.imports.columns import REQUIRED
from ovc_api.imports.models import ImportJob, ImportMode, ImportStatus
from ovc_api.imports.reader import Sheet, TooManyRows, UnreadableFile, file_format, read_sheet
from ovc_api.imports.rows import CASE_FIELD_COLUMNS, PlannedRow, error, plan_row
from ovc_api.tenancy import get_visible_or_404

logger = logging.getLogger("ovc_api.imports")
RESOURCE = "import"
PROGRESS_EVERY = 200
NAME_COLUMNS = ("given_name_latin", "given_name_khmer")


@dataclass(frozen=True)
class Upload:
    """An uploaded file, read: its name, format, SHA-256 and rows."""

    name: str
    fmt: str
    digest: str
    sheet: Sheet


def read_upload(file_name: str | None, content: bytes, max_rows: int) -> Upload:
    """The file's rows; an unreadable file or too many rows is a 422 on the field `file`."""
    name = (file_name or "upload")[:255]
    fmt = file_format(name, content)
    try:
        sheet = read_sheet(content, fmt, max_rows)
    except (UnreadableFile, TooManyRows) as exc:
        raise Unprocessable.field(["body", "file"], str(exc)) from exc
    return Upload(name, fmt, hashlib.sha256(content).hexdigest(), sheet)


async def open_job(
    database: Database, principal: Principal, upload: Upload, mode: ImportMode
) -> tuple[ImportJob, bool]:
    """A queued job for the upload, committed at once so any worker can show its progress;
    or, for a file this organisation already committed (or is committing), that job and
    True."""
    async with unit_of_work(database) as session:
        await set_tenant_context(session, principal.organisation_id)
        if mode is ImportMode.commit:
            earlier = await committed_with_digest(session, principal, upload.digest)
            if earlier is not None:
                return earlier, True
        job = ImportJob(
            organisation_id=principal.organisation_id,
            created_by=principal.user_id,
            api_key_id=principal.api_key_id,
            mode=mode.value,
            status=ImportStatus.queued.value,
            file_name=upload.name,
            file_format=upload.fmt,
            file_digest=upload.digest,
            commit_digest=upload.digest if mode is ImportMode.commit else None,
            total_rows=len(upload.sheet.rows),
        )
        async with unique_or_conflict(session, "This file is being committed by another request"):
            session.add(job)
    return job, False


async def finished_job(database: Database, principal: Principal, job_id: uuid.UUID) -> ImportJob:
    """The job as the run left it (read in a transaction of its own)."""
    async with unit_of_work(database) as session:
        await set_tenant_context(session, principal.organisation_id)
        return await job_in_scope(session, principal, job_id)


class Rehearsed(Exception):
    """A dry run recorded every row: roll it all back."""


class RowsRefused(Exception):
    """A row failed while committing: the transaction rolls back, nothing is kept."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("rows refused")
        self.errors = errors


async def job_in_scope(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> ImportJob:
    """An import of the caller's organisation (another's answers 404)."""
    return await get_visible_or_404(session, principal, ImportJob, job_id)


async def committed_with_digest(
    session: AsyncSession, principal: Principal, digest: str
) -> ImportJob | None:
    """The commit of this very file by the organisation, if one is running or done."""
    statement = select(ImportJob).where(
        col(ImportJob.organisation_id) == principal.organisation_id,
        col(ImportJob.commit_digest) == digest,
    )
    return (await session.exec(statement)).first()


def header_errors(sheet: Sheet) -> list[dict[str, Any]]:
    errors = list(sheet.header_errors)
    for required in REQUIRED:
        if required not in sheet.columns:
            errors.append(error(1, required, "this required column is missing"))
    if not any(name in sheet.columns for name in NAME_COLUMNS):
        errors.append(
            error(1, "given_name_latin", "a given-name column (Latin or Khmer) is needed")
        )
    if not sheet.rows and not errors:
        errors.append(error(2, "", "the file has a header but no rows"))
    return errors


async def _update(
    database: Database, principal: Principal, job_id: uuid.UUID, **values: Any
) -> None:
    async with unit_of_work(database) as session:
        await set_tenant_context(session, principal.organisation_id)
        job = await session.get(ImportJob, job_id)
        if job is None:  # pragma: no cover - the job was created before the run
            return
        for name, value in values.items():
            setattr(job, name, value)
        job.updated_at = utcnow()


def _duplicate_error(
    number: int, duplicates: list[Child], ignored: set[uuid.UUID]
) -> dict[str, Any]:
    return error(
        number,
        "given_name_latin",
        "this child may already be recorded: check the children named in `duplicates`, "
        "then set confirm_not_duplicate to yes to record a different child",
        duplicates=[str(d.id) for d in duplicates if d.id not in ignored],
    )


def _same_child_key(planned: PlannedRow) -> tuple[Any, ...]:
    child = planned.child
    place = (child.commune or "").lower() or child.province.value
    return (children.search_text(child), child.date_of_birth, place)


async def check_rows(
    database: Database, principal: Principal, job_id: uuid.UUID, sheet: Sheet
) -> tuple[list[PlannedRow], list[dict[str, Any]]]:
    """Every row's errors, and likely duplicates (in the file, and against the recorded
    children with the children service's own rule) unless the row confirms otherwise."""
    errors = header_errors(sheet)
    if errors:
        return [], errors
    planned: list[PlannedRow] = []
    seen: dict[tuple[Any, ...], int] = {}
    async with unit_of_work(database) as session:
        await set_tenant_context(session, principal.organisation_id, relaxed_commit=True)
        for done, (number, values) in enumerate(sheet.rows, start=1):
            outcome = plan_row(number, values)
            if isinstance(outcome, list):
                errors.extend(outcome)
            else:
                planned.append(outcome)
                if not outcome.child.confirm_not_duplicate:
                    key = _same_child_key(outcome)
                    if key in seen:
                        errors.append(
                            error(number, "given_name_latin", f"the same child as row {seen[key]}")
                        )
                    seen.setdefault(key, number)
                    duplicates = await likely_duplicates(session, principal, outcome.child)
                    if duplicates:
                        errors.append(_duplicate_error(number, duplicates, set()))
            if done % PROGRESS_EVERY == 0:
                await _update(database, principal, job_id, processed_rows=done)
    return planned, errors


async def commit_rows(
    session: AsyncSession, principal: Principal, job: ImportJob, planned: list[PlannedRow]
) -> dict[str, Any]:
    """Record every row through the services; the first refusal raises RowsRefused."""
    households: dict[str, uuid.UUID] = {}
    child_ids: list[str] = []
    recorded_here: set[uuid.UUID] = set()
    case_count = 0
    for row in planned:
        try:
            if not row.child.confirm_not_duplicate:
                # The children service's own rule, again in this transaction (a child may
                # have been recorded since the rows were checked); the rows recorded by this
                # import were compared with each other by check_rows.
                found = await likely_duplicates(session, principal, row.child)
                if any(d.id not in recorded_here for d in found):
                    raise RowsRefused([_duplicate_error(row.row, found, recorded_here)])
            family_id = None
            if row.household is not None:
                if row.household not in households:
                    child = row.child
                    family = await families.record_family(
                        session,
                        principal,
                        FamilyCreate(
                            name=row.household,
                            id_poor_status=row.id_poor_status,
                            **child.model_dump(include=set(children.PLACE_FIELDS)),
                        ),
                    )
                    households[row.household] = family.id
                family_id = households[row.household]
            data = row.child.model_copy(
                update={"family_id": family_id, "confirm_not_duplicate": True}
            )
            recorded = await children.record_child(session, principal, data)
            recorded_here.add(recorded.id)
            child_ids.append(str(recorded.id))
            if row.case is not None:
                await cases.open_case(
                    session, principal, row.case.model_copy(update={"child_id": recorded.id})
                )
                case_count += 1
        except ProblemError as exc:
            column = ""
            if exc.errors:
                location = [str(part) for part in exc.errors[0].get("loc", [])]
                column = location[-1] if location else ""
            column = CASE_FIELD_COLUMNS.get(column, column) if row.case is not None else column
            raise RowsRefused([error(row.row, column, exc.detail or exc.title)]) from exc
    record(
        session,
        principal,
        "import.commit",
        resource_type=RESOURCE,
        resource_id=job.id,
        detail=f"{len(child_ids)} children, {len(households)} families, {case_count} cases",
    )
    return {
        "children": len(child_ids),
        "families": len(households),
        "cases": case_count,
        "child_ids": child_ids,
    }


async def run_import(
    database: Database, principal: Principal, job_id: uuid.UUID, sheet: Sheet
) -> None:
    """Check the rows, then (to commit, when no row has an error) record them all."""
    try:
        await _update(database, principal, job_id, status=ImportStatus.running.value)
        planned, errors = await check_rows(database, principal, job_id, sheet)
        async with unit_of_work(database) as session:
            await set_tenant_context(session, principal.organisation_id)
            job = await session.get(ImportJob, job_id)
            assert job is not None
            mode = ImportMode(job.mode)
        if errors:
            await _finish(database, principal, job_id, mode, errors, len(sheet.rows))
            return
        try:
            async with unit_of_work(database) as session:
                await set_tenant_context(session, principal.organisation_id)
                job = await session.get(ImportJob, job_id)
                assert job is not None
                created = await commit_rows(session, principal, job, planned)
                if mode is ImportMode.validate:
                    raise Rehearsed  # rolls back every record and audit row of the run
                job.status = ImportStatus.committed.value
                job.created = created
                job.processed_rows = job.total_rows
                job.finished_at = job.updated_at = utcnow()
        except Rehearsed:
            await _finish(database, principal, job_id, mode, [], len(sheet.rows))
        except RowsRefused as refused:
            await _finish(database, principal, job_id, mode, refused.errors, len(sheet.rows))
    except Exception as exc:
        # The exception's text may quote a row's values: log its kind only (no personal data).
        logger.error(
            "import stopped on an internal error",
            extra={"import_id": str(job_id), "error": type(exc).__name__},
        )
        await _update(
            database,
            principal,
            job_id,
            status=ImportStatus.failed.value,
            commit_digest=None,
            errors=[error(0, "", "the import stopped on an internal error: nothing was recorded")],
            error_count=1,
            finished_at=utcnow(),
        )


async def _finish(
    database: Database,
    principal: Principal,
    job_id: uuid.UUID,
    mode: ImportMode,
    errors: list[dict[str, Any]],
    total: int,
) -> None:
    failed = bool(errors) and mode is ImportMode.commit
    await _update(
        database,
        principal,
        job_id,
        status=(ImportStatus.failed if failed else ImportStatus.validated).value,
        # A refused commit frees the file's digest: the same file may be sent again.
        commit_digest=None,
        errors=errors,
        error_count=len(errors),
        processed_rows=total,
        finished_at=utcnow(),
    )
