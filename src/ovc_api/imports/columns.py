"""The import's column layout: one row per child, optionally with a household and a case.

A header cell names its column by the English key, the Khmer label, or both as in the
template ("given_name_latin / នាមខ្លួន (ឡាតាំង)"). Columns may come in any order; unknown
columns are an error (a typo must not silently drop data).
"""

from __future__ import annotations

from dataclasses import dataclass

from ovc_api.cases.models import ProtectionConcern, ReferralSource, RiskLevel
from ovc_api.children.models import BirthRegistration, CareArrangement, Disability, Schooling, Sex
from ovc_api.families.models import IdPoorStatus
from ovc_api.geography import Province

HEADER_SEPARATOR = " / "


@dataclass(frozen=True)
class Column:
    key: str
    khmer: str
    meaning: str
    values: str = ""

    @property
    def header(self) -> str:
        return f"{self.key}{HEADER_SEPARATOR}{self.khmer}"


def _codes(enum: type) -> str:
    return ", ".join(member.value for member in enum)  # type: ignore[attr-defined]


CHILD_COLUMNS = (
    Column("given_name_latin", "នាមខ្លួន (ឡាតាំង)", "Given name, Latin script (or Khmer)"),
    Column("family_name_latin", "នាមត្រកូល (ឡាតាំង)", "Family name, Latin script"),
    Column("given_name_khmer", "នាមខ្លួន (ខ្មែរ)", "Given name, Khmer script (or Latin)"),
    Column("family_name_khmer", "នាមត្រកូល (ខ្មែរ)", "Family name, Khmer script"),
    Column("sex", "ភេទ", "Required", _codes(Sex)),
    Column("date_of_birth", "ថ្ងៃខែឆ្នាំកំណើត", "YYYY-MM-DD (or a date cell)"),
    Column("birth_date_estimated", "ថ្ងៃកំណើតប៉ាន់ស្មាន", "yes or no (default no)"),
    Column("birth_registration", "សំបុត្រកំណើត", "Default unknown", _codes(BirthRegistration)),
    Column("disability", "ពិការភាព", "Default none", _codes(Disability)),
    Column("schooling_status", "ការសិក្សា", "Default unknown", _codes(Schooling)),
    Column("care_arrangement", "ការថែទាំ", "Required", _codes(CareArrangement)),
    Column("province", "ខេត្ត", "Required", _codes(Province)),
    Column("district", "ស្រុក", "District"),
    Column("commune", "ឃុំ", "Commune"),
    Column("village", "ភូមិ", "Village"),
    Column(
        "confirm_not_duplicate",
        "បញ្ជាក់មិនស្ទួន",
        "yes: record even though a likely duplicate was reported",
    ),
)
FAMILY_COLUMNS = (
    Column(
        "household",
        "គ្រួសារ",
        "Household label; rows with the same label share one new household (located where "
        "its first row's child is)",
    ),
    Column("id_poor_status", "ប័ណ្ណក្រីក្រ", "Default unknown", _codes(IdPoorStatus)),
)
CASE_COLUMNS = (
    Column("case_opened_on", "ថ្ងៃបើកករណី", "YYYY-MM-DD; a case is opened when this is set"),
    Column("referral_source", "ប្រភពបញ្ជូន", "Required with a case", _codes(ReferralSource)),
    Column(
        "concerns",
        "កង្វល់",
        "Required with a case: one or more, separated by ; or ,",
        _codes(ProtectionConcern),
    ),
    Column("risk_level", "កម្រិតហានិភ័យ", "Required with a case", _codes(RiskLevel)),
    Column("case_summary", "សង្ខេបករណី", "Optional"),
)
COLUMNS = CHILD_COLUMNS + FAMILY_COLUMNS + CASE_COLUMNS
BY_NAME = {
    **{column.key: column for column in COLUMNS},
    **{column.khmer: column for column in COLUMNS},
    **{column.header: column for column in COLUMNS},
}
REQUIRED = ("sex", "care_arrangement", "province")
CASE_KEYS = tuple(column.key for column in CASE_COLUMNS)


def column_for(header: str) -> Column | None:
    """The column a header cell names (English key, Khmer label or both), or None."""
    text = " ".join(header.split())
    found = BY_NAME.get(text) or BY_NAME.get(text.lower())
    if found is None and "/" in text:
        first = text.split("/", 1)[0].strip().lower()
        found = BY_NAME.get(first)
    return found


def layout_markdown() -> str:
    """The layout as a Markdown table, for the endpoint's description."""
    lines = ["| column | Khmer | meaning | values |", "|---|---|---|---|"]
    for column in COLUMNS:
        lines.append(f"| `{column.key}` | {column.khmer} | {column.meaning} | {column.values} |")
    return "\n".join(lines)
