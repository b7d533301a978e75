"""The PostgreSQL role the app runs as: it does not own the tables, so it cannot alter them or disable
their triggers, and on the audit trail it may only read and append.

Run as the owner after every ``mes db upgrade`` (new tables need their grants): ``mes db grant-app-role ROLE``.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from app.domain.errors import Conflict, InvalidInput

#: Tables the app may not change freely; every other table gets SELECT, INSERT, UPDATE, DELETE.
LIMITED_PRIVILEGES = {
    "audit_event": "SELECT, INSERT",
    "e_signature": "SELECT, INSERT",
    "audit_head": "SELECT, UPDATE",
    "cycle_parameter_set": "SELECT, INSERT",  # versions are append-only (migration 0013)
    "alembic_version": "SELECT",
}
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def grant_app_role(conn: Connection, role: str) -> list[str]:
    """Grant ``role`` what the app needs on the current schema (idempotent); returns the tables granted."""
    if conn.dialect.name != "postgresql":
        raise InvalidInput("database roles are a PostgreSQL matter; SQLite has no roles to grant")
    if not _ROLE_NAME.fullmatch(role):
        raise InvalidInput(f"{role!r} is not a plain role name (letters, digits, underscore)")
    found = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if found is None:
        raise InvalidInput(f"role {role} does not exist; create it first (CREATE ROLE {role} LOGIN PASSWORD '…')")
    if found.rolsuper:
        raise Conflict(f"role {role} is a superuser; the app role must not be able to bypass the audit triggers")
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    owned = (
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tableowner = :r ORDER BY tablename"),
            {"s": schema, "r": role},
        )
        .scalars()
        .all()
    )
    if owned:
        raise Conflict(f"role {role} owns {', '.join(owned)}; the app must run as a role that owns no table")
    tables = (
        conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"), {"s": schema})
        .scalars()
        .all()
    )
    quoted_role, quoted_schema = f'"{role}"', f'"{schema}"'
    conn.execute(text(f"GRANT USAGE ON SCHEMA {quoted_schema} TO {quoted_role}"))
    for table in tables:
        target = f'{quoted_schema}."{table}"'
        conn.execute(text(f"REVOKE ALL ON {target} FROM {quoted_role}"))
        privileges = LIMITED_PRIVILEGES.get(table, "SELECT, INSERT, UPDATE, DELETE")
        conn.execute(text(f"GRANT {privileges} ON {target} TO {quoted_role}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {quoted_schema} TO {quoted_role}"))
    return list(tables)
