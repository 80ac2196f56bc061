"""Alembic, driven from code: ``onemap migrate`` and the tests use these functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from geo.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"
# PostGIS brings its own tables (spatial_ref_sys); they are not ours to diff.
OWN_TABLES = frozenset(Base.metadata.tables)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: our tables only, with GeoAlchemy2's handling of spatial indexes."""
    if type_ == "table" and name not in OWN_TABLES:
        return False
    table = getattr(obj, "table", None)
    if table is not None and table.name not in OWN_TABLES:
        return False
    spatial_filter: Any = alembic_helpers.include_object  # untyped in GeoAlchemy2
    return bool(spatial_filter(obj, name, type_, reflected, compare_to))


@dataclass(frozen=True)
class DatabaseRoles:
    """The two database roles (docs/deploy.md). ``owner`` (NOLOGIN) owns every object of the
    one map and migrations run as it; ``app`` is the server's login, with row privileges only
    (append-only tables: SELECT and INSERT). Both are cluster-wide: provisioning creates them
    (``server/kernel/provision.py``), migration 0005 hands the schema's objects to them."""

    owner: str = "onemap_owner"
    app: str = "onemap_app"


def alembic_config(sqlalchemy_url: str, roles: DatabaseRoles | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an option: ConfigParser would choke on '%' in passwords.
    cfg.attributes["database_url"] = sqlalchemy_url
    cfg.attributes["roles"] = roles or DatabaseRoles()
    return cfg


def upgrade(
    sqlalchemy_url: str, revision: str = "head", roles: DatabaseRoles | None = None
) -> None:
    """Migrate up. From 0005 on the roles must exist (``onemap db provision`` or
    ``server.kernel.provision.ensure_roles``: cluster-wide, so not done here)."""
    command.upgrade(alembic_config(sqlalchemy_url, roles), revision)


def downgrade(sqlalchemy_url: str, revision: str, roles: DatabaseRoles | None = None) -> None:
    command.downgrade(alembic_config(sqlalchemy_url, roles), revision)


def migration_roles() -> DatabaseRoles:
    """The roles of the migration being run (for env.py and the migration scripts)."""
    from alembic import context

    roles = context.config.attributes.get("roles")
    return roles if isinstance(roles, DatabaseRoles) else DatabaseRoles()


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, double-quoted (role names in DDL, which takes no parameters)."""
    return '"' + name.replace('"', '""') + '"'


def head_revision() -> str | None:
    """The newest migration in the code (what a database must be at to be ready)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(sqlalchemy_url: str) -> str | None:
    engine = create_engine(sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def pending_model_changes(sqlalchemy_url: str) -> list[Any]:
    """What autogenerate would write: empty when the migrations match the models."""
    engine = create_engine(sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"include_object": include_object, "compare_type": True}
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()
