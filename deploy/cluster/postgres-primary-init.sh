#!/bin/sh
# The primary's first start (docker-entrypoint-initdb.d): a role for the replica's streaming
# connection, and the line of pg_hba.conf that lets it in. The entrypoint restarts the server
# after this, which reads the new line.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '$REPLICATION_PASSWORD'"
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
