#!/bin/sh
# The streaming replica. Its first start copies the primary with pg_basebackup (-R: it then
# follows the primary, -X stream: with the WAL written meanwhile); later starts find the copy and
# go on from where they stopped. The image's entrypoint then runs it as the postgres user.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
  PGPASSWORD="$REPLICATION_PASSWORD" gosu postgres pg_basebackup -h "$PRIMARY_HOST" -p 5432 \
    -U replicator -D "$PGDATA" -R -X stream --checkpoint=fast
fi
exec docker-entrypoint.sh postgres
