#!/usr/bin/env bash
# wait-ready.sh COMPOSE_PROJECT DNS_PORT AUTH_PORT TIMEOUT_S — until the stack serves: every container
# of the project running (none restarting or exited) and the endpoint answering with addresses, which
# needs the whole path (planner, enactors, dns-admin, CoreDNS) working. It asks the authoritative view
# (AUTH_PORT) until then, and the resolver (DNS_PORT) only once it can answer: asking the resolver
# earlier would make it cache the early empty answer for the SOA TTL (15 s), and keep serving it.
# Docker's own health (`make ps`) follows within a healthcheck interval (30 s). Bounded: on timeout it
# names what is not ready, and fails.
set -euo pipefail
project=$1 port=$2 auth_port=$3 timeout_s=${4:-120}
endpoint=dynamodb.us-east-1.lab.test
deadline=$(( $(date +%s) + timeout_s ))
while :; do
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
  if [ -n "$ids" ]; then
    pending=$(docker inspect -f '{{.Name}} {{.State.Status}}' $ids | awk '$2 != "running" {sub("^/", "", $1); print $1 "(" $2 ")"}')
  else
    pending="(no containers)"
  fi
  answer=""
  if [ -z "$pending" ]; then
    answer=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$auth_port" "$endpoint" A 2>/dev/null | grep -E '^[0-9.]+$' || true)
    if [ -n "$answer" ]; then
      answer=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" "$endpoint" A 2>/dev/null | grep -E '^[0-9.]+$' || true)
      [ -n "$answer" ] && exit 0
      pending="the resolver (127.0.0.1:$port) does not answer $endpoint (the authoritative view does)"
    else
      pending="no answer for $endpoint yet (authoritative view, 127.0.0.1:$auth_port)"
    fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "up: not ready after ${timeout_s}s: $pending" >&2
    exit 1
  fi
  sleep 0.5
done
