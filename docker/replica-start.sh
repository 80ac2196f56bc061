#!/bin/sh
# The streaming replica of docker-compose.yml (runs as the postgres user): on its first start
# its data directory is empty, so it copies the primary with pg_basebackup -R (standby.signal
# and primary_conninfo written), on the primary's slot replica_1; then it runs as a hot
# standby. Later starts find the copy and stream on from where it stopped.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h postgis -U replicator -d postgres -q; do sleep 1; done
  PGPASSWORD="$ONEMAP_REPLICATION_PASSWORD" pg_basebackup -h postgis -U replicator \
    -D "$PGDATA" -R -S replica_1 -X stream --checkpoint=fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c max_connections=200
