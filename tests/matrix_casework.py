"""Auth-matrix entries for a case's sub-resources and the work list (see tests/matrix.py).

The matrix's case is open, assigned to the tenant's caseworker, opened on 2026-01-15, and has
one of each sub-resource; bodies are valid so that only auth and scope decide the answer.
"""

from __future__ import annotations

from typing import Any

from .matrix_base import CASE_ROLES, Endpoint

CASE = "/api/v1/cases/{case_id}"
RANDOM_ID = "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e"


def _collection(
    path: str, item: str, new: dict[str, Any], change: dict[str, Any]
) -> list[Endpoint]:
    """POST and list the collection, GET and PATCH one of its records."""
    return [
        Endpoint("POST", f"{CASE}/{path}", CASE_ROLES, body=new, tenant_owned=True),
        Endpoint("GET", f"{CASE}/{path}", CASE_ROLES, tenant_owned=True),
        Endpoint("GET", f"{CASE}/{path}/{{{item}}}", CASE_ROLES, tenant_owned=True),
        Endpoint("PATCH", f"{CASE}/{path}/{{{item}}}", CASE_ROLES, body=change, tenant_owned=True),
    ]


ENDPOINTS: list[Endpoint] = [
    *_collection(
        "assessments",
        "assessment_id",
        {
            "kind": "review",
            "assessed_on": "2026-02-01",
            "domains": {"health": {"score": 3, "needs": "clinic follow-up"}},
        },
        {"summary": "Reviewed with the grandmother"},
    ),
    *_collection(
        "goals",
        "goal_id",
        {"domain": "education", "description": "Back to school"},
        {"status": "achieved"},
    ),
    *_collection(
        "actions",
        "action_id",
        {"goal_id": RANDOM_ID, "description": "Enrol at school", "due_on": "2026-03-01"},
        {"description": "Enrol at Kdol primary school"},
    ),
    *_collection(
        "notes",
        "note_id",
        {"noted_on": "2026-02-01", "text": "Called the grandmother."},
        {"text": "Called the grandmother and the teacher."},
    ),
    *_collection(
        "follow-ups",
        "follow_up_id",
        {"kind": "home_visit", "scheduled_on": "2026-03-01"},
        {"outcome": "Met the grandmother"},
    ),
    Endpoint("GET", f"{CASE}/notes/{{note_id}}/revisions", CASE_ROLES, tenant_owned=True),
    Endpoint("GET", f"{CASE}/plan", CASE_ROLES, tenant_owned=True),
    Endpoint("GET", "/api/v1/tasks", CASE_ROLES),
]
