"""Kept for the demo loader's imports; the models live in `ovc_api.identity.models`."""

from ovc_api.identity.models import Organisation, OrganisationKind

__all__ = ["Organisation", "OrganisationKind"]
