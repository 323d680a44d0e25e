"""Auth-matrix entries for the stats endpoints (see tests/matrix.py)."""

from __future__ import annotations

from .matrix_base import Endpoint

ENDPOINTS: list[Endpoint] = []
