"""Sessions end everywhere at once: revoking a log-in session (logout, refresh-token reuse) and
changing an account's status, roles or jurisdiction send ``NOTIFY onemap_sessions``, so every
worker ends that session's (or that user's) live streams — GraphQL subscriptions and video —
within moments. Sent by triggers, so no writer can forget it.

Payload: ``{"sid": <family id>, "user_id": …, "reason": "logout" | "reuse" | …}`` for a session;
``{"user_id": …, "reason": "account_changed"}`` for an account.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "onemap_sessions"


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION onemap_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', json_build_object(
    'sid', NEW.id, 'user_id', NEW.user_id, 'reason', coalesce(NEW.revoked_reason, 'revoked')
  )::text);
  RETURN NULL;
END $$""")
    op.execute("""
CREATE TRIGGER session_revoked AFTER UPDATE OF revoked_at ON refresh_families
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION onemap_session_revoked()""")
    op.execute(f"""
CREATE FUNCTION onemap_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', json_build_object(
    'user_id', NEW.id, 'reason', 'account_changed')::text);
  RETURN NULL;
END $$""")
    op.execute("""
CREATE TRIGGER account_changed AFTER UPDATE OF status, roles, jurisdiction_scope,
  jurisdiction_ids ON users
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.roles IS DISTINCT FROM NEW.roles
  OR OLD.jurisdiction_scope IS DISTINCT FROM NEW.jurisdiction_scope
  OR OLD.jurisdiction_ids IS DISTINCT FROM NEW.jurisdiction_ids)
EXECUTE FUNCTION onemap_account_changed()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER account_changed ON users")
    op.execute("DROP FUNCTION onemap_account_changed()")
    op.execute("DROP TRIGGER session_revoked ON refresh_families")
    op.execute("DROP FUNCTION onemap_session_revoked()")
