"""Auth-matrix entries for the spreadsheet import (see tests/matrix.py): writing needs
cases:write, reading a job or the template cases:read; a job is its organisation's."""

from __future__ import annotations

from .matrix_base import CASE_ROLES, Endpoint

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/v1/imports", CASE_ROLES),
    Endpoint("GET", "/api/v1/imports/template", CASE_ROLES),
    Endpoint("GET", "/api/v1/imports/{import_id}", CASE_ROLES, tenant_owned=True),
]
