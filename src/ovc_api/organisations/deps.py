"""Load-or-404 dependencies for /organisations/{organisation_id}/...: every member reads an
active organisation (the network administrator also an inactive one); its administrators
change what hangs under it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ovc_api.auth.principal import AnyPrincipal, UsersAdmin
from ovc_api.identity.models import Organisation
from ovc_api.organisations.service import get_organisation_or_404
from ovc_api.record_routes import loaders

organisation_for_read, organisation_for_admin = loaders(
    get_organisation_or_404, "organisation_id", reader=AnyPrincipal, writer=UsersAdmin
)
OrganisationForRead = Annotated[Organisation, Depends(organisation_for_read)]
OrganisationForAdmin = Annotated[Organisation, Depends(organisation_for_admin)]
