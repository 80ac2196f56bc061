"""The open cases' index carries their ``updated_at``, so the sweep's hourly reconciliation
(geo.services.clock_states.stale_ids: which open cases' stored clocks are older than the case)
reads the index alone, not 320,000 case rows, on the scale-10 city.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('reported', 'dispatched', 'in_progress', 'resolved')"


def upgrade() -> None:
    op.drop_index("ix_cases_open", table_name="cases")
    op.create_index("ix_cases_open", "cases", ["id"], postgresql_where=sa.text(OPEN),
                    postgresql_include=["updated_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_cases_open", table_name="cases")
    op.create_index("ix_cases_open", "cases", ["id"], postgresql_where=sa.text(OPEN))
