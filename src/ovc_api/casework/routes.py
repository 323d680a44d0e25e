"""A case's sub-resources: assessments, the case plan (goals and actions), notes, follow-ups.

Each module adds its routes to the one casework router, so every path is its full template.
"""

from __future__ import annotations

from ovc_api.casework import assessments, follow_ups, notes, plans
from ovc_api.casework.router import router

__all__ = ["assessments", "follow_ups", "notes", "plans", "router"]
