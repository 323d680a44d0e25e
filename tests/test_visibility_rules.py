"""Visibility rules are installed explicitly: without them, nothing serves tenant data."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ovc_api import app as app_module
from ovc_api import tenancy
from ovc_api.app import VisibilityRulesNotInstalled, create_app
from ovc_api.settings import Settings
from ovc_api.tenancy import VisibilityRules
from ovc_api.visibility import standard_rules


async def test_an_app_built_without_its_visibility_rules_refuses_to_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "install_rules", VisibilityRules)
    application = create_app(settings)
    with pytest.raises(VisibilityRulesNotInstalled):
        async with application.router.lifespan_context(application):
            pytest.fail("the app started without its visibility rules")


def test_an_entry_point_that_installs_no_rules_gets_no_looser_visibility() -> None:
    """A process that imports the models and tenancy but never installs the rules (a job, a
    script) must fail on its first scoped query, not see every case of the organisation."""
    script = textwrap.dedent(
        """
        import uuid
        from ovc_api.auth.principal import Principal
        from ovc_api.auth.scopes import ROLE_SCOPES, Role
        from ovc_api.cases.models import Case
        from ovc_api.tenancy import visible

        caseworker = Principal(
            organisation_id=uuid.uuid4(),
            scopes=frozenset(s.value for s in ROLE_SCOPES[Role.caseworker]),
            role=Role.caseworker,
            user_id=uuid.uuid4(),
        )
        try:
            clause = visible(caseworker, Case)
        except RuntimeError as error:
            print("refused:", type(error).__name__)
        else:
            print("served:", clause)
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "refused: VisibilityRulesMissing"


def test_the_standard_rules_cover_every_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = standard_rules()
    assert rules.count() == 21  # 17, and alternative care: plans, visits, placements, tracing
    monkeypatch.setattr(tenancy, "_installed", None)
    with pytest.raises(tenancy.VisibilityRulesMissing):
        tenancy.installed_rules()
