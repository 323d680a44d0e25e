"""The one casework router: every module adds its routes here, so each path is its full template."""

from __future__ import annotations

from fastapi import APIRouter

from ovc_api import API_V1

router = APIRouter(prefix=API_V1, tags=["casework"])
