"""Alembic's environment and the schema's versions: run by Alembic, never imported by Roost."""

__all__: list[str] = []
