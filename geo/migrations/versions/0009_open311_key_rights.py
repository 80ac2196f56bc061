"""Open311 api_keys carry rights: what a partner's key may do (``capabilities``)

A key is a partner system's credential; until now every live key could post service requests.
Now each key holds the ``geo.access`` capabilities it was granted (``access.partner``: only
those in ``access.PARTNER_CAPABILITIES`` count). Existing keys keep what they could do:
``create_cases`` (post requests). A key granted nothing still identifies its partner: it reads
back its own requests in full, but a POST is refused with 403.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "open311_api_keys",
        sa.Column(
            "capabilities",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{create_cases}'::text[]"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("open311_api_keys", "capabilities")
