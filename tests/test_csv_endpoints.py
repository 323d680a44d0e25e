"""Every CSV the API emits defuses spreadsheet formulas typed into free text.

The endpoints are enumerated from the app's own OpenAPI document (every operation whose
200 response offers text/csv), so a new CSV endpoint cannot escape this test.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ovc_api.csv_writer import FORMULA_STARTS, CsvWriter

from .conftest import Actor, Factory, Tenant

FORMULA = '=HYPERLINK("http://evil.example","click")'
# Required query parameters of CSV endpoints; a new one must be given a value here.
REQUIRED_VALUES = {"year": "2026", "quarter": "1"}
# Free-text dimensions worth grouping by, tried in order where an endpoint takes group_by.
GROUPINGS = ("district", None)
# The endpoints the formula must reach (they show districts or names): the test is real.
MUST_REACH = {
    "/api/v1/stats/cases",
    "/api/v1/stats/services",
    "/api/v1/reports/quarterly",
    "/api/v1/exports/cases",
    "/api/v1/exports/children",
    "/api/v1/exports/services",
}


def csv_endpoints(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            if any(media.startswith("text/csv") for media in content):
                assert method == "get", f"{method} {path}: CSV from a non-GET operation"
                found.append((path, operation))
    return found


async def test_every_csv_endpoint_defuses_formulas(
    app: FastAPI,
    client: httpx.AsyncClient,
    factory: Factory,
    tenant_a: Tenant,
    network_admin: Actor,
) -> None:
    from ovc_api.services.models import ServiceDelivery

    org = tenant_a.organisation_id
    child = await factory.child(org, district=FORMULA, given_name_latin=FORMULA)
    case = await factory.case(org, child_id=child, opened_on=date(2026, 2, 1))
    await factory._insert(
        ServiceDelivery(
            organisation_id=org,
            case_id=case,
            child_id=child,
            service_type="counselling",
            delivered_on=date(2026, 2, 2),
            province="battambang",
            district=FORMULA,
        )
    )
    callers = [tenant_a["case_manager"], tenant_a["analyst"], network_admin]
    endpoints = csv_endpoints(app)
    assert len(endpoints) >= len(MUST_REACH)
    reached = set()
    for path, operation in endpoints:
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        required = {
            p["name"]
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        assert required <= set(REQUIRED_VALUES), f"{path}: give {required} a test value"
        base = {"format": "csv", **{name: REQUIRED_VALUES[name] for name in required}}
        answered = []
        for caller in callers:
            for grouping in GROUPINGS if "group_by" in names else (None,):
                params = {**base, **({"group_by": grouping} if grouping else {})}
                response = await client.get(path, params=params, headers=caller.headers)
                if response.status_code == 200:
                    answered.append(response)
                    break
            if answered:
                break
        assert answered, f"{path}: no caller got a CSV"
        body = answered[0].text
        assert answered[0].headers["content-type"].startswith("text/csv"), path
        for line in csv.reader(io.StringIO(body)):
            for cell in line:
                assert not cell.startswith(FORMULA_STARTS), f"{path}: {cell!r}"
        if "HYPERLINK" in body:
            reached.add(path)
    assert reached >= MUST_REACH, f"the formula did not reach {MUST_REACH - reached}"


@pytest.mark.parametrize("start", FORMULA_STARTS)
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_formula_in_any_cell_is_defused_by_the_writer_s_fast_path(
    start: str, position: str
) -> None:
    """The writer's check of a whole line (`_may_hold_a_formula`, written out for speed)
    finds every formula start `defused` knows, in any cell; a line without one is its
    cells joined."""
    cells = ["plain", "text", "cells"]
    at = {"first": 0, "middle": 1, "last": 2}[position]
    cells[at] = start + "1+1"
    writer = CsvWriter(len(cells))
    written = next(csv.reader(io.StringIO(writer.text_line(cells))))
    assert written[at] == "'" + cells[at]
    assert writer.text_line(["plain", "te-xt", "a=b"]) == "plain,te-xt,a=b"
