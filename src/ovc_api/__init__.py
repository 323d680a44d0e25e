"""ovc-api: case management for orphans and vulnerable children, for a network of NGOs."""

__version__ = "0.1.0"

API_V1 = "/api/v1"
