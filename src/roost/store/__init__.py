"""The store: tables, queries and migrations; SQLite by default, PostgreSQL by URL.

It knows the providers' neutral message types and nothing else of the core.

- ``database``: opening, migrating, running transactions; ``tables``: the schema;
- ``conversations``: sessions, turns and messages; ``transcripts``: read-only views of
  them for people; ``state``: small named values kept across restarts;
- ``turn_status``: ``TurnStatus``, the statuses of a turn every layer stores and sends;
- ``migrations``: the Alembic environment and versions.
"""

__all__ = [
    "conversations",
    "database",
    "migrations",
    "state",
    "tables",
    "transcripts",
    "turn_status",
]
