#!/bin/sh
# One of the three Sentinels. A Sentinel rewrites its configuration file with what it learns
# (the replicas, the other Sentinels, the current master), so each writes its own at start.
# Hostnames, not container addresses: a recreated container keeps its name, not its address.
# The image's entrypoint then runs it as the redis user, who must be able to rewrite the file.
set -eu
cat > /tmp/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SENTINEL_HOSTNAME
sentinel monitor $REDIS_SENTINEL_MASTER $REDIS_MASTER_HOST 6379 2
sentinel down-after-milliseconds $REDIS_SENTINEL_MASTER 5000
sentinel failover-timeout $REDIS_SENTINEL_MASTER 60000
sentinel parallel-syncs $REDIS_SENTINEL_MASTER 1
CONF
chown redis:redis /tmp/sentinel.conf
exec docker-entrypoint.sh redis-server /tmp/sentinel.conf --sentinel
