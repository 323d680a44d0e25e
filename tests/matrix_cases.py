"""Auth-matrix entries for the cases endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import Endpoint

ENDPOINTS: list[Endpoint] = []
