"""The shared field rules (schemas_common) and record bases (models_base) keep the meaning the
per-domain copies had: limits checked on the text as sent, then NFC; null refused in PATCH;
no future dates; no repeats; and a base adds its columns at the front of a table."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import Field, ValidationError, field_validator

from ovc_api.casework.models import FollowUp
from ovc_api.clock import local_today
from ovc_api.families.models import Family
from ovc_api.models_base import CaseRecord, CountedRecord
from ovc_api.schemas_common import Nfc, PastDate, Patch, StrictBody, each_once

DECOMPOSED = "e\u0301"  # "é" as two code points; NFC makes it one


class Body(StrictBody):
    name: Nfc[str] = Field(min_length=1, max_length=4)
    note: Nfc[str | None] = Field(default=None, max_length=4)
    title: Nfc[Patch[str]] = Field(default=None, min_length=1, max_length=4)
    on: PastDate | None = None
    since: Patch[PastDate] = None
    tags: list[str] = Field(default_factory=list)

    _tags = field_validator("tags")(each_once("each tag may be listed once"))


def _errors(**fields: object) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"name": "a", **fields})
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def test_text_limits_are_checked_as_sent_then_normalised() -> None:
    assert Body(name=DECOMPOSED * 2).name == "\u00e9\u00e9"
    # Three decomposed letters are six characters as sent: too long, although NFC has three.
    assert _errors(name=DECOMPOSED * 3)[0][0] == ("name",)
    assert Body(name="a", note="").note is None  # blank optional text is stored as NULL
    assert Body(name="a", title=" " + DECOMPOSED + " ").title == "\u00e9"


def test_patch_fields_may_be_omitted_but_not_nulled() -> None:
    assert Body(name="a").title is None
    assert _errors(title=None) == [
        (("title",), "Value error, cannot be null: omit the field to leave it unchanged")
    ]
    assert _errors(since=None)[0][0] == ("since",)


def test_dates_cannot_be_in_the_future() -> None:
    today = local_today()
    assert Body(name="a", on=today, since=today).on == today
    tomorrow = (today + timedelta(days=1)).isoformat()
    for field in ("on", "since"):
        assert _errors(**{field: tomorrow}) == [((field,), "Value error, cannot be in the future")]
    assert Body(name="a", on=None).on is None
    assert Body(name="a", on=date(2000, 1, 1)).on == date(2000, 1, 1)


def test_lists_name_each_item_once() -> None:
    assert Body(name="a", tags=["x", "y"]).tags == ["x", "y"]
    assert _errors(tags=["x", "x"]) == [(("tags",), "Value error, each tag may be listed once")]


def test_record_bases_put_their_columns_first() -> None:
    head = ["created_at", "updated_at", "version", "id", "organisation_id"]
    assert list(CountedRecord.model_fields) == [*head, "record_key"]
    assert list(CaseRecord.model_fields) == [*head, "case_id"]
    assert [c.name for c in FollowUp.__table__.columns][:6] == [*head, "case_id"]
    assert [c.name for c in Family.__table__.columns][:7] == [*head, "record_key", "name"]
    assert getattr(FollowUp, "__revisioned__", False) is True
