"""Every domain package's router. Each carries its full /api/v1 prefix itself, so a route's
path is its whole template (metrics and logs label requests by it)."""

from __future__ import annotations

from fastapi import APIRouter

from ovc_api.apikeys.routes import router as api_keys_router
from ovc_api.audit.routes import router as audit_router
from ovc_api.care.reintegration_routes import router as reintegration_router
from ovc_api.care.routes import router as care_router
from ovc_api.case_history.routes import router as case_history_router
from ovc_api.cases.routes import router as cases_router
from ovc_api.casework.routes import router as casework_router
from ovc_api.changes.routes import router as changes_router
from ovc_api.children.routes import router as children_router
from ovc_api.conferences.routes import router as conferences_router
from ovc_api.exports.routes import router as exports_router
from ovc_api.families.routes import router as families_router
from ovc_api.imports.routes import router as imports_router
from ovc_api.login.routes import router as auth_router
from ovc_api.organisations.routes import router as organisations_router
from ovc_api.referrals.routes import router as referrals_router
from ovc_api.reports.routes import router as reports_router
from ovc_api.services.group_routes import router as group_services_router
from ovc_api.services.routes import router as services_router
from ovc_api.stats.care_routes import router as care_stats_router
from ovc_api.stats.routes import router as stats_router
from ovc_api.tasks.routes import router as tasks_router
from ovc_api.users.routes import router as users_router
from ovc_api.vocabularies.routes import router as vocabularies_router
from ovc_api.webhooks.routes import router as webhooks_router

API_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    organisations_router,
    users_router,
    api_keys_router,
    audit_router,
    children_router,
    care_router,
    reintegration_router,
    families_router,
    cases_router,
    case_history_router,
    casework_router,
    tasks_router,
    group_services_router,
    services_router,
    referrals_router,
    conferences_router,
    stats_router,
    care_stats_router,
    reports_router,
    exports_router,
    imports_router,
    vocabularies_router,
    changes_router,
    webhooks_router,
)
