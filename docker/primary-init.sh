#!/bin/sh
# The primary's first start (postgis image, /docker-entrypoint-initdb.d): a replication login
# and a slot for the streaming replica (docker/replica-start.sh), and replication connections
# from the compose network. The slot keeps the WAL the replica has not fetched yet: drop it
# (SELECT pg_drop_replication_slot('replica_1')) if the replica goes for good.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${ONEMAP_REPLICATION_PASSWORD}';
SELECT pg_create_physical_replication_slot('replica_1');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
