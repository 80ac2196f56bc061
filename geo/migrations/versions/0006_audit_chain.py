"""A tamper-evident audit trail: each row hash-chained to the one before

Every ``audit_log`` row gets a gap-free chain position ``seq``, the ``row_hash`` of the row
before it (``prev_hash``, NULL for the first) and its own ``row_hash``: SHA-256 over a
canonical encoding of the row (docs/audit.md, reproduced in Python by
``geo.services.audit_chain``). A BEFORE INSERT trigger computes all three, serialising chain
writers with a transaction-scoped advisory lock, so a caller can neither choose them nor fork
the chain; it also stamps ``at`` with the time the row joined the chain. Existing rows are
chained in id order. TRUNCATE is refused like UPDATE and DELETE.

The ``auditor`` role (capability ``read_audit``) joins the roles the users table accepts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The advisory lock every chain writer holds until its transaction ends: b"onemap-a" as a
#: big-endian integer (8029466706108755297). Documented in docs/audit.md.
CHAIN_LOCK = int.from_bytes(b"onemap-a", "big")
VERSION = "onemap-audit-v1"

#: The hashed fields, in order, as SQL giving each one's canonical text; ``{r}`` is the row
#: (``NEW`` in the trigger, the loop's record in the backfill).
_FIELDS = (
    "{r}.seq::text",
    "encode({r}.prev_hash, 'hex')",
    "((extract(epoch FROM {r}.at) * 1000000)::bigint)::text",
    "{r}.actor_id::text",
    "{r}.actor_role::text",
    "{r}.action::text",
    "{r}.object_type::text",
    "{r}.object_id",
    "abbrev({r}.client_addr)",
    "{r}.detail::text",
)


def _field(expr: str) -> str:
    """NULL → '~'; otherwise '<UTF-8 byte length>:<text>' (the database encoding is UTF8)."""
    return f"coalesce(octet_length({expr})::text || ':' || {expr}, '~')"


def row_hash_sql(row: str) -> str:
    """SHA-256 of the canonical encoding of ``row`` (docs/audit.md): one expression, inlined
    where it is used (a SQL function with a pinned search_path is called, not inlined: 80 µs a
    row instead of a few)."""
    parts = " || ".join(f"E'\\n' || {_field(f.format(r=row))}" for f in _FIELDS)
    return f"sha256(convert_to('{VERSION}' || {parts}, 'UTF8'))"


#: The same, callable (operators' spot checks: ``SELECT seq FROM audit_log a WHERE
#: a.row_hash <> onemap_audit_row_hash(a)``); verification proper is in Python.
ROW_HASH = f"""
CREATE FUNCTION onemap_audit_row_hash(r audit_log) RETURNS bytea LANGUAGE sql STABLE
PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT {row_hash_sql("r")}
$$
"""

CHAIN = f"""
CREATE FUNCTION onemap_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The head is read through the seq index whatever the table's size was when the session
-- first planned it (a cached plan from an empty log would otherwise scan and sort it all).
SET enable_seqscan = off SET enable_sort = off AS $$
DECLARE
  last_seq bigint;
  last_hash bytea;
BEGIN
  -- One chain writer at a time, until its transaction ends: the next one reads this row.
  PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
  SELECT a.seq, a.row_hash INTO last_seq, last_hash
  FROM public.audit_log a ORDER BY a.seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := last_hash;
  NEW.at := clock_timestamp();
  NEW.row_hash := {row_hash_sql("NEW")};
  RETURN NEW;
END $$
"""  # noqa: S608 - our constants only

#: Chain the rows already there, in id order (the append-only trigger is off meanwhile).
BACKFILL = f"""
DO $$
DECLARE
  r record;
  n bigint := 0;
  prev bytea := NULL;
  h bytea;
BEGIN
  FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
    n := n + 1;
    r.seq := n;
    r.prev_hash := prev;
    h := {row_hash_sql("r")};
    UPDATE audit_log SET seq = n, prev_hash = prev, row_hash = h WHERE id = r.id;
    prev := h;
  END LOOP;
END $$
"""  # noqa: S608 - our constants only

#: The chain's functions belong to the table's owner (onemap_owner once 0005 has run), when
#: whoever migrates may hand them over: the trigger then runs with that role's rights only.
OWNERSHIP = """
DO $$
DECLARE owner name := (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                       WHERE c.oid = 'public.audit_log'::regclass);
BEGIN
  IF owner <> current_user AND pg_has_role(current_user, owner, 'MEMBER') THEN
    EXECUTE format('ALTER FUNCTION public.onemap_audit_chain() OWNER TO %I', owner);
    EXECUTE format('ALTER FUNCTION public.onemap_audit_row_hash(public.audit_log) '
                   'OWNER TO %I', owner);
  END IF;
END $$
"""

ROLES_BEFORE = (
    "citizen", "grid_worker", "dispatcher", "department_staff", "verifier", "health_officer",
    "camera_viewer", "analyst", "admin",
)  # fmt: skip
ROLES_AFTER = (*ROLES_BEFORE, "auditor")


def _roles_check(roles: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_users_roles"), "users", type_="check")
    op.create_check_constraint("roles", "users", f"roles <@ ARRAY{list(roles)}::text[]")


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.LargeBinary(), nullable=True))
    op.execute(ROW_HASH)
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(BACKFILL)
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    op.alter_column("audit_log", "seq", nullable=False)
    op.alter_column("audit_log", "row_hash", nullable=False)
    op.create_unique_constraint(op.f("uq_audit_log_seq"), "audit_log", ["seq"])
    op.execute(CHAIN)
    op.execute(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION onemap_audit_chain()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION onemap_append_only()"
    )
    op.execute(OWNERSHIP)
    _roles_check(ROLES_AFTER)


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users WHERE 'auditor' = ANY(roles)) THEN "
        "RAISE EXCEPTION 'accounts with the auditor role exist: change their roles before "
        "downgrading below 0006'; END IF; END $$"
    )
    _roles_check(ROLES_BEFORE)
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS onemap_audit_chain()")
    op.execute("DROP FUNCTION IF EXISTS onemap_audit_row_hash(audit_log)")
    op.drop_constraint(op.f("uq_audit_log_seq"), "audit_log", type_="unique")
    op.drop_column("audit_log", "row_hash")
    op.drop_column("audit_log", "prev_hash")
    op.drop_column("audit_log", "seq")
