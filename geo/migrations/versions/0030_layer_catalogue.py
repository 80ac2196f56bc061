"""The layer catalogue (issue 17, item 3): ``catalogue_layers``, one row per registered
department layer — the PostGIS table or view it publishes (identifiers from the database
catalog) and its metadata (title, owner department, data class, update frequency, licence,
keywords). Layers are registered at run time (``onemap layers register``, GraphQL
``registerLayer``): no migration per layer. geo/catalogue_models.py tells the model.

The app role reads and writes the table through 0005's default privileges.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLASSES = "('public', 'internal', 'restricted')"
_FREQUENCIES = (
    "('continual', 'daily', 'weekly', 'monthly', 'quarterly', 'annual', 'irregular', "
    "'as_needed', 'not_planned')"
)


def upgrade() -> None:
    op.create_table(
        "catalogue_layers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("owner_department_id", sa.Integer(), nullable=False),
        sa.Column("data_class", sa.Text(), nullable=False),
        sa.Column("update_frequency", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("keywords", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column("schema_name", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("id_column", sa.Text(), nullable=False),
        sa.Column("geometry_column", sa.Text(), nullable=False),
        sa.Column("geometry_type", sa.Text(), nullable=False),
        sa.Column("srid", sa.Integer(), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("title_field", sa.Text(), nullable=True),
        sa.Column("registered_by", sa.BigInteger(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint(r"name ~ '^[a-z][a-z0-9_]{1,62}$'",
                           name=op.f("ck_catalogue_layers_name_form")),
        sa.CheckConstraint(f"data_class IN {_CLASSES}", name=op.f("ck_catalogue_layers_data_class")),
        sa.CheckConstraint(f"update_frequency IN {_FREQUENCIES}",
                           name=op.f("ck_catalogue_layers_update_frequency")),
        sa.CheckConstraint("srid > 0", name=op.f("ck_catalogue_layers_srid_positive")),
        sa.ForeignKeyConstraint(["owner_department_id"], ["departments.id"],
                                name=op.f("fk_catalogue_layers_owner_department_id_departments")),
        sa.ForeignKeyConstraint(["registered_by"], ["users.id"],
                                name=op.f("fk_catalogue_layers_registered_by_users")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalogue_layers")),
        sa.UniqueConstraint("schema_name", "table_name", name=op.f("uq_catalogue_layers_schema_name_table_name")),
    )  # fmt: skip
    op.create_index(op.f("ix_catalogue_layers_owner_department_id"), "catalogue_layers",
                    ["owner_department_id"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("catalogue_layers")
