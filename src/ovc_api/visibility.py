"""Install every domain's visibility rules: the one call each entry point makes.

`create_app` calls :func:`install_rules`; so must anything else that queries tenant data
(a CLI command, the demo loader, a job). Until it is called, scoped queries raise
`tenancy.VisibilityRulesMissing`: a forgotten call fails loudly, it never serves the looser
organisation-only rule.
"""

from __future__ import annotations

from ovc_api import tenancy
from ovc_api.care import visibility as care
from ovc_api.cases import visibility as cases
from ovc_api.conferences import visibility as conferences
from ovc_api.referrals import visibility as referrals
from ovc_api.services import visibility as services
from ovc_api.tenancy import VisibilityRules
from ovc_api.users import service as users


def standard_rules() -> VisibilityRules:
    """Every domain's rules, in a fresh registry."""
    rules = VisibilityRules()
    for domain in (users, cases, services, referrals, conferences, care):
        domain.add_rules(rules)
    return rules


def install_rules() -> VisibilityRules:
    """Put the standard rules in force for this process and return them."""
    rules = standard_rules()
    tenancy.install(rules)
    return rules
