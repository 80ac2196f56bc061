"""Alembic environment for the one map. Run through ``onemap migrate`` (see geo/migrate.py).

Migrations run as the owner role (``SET ROLE onemap_owner``; docs/deploy.md) once it can take
over: it exists, the migrating user may SET ROLE to it, it may create in the schema and owns
``alembic_version`` (migration 0005 arranges the last two). So what later migrations create is
the owner's, never the migrating user's. Before 0005 they run as the migrating user, and 0005
hands everything over.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool, text

from geo.migrate import include_object, migration_roles, quote_ident
from geo.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.attributes["database_url"], poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


#: Whether the session may (and should) become the owner role; see the module's docstring.
CAN_BE_OWNER = """
SELECT EXISTS (
  SELECT FROM pg_roles r
  WHERE r.rolname = :owner
    AND pg_has_role(current_user, r.oid, :how)
    AND has_schema_privilege(r.oid, current_schema(), 'CREATE')
    AND coalesce((SELECT c.relowner = r.oid FROM pg_class c
                  WHERE c.oid = to_regclass('alembic_version')), true))
"""


def _become_owner(connection: Any) -> None:
    owner = migration_roles().owner
    began = not connection.in_transaction()
    # PostgreSQL 16 split membership into options: SET is what SET ROLE needs.
    how = "SET" if connection.dialect.server_version_info >= (16,) else "MEMBER"
    if connection.execute(text(CAN_BE_OWNER), {"owner": owner, "how": how}).scalar():
        # Session-wide (not SET LOCAL): it holds for every per-migration transaction.
        connection.exec_driver_sql(f"SET ROLE {quote_ident(owner)}")
    if began:
        # Leave no transaction open: alembic would take it for the caller's and not commit.
        connection.commit()


def _run(connection: Any) -> None:
    _become_owner(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations()
