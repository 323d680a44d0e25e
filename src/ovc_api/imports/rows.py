"""One spreadsheet row checked into the typed inputs the services take, or its errors.

The checks are the API's own: a row becomes a ChildCreate (and a CaseCreate, a household
label), so a value the API would refuse is refused here with the same message, named by
row and column.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ovc_api.cases.schemas import CaseCreate
from ovc_api.children.schemas import ChildCreate
from ovc_api.children.service import DESCRIPTION_FIELDS
from ovc_api.families.models import IdPoorStatus
from ovc_api.imports.columns import CASE_KEYS, REQUIRED

TRUE = frozenset({"yes", "y", "true", "1", "បាទ", "ចាស"})
FALSE = frozenset({"no", "n", "false", "0", "ទេ"})
MAX_HOUSEHOLD = 200
# A placeholder: the case's child is the row's child, known once it is recorded.
NO_CHILD_YET = uuid.UUID(int=0)
CASE_FIELD_COLUMNS = {"opened_on": "case_opened_on", "summary": "case_summary"}


@dataclass
class PlannedRow:
    row: int
    child: ChildCreate
    household: str | None = None
    id_poor_status: IdPoorStatus = IdPoorStatus.unknown
    case: CaseCreate | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def error(row: int, column: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"row": row, "column": column, "message": message, **extra}


def _boolean(row: int, column: str, text: str | None, errors: list[dict[str, Any]]) -> bool:
    if text is None:
        return False
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value not in FALSE:
        errors.append(error(row, column, "write yes or no"))
    return False


def _validation_errors(
    row: int, exc: ValidationError, columns: dict[str, str], default_column: str
) -> list[dict[str, Any]]:
    found = []
    for issue in exc.errors():
        name = str(issue["loc"][0]) if issue["loc"] else default_column
        message = str(issue["msg"]).removeprefix("Value error, ")
        found.append(error(row, columns.get(name, name), message))
    return found


def plan_row(row: int, values: dict[str, str]) -> PlannedRow | list[dict[str, Any]]:
    """The row's typed inputs, or every error found in it."""
    errors: list[dict[str, Any]] = []
    child_values: dict[str, Any] = {k: values[k] for k in DESCRIPTION_FIELDS if k in values}
    child_values["birth_date_estimated"] = _boolean(
        row, "birth_date_estimated", values.get("birth_date_estimated"), errors
    )
    child_values["confirm_not_duplicate"] = _boolean(
        row, "confirm_not_duplicate", values.get("confirm_not_duplicate"), errors
    )
    for required in REQUIRED:
        if required not in values:
            errors.append(error(row, required, "required"))
    child: ChildCreate | None = None
    if not errors:
        try:
            child = ChildCreate.model_validate(child_values)
        except ValidationError as exc:
            errors.extend(_validation_errors(row, exc, {}, "given_name_latin"))
    household = values.get("household")
    if household is not None and len(household) > MAX_HOUSEHOLD:
        errors.append(error(row, "household", f"at most {MAX_HOUSEHOLD} characters"))
    id_poor = IdPoorStatus.unknown
    if "id_poor_status" in values:
        try:
            id_poor = IdPoorStatus(values["id_poor_status"])
        except ValueError:
            allowed = ", ".join(s.value for s in IdPoorStatus)
            errors.append(error(row, "id_poor_status", f"must be one of: {allowed}"))
        if household is None:
            errors.append(error(row, "id_poor_status", "only with a household"))
    case = _plan_case(row, values, errors)
    if errors or child is None:
        return errors
    return PlannedRow(row, child, household, id_poor, case)


def _plan_case(row: int, values: dict[str, str], errors: list[dict[str, Any]]) -> CaseCreate | None:
    if not any(key in values for key in CASE_KEYS):
        return None
    concerns = [c.strip() for c in values.get("concerns", "").replace(";", ",").split(",")]
    case_values: dict[str, Any] = {
        "child_id": NO_CHILD_YET,
        "opened_on": values.get("case_opened_on"),
        "referral_source": values.get("referral_source"),
        "concerns": [c for c in concerns if c],
        "risk_level": values.get("risk_level"),
    }
    if "case_summary" in values:
        case_values["summary"] = values["case_summary"]
    try:
        return CaseCreate.model_validate(case_values)
    except ValidationError as exc:
        errors.extend(_validation_errors(row, exc, CASE_FIELD_COLUMNS, "case_opened_on"))
        return None
