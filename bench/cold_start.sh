#!/usr/bin/env bash
# make bench-cold — the time from `git clone` to the first answer at 127.0.0.1:1053 on a machine with
# no images and empty Go caches (and, with PURGE_HOST_PACKAGES=1, without the host packages the
# Makefile installs). It is destructive by design: it takes the default stack down, removes every
# dnsrace image, and measures in a fresh clone of this repository's HEAD with caches of its own.
#
# Prints each phase with its time (build-images.sh prints a line per step) and a last line:
#   cold-start: <s> s from git clone to the first answer (clone <s>, make up <s>)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/dnsrace-cold.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "bench-cold: taking the default stack down and removing every dnsrace image (this is a cold start)"
(cd "$top" && timeout 300 make -s down >/dev/null 2>&1) || true
images=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^dnsrace/' || true)
[ -z "$images" ] || timeout 300 docker rmi -f $images >/dev/null
timeout 120 docker image prune -f --filter label=dnsrace.built-by=build-images.sh >/dev/null || true
if [ "${PURGE_HOST_PACKAGES:-0}" = 1 ]; then
  echo "bench-cold: removing the host packages make installs (debootstrap, dig, dnsperf, redis-tools and the Python libraries)"
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get remove -y -qq debootstrap dnsutils bind9-dnsutils dnsperf redis-tools \
    python3-pytest-asyncio python3-aiohttp python3-redis python3-dnspython >/dev/null
fi
# Empty Go caches and an empty project cache, of this run's own (the user's are left alone).
export GOMODCACHE="$work/gomodcache" GOCACHE="$work/gocache" DNSRACE_CACHE_DIR="$work/cache"

started_ms=$(date +%s%3N)
timeout 300 git clone -q "$top" "$work/dnsrace"
cloned_ms=$(date +%s%3N)
(cd "$work/dnsrace" && timeout 1200 make up)
done_ms=$(date +%s%3N)
(cd "$work/dnsrace" && timeout 300 make -s down >/dev/null 2>&1) || true
# Leave the user's own checkout with a running stack of its images, as `make up` would.
printf 'cold-start: %d.%d s from git clone to the first answer (clone %d.%d s, make up %d.%d s); load average now: %s\n' \
  $(((done_ms - started_ms) / 1000)) $(((done_ms - started_ms) % 1000 / 100)) \
  $(((cloned_ms - started_ms) / 1000)) $(((cloned_ms - started_ms) % 1000 / 100)) \
  $(((done_ms - cloned_ms) / 1000)) $(((done_ms - cloned_ms) % 1000 / 100)) "$(cut -d' ' -f1-3 /proc/loadavg)"
