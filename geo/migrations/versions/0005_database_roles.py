"""Least-privilege database roles: objects owned by ``onemap_owner``, the server runs as
``onemap_app`` (docs/deploy.md)

Every object of the one map in the schema — tables (``alembic_version`` too: migrations run as
the owner from here on and write it), views, free-standing sequences (identity sequences follow
their table), functions (``onemap_append_only``, the case-areas trigger functions) and types —
is handed to the owner role, which is NOLOGIN: nobody logs in as it, the admin user that
migrates is a member and ``SET ROLE``s to it (geo/migrations/env.py). The app role gets rows
only: SELECT, INSERT, UPDATE, DELETE on tables, SELECT on views, USAGE and SELECT on sequences;
on the append-only tables (those with an ``onemap_append_only`` trigger: case_events,
audit_log, application_events, health_status_changes, health_verifications) SELECT and INSERT
only; SELECT only on ``alembic_version`` (the readiness probe reads it). Never TRUNCATE,
REFERENCES or TRIGGER, never CREATE in the schema; owning nothing, it cannot ALTER or DROP a
table or its triggers.

Default privileges give tables and sequences the owner creates later the same grants; a later
migration that adds an append-only table (or a view) revokes what it must itself. The roles
are cluster-wide and made before migrating (``onemap db provision``/``onemap migrate``, or
``onemap db roles --print-sql`` for a DBA): this revision only checks they exist. Downgrade
gives everything back to the migrating user and drops every grant; the roles stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.migrate import migration_roles, quote_ident

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Not an extension's (PostGIS's spatial_ref_sys and functions live in the same schema).
NOT_EXTENSION = """NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = {catalog}::regclass
                    AND d.objid = {oid} AND d.deptype = 'e')"""

#: The schema's relations: name as SQL, kind, append-only?, the version table?, owned by
#: :owner?, and whether it changes owner with its table (a column's identity or serial
#: sequence: ALTER TABLE … OWNER takes it along, ALTER SEQUENCE … OWNER is refused).
RELATIONS = f"""
SELECT c.oid::regclass::text AS name, c.relkind::text AS kind,
       EXISTS (SELECT FROM pg_trigger t
               WHERE t.tgrelid = c.oid AND t.tgfoid = to_regproc('onemap_append_only'))
         AS append_only,
       c.relname = 'alembic_version' AS version_table,
       c.relowner = (SELECT oid FROM pg_roles WHERE rolname = :owner) AS owned,
       c.relkind = 'S' AND EXISTS (
         SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
         AS follows_table
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace
  AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND {NOT_EXTENSION.format(catalog="'pg_class'", oid="c.oid")}
ORDER BY c.relkind, c.relname
"""  # noqa: S608 - our constants only

#: The schema's routines and free-standing types: (kind for ALTER, name as SQL, owned?).
OTHERS = f"""
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       p.oid::regprocedure::text,
       p.proowner = (SELECT oid FROM pg_roles WHERE rolname = :owner)
FROM pg_proc p
WHERE p.pronamespace = current_schema()::regnamespace
  AND {NOT_EXTENSION.format(catalog="'pg_proc'", oid="p.oid")}
UNION ALL
SELECT 'TYPE', t.oid::regtype::text,
       t.typowner = (SELECT oid FROM pg_roles WHERE rolname = :owner)
FROM pg_type t
WHERE t.typnamespace = current_schema()::regnamespace
  AND (t.typtype IN ('e', 'd')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
  AND {NOT_EXTENSION.format(catalog="'pg_type'", oid="t.oid")}
"""  # noqa: S608 - our constants only

ALTER_KIND = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}
GRANT_KIND = {"S": "SEQUENCE"}


def _grants(kind: str, append_only: bool, version_table: bool) -> str:
    if kind == "S":
        return "USAGE, SELECT"
    if kind in ("v", "m") or version_table:
        return "SELECT"
    if append_only:
        return "SELECT, INSERT"
    return "SELECT, INSERT, UPDATE, DELETE"


def _names() -> tuple[str, str, str, str]:
    """(owner, app, schema, database), each quoted for DDL."""
    roles = migration_roles()
    bind = op.get_bind()
    missing = [
        name
        for name in (roles.owner, roles.app)
        if bind.execute(sa.text("SELECT to_regrole(:n)"), {"n": name}).scalar() is None
    ]
    if missing:
        raise RuntimeError(
            f"database role {' and '.join(missing)} missing: run `onemap db provision` (or "
            "`onemap db roles`; docs/deploy.md) before migrating"
        )
    schema, database = bind.execute(sa.text("SELECT current_schema(), current_database()")).one()
    return (quote_ident(roles.owner), quote_ident(roles.app), quote_ident(schema),
            quote_ident(database))  # fmt: skip


def upgrade() -> None:
    roles = migration_roles()
    owner, app, schema, database = _names()
    bind = op.get_bind()
    # As the migrating user: it owns what 0001-0004 made (or a member of the role that does).
    op.execute("RESET ROLE")
    member = bind.execute(
        sa.text("SELECT pg_has_role(current_user, :owner, 'MEMBER')"), {"owner": roles.owner}
    ).scalar()
    if not member:
        raise RuntimeError(
            f"the migrating user is not a member of {roles.owner}: run `onemap db provision` "
            "(or `onemap db roles`) as it first"
        )
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner}")
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {app}")
    op.execute(f"GRANT CONNECT ON DATABASE {database} TO {app}")

    relations = bind.execute(sa.text(RELATIONS), {"owner": roles.owner}).all()
    for name, kind, _append_only, _version_table, owned, follows_table in relations:
        if not owned and not follows_table:
            op.execute(f"ALTER {ALTER_KIND.get(kind, 'TABLE')} {name} OWNER TO {owner}")
    for name, kind, append_only, version_table, _owned, _follows in relations:
        # From nothing, whatever was there before: only what the server needs.
        on = f"{GRANT_KIND.get(kind, 'TABLE')} {name}"
        op.execute(f"REVOKE ALL ON {on} FROM {app}")
        op.execute(f"GRANT {_grants(kind, append_only, version_table)} ON {on} TO {app}")
    for kind, name, owned in bind.execute(sa.text(OTHERS), {"owner": roles.owner}).all():
        if not owned:
            op.execute(f"ALTER {kind} {name} OWNER TO {owner}")

    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {app}"
    )
    # The later migrations (and alembic's version row, written next) run as the owner.
    op.execute(f"SET ROLE {owner}")


def downgrade() -> None:
    roles = migration_roles()
    owner, app, schema, database = _names()
    bind = op.get_bind()
    # Back to the migrating user, who takes everything over (and stays: 0004 and below run
    # as it, and it writes alembic_version, which it now owns).
    op.execute("RESET ROLE")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"REVOKE ALL ON TABLES FROM {app}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"REVOKE ALL ON SEQUENCES FROM {app}"
    )
    relations = bind.execute(sa.text(RELATIONS), {"owner": roles.owner}).all()
    for name, kind, _append_only, _version_table, _owned, _follows in relations:
        op.execute(f"REVOKE ALL ON {GRANT_KIND.get(kind, 'TABLE')} {name} FROM {app}")
    for name, kind, _append_only, _version_table, owned, follows_table in relations:
        if owned and not follows_table:
            op.execute(f"ALTER {ALTER_KIND.get(kind, 'TABLE')} {name} OWNER TO CURRENT_USER")
    for kind, name, owned in bind.execute(sa.text(OTHERS), {"owner": roles.owner}).all():
        if owned:
            op.execute(f"ALTER {kind} {name} OWNER TO CURRENT_USER")
    op.execute(f"REVOKE CONNECT ON DATABASE {database} FROM {app}")
    op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {app}")
    op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {owner}")
