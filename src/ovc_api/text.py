"""Text normalisation for names in Khmer script and Latin."""

from __future__ import annotations

import unicodedata


def nfc(value: str | None) -> str | None:
    """Store text NFC-normalised and trimmed, so the same name typed on two devices matches."""
    if value is None:
        return None
    normalised = unicodedata.normalize("NFC", value).strip()
    return normalised or None


def search_key(*parts: str | None) -> str:
    """Every name part, NFC-normalised and casefolded, for substring search in either script."""
    return " ".join(unicodedata.normalize("NFC", p).casefold() for p in parts if p)


def contains_pattern(query: str) -> str:
    """A LIKE/ILIKE pattern matching `query` anywhere, with LIKE's wildcards (`%`, `_`) and
    the escape character escaped: use with ``escape="\\"``. A `%` typed in a search box
    means a percent sign, not "everything"."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_pattern(query: str) -> str:
    """A LIKE pattern for `search_key` text, with LIKE's wildcards escaped."""
    return contains_pattern(unicodedata.normalize("NFC", query).strip().casefold())
