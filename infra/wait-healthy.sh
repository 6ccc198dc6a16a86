#!/usr/bin/env bash
# wait-healthy.sh COMPOSE_PROJECT TIMEOUT_S — until every container of the project is healthy.
# Bounded: on timeout it names the containers that are not, with their last health output, and fails.
set -euo pipefail
project=$1 timeout_s=${2:-120}
deadline=$(( $(date +%s) + timeout_s ))
while :; do
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
  if [ -n "$ids" ]; then
    pending=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids \
      | awk '$3 != "healthy" {print $1 "(" $2 "/" $3 ")"}')
    [ -z "$pending" ] && exit 0
  else
    pending="(no containers)"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "up: not healthy after ${timeout_s}s: $pending" >&2
    for id in $ids; do
      docker inspect -f '{{.Name}}: {{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$id" | tail -n 3 >&2
    done
    exit 1
  fi
  sleep 1
done
