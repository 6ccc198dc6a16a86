#!/usr/bin/env bash
# wait-ready.sh COMPOSE_PROJECT DNS_PORT AUTH_PORT TIMEOUT_S — until the stack serves: every container
# of the project running (none restarting or exited) and the endpoint answering with addresses, which
# needs the whole path (planner, enactors, dns-admin, CoreDNS) working. It asks the authoritative view
# (AUTH_PORT) until then, and the resolver (DNS_PORT) only once it can answer: asking the resolver
# earlier would make it cache the early empty answer for the SOA TTL (15 s), and keep serving it.
# Docker's own health (`make ps`) follows within a healthcheck interval (30 s).
#
# Bounded, and it does not wait for what cannot come: on timeout it names what is not ready; and when
# an enactor is restarting, it asks the lab's state (dnsrace_lab.stack.state, at most every STATE_EVERY_S):
# in an outage (the endpoint aliases a deleted plan, enactors crash-looping) no waiting will end it, so
# it prints that state (the endpoint, the crash, the way out) and exits 4 at once. The other ports
# the state check needs come from DNSRACE_* in the environment, as for compose.
set -euo pipefail
project=$1 port=$2 auth_port=$3 timeout_s=${4:-120}
endpoint=dynamodb.us-east-1.lab.test
here=$(cd "$(dirname "$0")/.." && pwd)
deadline=$(( $(date +%s) + timeout_s ))
state_every_s=5 state_asked_at=0 loop_restarts=3
declare -A restarts_at_start=()
while :; do
  ids=$(timeout 20 docker ps -aq --filter "label=com.docker.compose.project=$project")
  if [ -n "$ids" ]; then
    states=$(timeout 20 docker inspect -f '{{.Name}} {{.State.Status}} {{.RestartCount}}' $ids)
    pending=$(awk '$2 != "running" {sub("^/", "", $1); print $1 "(" $2 ")"}' <<<"$states")
    # A container that keeps dying will not become ready by waiting: name it, show why, stop.
    while read -r name status count; do
      [ -n "${restarts_at_start[$name]+x}" ] || restarts_at_start[$name]=$count
      if [ $(( count - restarts_at_start[$name] )) -ge "$loop_restarts" ] && [ "$status" != running ] \
         && ! [[ $name =~ [-_]enactor-[abc][-_] ]]; then
        echo "up: ${name#/} is crash-looping ($count restarts); its last lines:" >&2
        timeout 20 docker logs --tail 8 "${name#/}" 2>&1 | sed 's/^/    /' >&2
        exit 1
      fi
    done <<<"$states"
  else
    states="" pending="(no containers)"
  fi
  if grep -q -e '[-_]enactor-[abc][-_][0-9]* restarting ' <<<"$states" \
     && [ $(( $(date +%s) - state_asked_at )) -ge "$state_every_s" ]; then
    state_asked_at=$(date +%s) code=0
    line=$(PYTHONPATH="$here/services/common:$here/services/lab" /usr/bin/python3 -m dnsrace_lab.stack.state \
           --project "$project" 2>&1) || code=$?
    if [ "$code" -eq 15 ]; then  # outage
      echo "$line" >&2
      echo "up: the enactors crash-loop on a deleted plan; waiting will not make the endpoint answer" >&2
      exit 4
    fi
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
