"""The casework router: a case's assessments, plan (goals and actions), notes and follow-ups,
one route module each, every path its full template. The rules are in `casework/service.py`.
"""

from __future__ import annotations

from fastapi import APIRouter

from ovc_api.casework import assessments, follow_ups, notes, plans

router = APIRouter()
for module in (assessments, follow_ups, notes, plans):
    router.include_router(module.router)
