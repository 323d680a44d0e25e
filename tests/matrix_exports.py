"""Auth-matrix entries for the exports endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import Endpoint

ENDPOINTS: list[Endpoint] = []
