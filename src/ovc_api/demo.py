"""Demo data for `ovc-api demo`: realistic, and only ever loaded into a throwaway database."""

from __future__ import annotations

from ovc_api.settings import Settings


async def load_demo_data(settings: Settings) -> str:
    return "No demo logins yet."
