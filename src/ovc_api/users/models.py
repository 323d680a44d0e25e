"""Kept for the demo loader's imports; the model lives in `ovc_api.identity.models`."""

from ovc_api.identity.models import User

__all__ = ["User"]
