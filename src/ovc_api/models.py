"""Imports every domain's table models, so Alembic and tests see the whole schema."""
