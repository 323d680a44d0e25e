"""The route kit (`ovc_api.record_routes`): what it derives instead of each domain writing
it again."""

from __future__ import annotations

from ovc_api.cases.filters import CaseListQuery
from ovc_api.cases.models import Case
from ovc_api.casework.filters import AssessmentListQuery, GoalListQuery
from ovc_api.casework.models import Assessment, CasePlanGoal
from ovc_api.pagination import parse_date, parse_datetime, sort_options
from ovc_api.record_routes import sorts_of


def test_sort_orders_are_the_values_of_the_query_sort_field() -> None:
    sorts = sorts_of(Assessment, AssessmentListQuery)
    assert set(sorts) == {"assessed_on", "-assessed_on", "created_at", "-created_at"}
    assert sorts["-created_at"].descending and not sorts["created_at"].descending
    assert set(sorts_of(CasePlanGoal, GoalListQuery)) == {
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    }


def test_a_cursor_value_is_read_back_by_the_column_type_with_ties_broken_by_id() -> None:
    sorts = sorts_of(Assessment, AssessmentListQuery)
    (by_day, by_id) = sorts["assessed_on"].keys
    assert by_day.parse is parse_date and by_id.name == "id"
    assert sorts["-created_at"].keys[0].parse is parse_datetime


def test_the_same_orders_as_written_out_by_hand() -> None:
    written = sort_options(
        Case.id,  # type: ignore[arg-type]
        opened_on=(Case.opened_on, parse_date),
        created_at=(Case.created_at, parse_datetime),
        updated_at=(Case.updated_at, parse_datetime),
    )
    derived = sorts_of(Case, CaseListQuery)
    assert set(derived) == set(written)
    for name, sort in written.items():
        assert [(k.name, k.parse) for k in derived[name].keys] == [
            (k.name, k.parse) for k in sort.keys
        ]
        assert derived[name].descending == sort.descending
