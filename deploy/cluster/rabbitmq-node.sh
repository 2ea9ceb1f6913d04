#!/bin/sh
# One node of the three-node RabbitMQ cluster. Nodes, and the CLI tools of the health check,
# prove they belong to the cluster with the shared Erlang cookie, written here before the
# image's entrypoint starts the server as the rabbitmq user.
set -eu
umask 077
printf '%s' "$RABBITMQ_CLUSTER_COOKIE" > /var/lib/rabbitmq/.erlang.cookie
chown rabbitmq:rabbitmq /var/lib/rabbitmq/.erlang.cookie
exec docker-entrypoint.sh rabbitmq-server
