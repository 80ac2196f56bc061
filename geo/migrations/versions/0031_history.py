"""History (issue 17, item 5): a table keeps its past versions when it is tracked.

``onemap_track_history(table, id_column, since)`` makes ``<table>_history`` beside the table
(its columns, plus ``valid tstzrange``), copies the current rows into it valid from ``since``,
and puts statement-level triggers on the table (with transition tables: one INSERT … SELECT per
statement, so a bulk COPY costs one statement, not one per row). The history holds every
version, the current one too (``valid`` open above), so "as of T" reads one table:
``WHERE valid @> T``, GiST-indexed with the geometry (``(geom, valid)``). The live table is
not touched: today's reads cost what they cost.

The triggers are ``ENABLE ALWAYS`` (the seed's bulk loads run with ``session_replication_role
= replica``) and write as the owner (SECURITY DEFINER): the app role only reads the history.
A change is stamped at the transaction's time (``now()``), or at ``onemap.valid_at`` when a
data load sets it (a department's dated changes: only a member of the table's owner may; refused
if before a row's current version).
An update that changes nothing makes no version; two changes of one row at the same instant
leave one version (the last). ``history_tables`` lists the tracked tables and when each one's
history starts. docs/history.md tells the contract.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | Sequence[str] | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("buildings", "facilities")

_REGISTRY = """
CREATE TABLE history_tables (
    live_table text PRIMARY KEY,      -- schema.table, as the trigger names it
    history_table text NOT NULL UNIQUE,
    id_column name NOT NULL,
    starts timestamptz NOT NULL       -- the earliest instant the history can answer for
)
"""

# The writer: one generic trigger function; TG_ARGV = (history table, id column).
_WRITE = r"""
CREATE FUNCTION onemap_history_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    hist text := TG_ARGV[0];
    idc name := TG_ARGV[1];
    live text := format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    asked text := nullif(current_setting('onemap.valid_at', true), '');
    at timestamptz := coalesce(asked::timestamptz, now());
    latest timestamptz;
    cols text;
    old_v text := 'old_rows';
    new_v text := 'new_rows';
BEGIN
    IF asked IS NOT NULL AND NOT pg_has_role(session_user,
            (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        -- Dating a change is for the data's owner (a data load), not for the app's role.
        RAISE EXCEPTION 'onemap.valid_at is for the owner of % (a data load); % may not date '
            'changes', live, session_user USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Only the rows that changed (binary row comparison: any column type will do).
        old_v := format('(SELECT o.* FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n'
                        ' WHERE n.%1$I = o.%1$I AND n OPERATOR(pg_catalog.*=) o))', idc);
        new_v := format('(SELECT n.* FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM old_rows o'
                        ' WHERE o.%1$I = n.%1$I AND o OPERATOR(pg_catalog.*=) n))', idc);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT max(lower(h.valid)) FROM %s h JOIN %s o ON h.%I = o.%I '
                       'WHERE upper_inf(h.valid)', hist, old_v, idc, idc) INTO latest;
        IF latest > at THEN
            IF asked IS NOT NULL THEN
                RAISE EXCEPTION 'onemap.valid_at % is before the current version (from %) of a row of %',
                    at, latest, live USING ERRCODE = '22023';
            END IF;
            at := latest;  -- a transaction that began before a concurrent one committed
        END IF;
        -- A version that began at this very instant is replaced, not closed empty.
        EXECUTE format('DELETE FROM %s h USING %s o WHERE h.%I = o.%I AND upper_inf(h.valid) '
                       'AND lower(h.valid) = $1', hist, old_v, idc, idc) USING at;
        EXECUTE format('UPDATE %s h SET valid = tstzrange(lower(h.valid), $1) FROM %s o '
                       'WHERE h.%I = o.%I AND upper_inf(h.valid)', hist, old_v, idc, idc) USING at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
        EXECUTE format('INSERT INTO %s (%s, valid) SELECT %s, tstzrange($1, NULL) FROM %s n',
                       hist, cols, cols, new_v) USING at;
    END IF;
    IF asked IS NOT NULL THEN
        UPDATE history_tables SET starts = at WHERE live_table = live AND starts > at;
    END IF;
    RETURN NULL;
END
$fn$
"""

# The opt-in: idempotent; a second call adds the columns the table gained since.
_TRACK = r"""
CREATE FUNCTION onemap_track_history(
    live regclass, id_column name DEFAULT 'id', since timestamptz DEFAULT now()
) RETURNS regclass
LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
DECLARE
    s name;
    t name;
    hist text;
    qualified text;
    cols text;
    col record;
    geoms int := 0;
    grantee name;
BEGIN
    SELECT n.nspname, c.relname INTO s, t
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = live AND c.relkind IN ('r', 'p');
    IF t IS NULL THEN
        RAISE EXCEPTION '% is not a table', live USING ERRCODE = '42809';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = live AND attname = id_column
                   AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'table % has no column %', live, id_column USING ERRCODE = '42703';
    END IF;
    IF length(t) > 55 THEN
        RAISE EXCEPTION 'table name % is too long for a history table beside it', t
            USING ERRCODE = '42622';
    END IF;
    qualified := format('%I.%I', s, t);
    hist := format('%I.%I', s, t || '_history');
    IF to_regclass(hist) IS NULL THEN
        EXECUTE format('CREATE TABLE %s (LIKE %s)', hist, qualified);
        -- Nullable: a column the live table drops later is simply not written any more.
        FOR col IN SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(hist)
                      AND attnum > 0 AND NOT attisdropped AND attnotnull LOOP
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', hist, col.attname);
        END LOOP;
        EXECUTE format('ALTER TABLE %s ADD COLUMN valid tstzrange NOT NULL', hist);
        EXECUTE format('CREATE INDEX ON %s (%I, lower(valid))', hist, id_column);
        FOR col IN SELECT attname FROM pg_attribute
                    WHERE attrelid = live AND attnum > 0 AND NOT attisdropped
                      AND atttypid = to_regtype('geometry') LOOP
            EXECUTE format('CREATE INDEX ON %s USING gist (%I, valid)', hist, col.attname);
            geoms := geoms + 1;
        END LOOP;
        IF geoms = 0 THEN
            EXECUTE format('CREATE INDEX ON %s USING gist (valid)', hist);
        END IF;
    ELSE
        FOR col IN SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
                     FROM pg_attribute a WHERE a.attrelid = live AND a.attnum > 0
                      AND NOT a.attisdropped AND NOT EXISTS (
                          SELECT 1 FROM pg_attribute h WHERE h.attrelid = to_regclass(hist)
                             AND h.attname = a.attname AND NOT h.attisdropped) LOOP
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', hist, col.attname, col.type);
        END LOOP;
    END IF;
    -- History is written by the triggers alone: everyone else may only read it.
    FOR grantee IN SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
                    WHERE g.table_schema = s AND g.table_name = t || '_history'
                      AND g.privilege_type <> 'SELECT' AND g.grantee <> current_user LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %s FROM %I', hist, grantee);
    END LOOP;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = live AND attnum > 0 AND NOT attisdropped;
    EXECUTE format(
        'INSERT INTO %1$s (%4$s, valid) SELECT %4$s, tstzrange($1, NULL) FROM %2$s l '
        'WHERE NOT EXISTS (SELECT 1 FROM %1$s h WHERE h.%3$I = l.%3$I AND upper_inf(h.valid))',
        hist, qualified, id_column, cols) USING since;
    INSERT INTO history_tables (live_table, history_table, id_column, starts)
    VALUES (qualified, hist, id_column, since)
    ON CONFLICT (live_table) DO UPDATE SET starts = least(history_tables.starts, excluded.starts);
    EXECUTE format('CREATE OR REPLACE TRIGGER onemap_history_insert AFTER INSERT ON %s '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION onemap_history_write(%L, %L)', qualified, hist, id_column);
    EXECUTE format('CREATE OR REPLACE TRIGGER onemap_history_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION onemap_history_write(%L, %L)', qualified, hist, id_column);
    EXECUTE format('CREATE OR REPLACE TRIGGER onemap_history_delete AFTER DELETE ON %s '
                   'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                   'EXECUTE FUNCTION onemap_history_write(%L, %L)', qualified, hist, id_column);
    FOREACH t IN ARRAY ARRAY['onemap_history_insert', 'onemap_history_update',
                             'onemap_history_delete']::name[] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', qualified, t);
    END LOOP;
    RETURN hist::regclass;
END
$fn$
"""


def upgrade() -> None:
    op.execute(_REGISTRY)
    op.execute(_WRITE)
    op.execute(_TRACK)
    op.execute("REVOKE ALL ON FUNCTION onemap_history_write() FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION onemap_track_history(regclass, name, timestamptz) "
               "FROM PUBLIC")  # fmt: skip
    # Read by every surface's "as of" check; written only by the functions above.
    op.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON history_tables FROM PUBLIC")
    bind = op.get_bind()
    for grantee in bind.exec_driver_sql(
        "SELECT DISTINCT grantee FROM information_schema.role_table_grants "
        "WHERE table_name = 'history_tables' AND privilege_type <> 'SELECT' "
        "AND grantee <> current_user"
    ).scalars():
        op.execute(f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON history_tables FROM "{grantee}"')
    for table in TRACKED:
        op.execute(f"SELECT onemap_track_history('public.{table}', 'id')")


_UNTRACK_ALL = """
DO $$
DECLARE r record; e text;
BEGIN
    FOR r IN SELECT live_table, history_table FROM history_tables LOOP
        FOREACH e IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'onemap_history_' || e, r.live_table);
        END LOOP;
        EXECUTE format('DROP TABLE %s', r.history_table);
    END LOOP;
END
$$
"""


def downgrade() -> None:
    op.execute(_UNTRACK_ALL)  # the demo's tables and any catalogue layer that opted in
    op.execute("DROP TABLE history_tables")
    op.execute("DROP FUNCTION onemap_track_history(regclass, name, timestamptz)")
    op.execute("DROP FUNCTION onemap_history_write()")
