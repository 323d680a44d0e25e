"""The /api/v1 router: every domain package's routes, included once."""

from __future__ import annotations

from fastapi import APIRouter

api_router = APIRouter()
